//! Whether a step the teacher asks for can happen, decided from the model:
//! a process that has exited has no step left, and one blocked in the
//! kernel (waiting for a lock it asked for, or on a queue) moves when the
//! kernel wakes it, not by a permit. The dashboard says so instead of
//! doing nothing.

use crate::model::{Activity, Model, Proc, QueueOp};
use crate::protocol::Pid;
use crate::scenario::texts::who;
use crate::scenario::Texts;

/// What a step will do.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Ask the pacer for it, and say this first, if anything.
    Go(Option<String>),
    /// It cannot happen: say why and ask nothing.
    Refuse(String),
}

/// Whether `p` is blocked in the kernel: waiting for a lock it asked for,
/// or on a queue. No permit moves it; the kernel wakes it.
pub fn blocked(p: &Proc) -> bool {
    p.alive()
        && p.at_gate.is_none()
        && matches!(
            p.activity,
            Activity::WaitingForLock(_) | Activity::Blocked(_)
        )
}

/// A step of any one process (`n`).
pub fn any(texts: &Texts, model: &Model) -> Plan {
    if model.ended {
        return Plan::Refuse(texts.say("step_ended", &[]));
    }
    if model.waiting_at_gates() > 0 {
        return Plan::Go(None);
    }
    let blocked = model.procs.iter().filter(|p| blocked(p)).count();
    Plan::Go(Some(
        texts.say("step_none_at_gate", &[("blocked", &blocked)]),
    ))
}

/// A step of the selected process (Enter).
pub fn selected(texts: &Texts, model: &Model, selected: Option<Pid>) -> Plan {
    let Some(p) = selected.and_then(|pid| model.proc(pid)) else {
        return Plan::Refuse(texts.say("step_select_first", &[]));
    };
    let me = who(texts, model, p.pid);
    if p.role == "forkserver" {
        return Plan::Refuse(texts.say("step_forkserver", &[("who", &me)]));
    }
    if !p.alive() {
        return Plan::Refuse(texts.say("step_exited", &[("who", &me)]));
    }
    if blocked(p) {
        let holds = |pid: Option<Pid>| match pid.and_then(|pid| model.proc(pid)) {
            Some(h) => {
                let key = if h.alive() {
                    "step_holder_alive"
                } else {
                    "step_holder_dead"
                };
                texts.say(key, &[("holder", &who(texts, model, h.pid))])
            }
            None => texts.say("step_holder_none", &[]),
        };
        let why = match &p.activity {
            Activity::WaitingForLock(lock) => {
                let holds = holds(model.locks.get(lock.as_str()).and_then(|l| l.holder));
                texts.say("step_waits_for_lock", &[("lock", lock), ("holds", &holds)])
            }
            Activity::Blocked(QueueOp::Put) => texts.say("step_blocked_put", &[]),
            _ => texts.say("step_blocked_get", &[]),
        };
        return Plan::Refuse(texts.say("step_blocked", &[("who", &me), ("why", &why)]));
    }
    if p.at_gate.is_none() {
        let doing = super::view::procs_doing(texts, p);
        return Plan::Go(Some(
            texts.say("step_not_at_gate", &[("who", &me), ("doing", &doing)]),
        ));
    }
    Plan::Go(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Body, Event};
    use crate::scenario::texts::common;

    fn model() -> Model {
        let mut m = Model::new();
        let mut t = 0;
        let mut at = |m: &mut Model, pid, body| {
            t += 1;
            m.apply(&Event::new(t, Some(pid), body));
        };
        for (pid, slot) in [(10, 0), (11, 1), (12, 2), (13, 3), (14, 4)] {
            at(
                &mut m,
                pid,
                Body::Spawn {
                    name: format!("p-{slot}"),
                    role: "buyer".into(),
                    slot,
                    ppid: 1,
                },
            );
        }
        let lock = || crate::protocol::Name::from("tickets");
        at(&mut m, 10, Body::LockWait { lock: lock() });
        at(&mut m, 10, Body::LockAcquire { lock: lock() });
        at(&mut m, 11, Body::LockWait { lock: lock() });
        at(
            &mut m,
            12,
            Body::Blocked {
                queue: "q".into(),
                op: "get".into(),
            },
        );
        at(&mut m, 13, Body::Exit { exitcode: 0 });
        at(
            &mut m,
            14,
            Body::Ready {
                action: "read_file".into(),
            },
        );
        m
    }

    fn refused(plan: Plan) -> String {
        match plan {
            Plan::Refuse(why) => why,
            go => panic!("expected a refusal, got {go:?}"),
        }
    }

    #[test]
    fn a_step_of_a_process_that_cannot_move_says_why() {
        let m = model();
        let why = refused(selected(common(), &m, Some(11)));
        assert!(
            why.contains("p-1 (PID 11) waits in the kernel for the lock tickets"),
            "{why}"
        );
        assert!(why.contains("p-0 (PID 10) holds"), "{why}");
        let why = refused(selected(common(), &m, Some(12)));
        assert!(
            why.contains("blocked in the kernel getting from an empty queue"),
            "{why}"
        );
        let why = refused(selected(common(), &m, Some(13)));
        assert!(why.contains("p-3 (PID 13) has exited"), "{why}");
        assert!(refused(selected(common(), &m, None)).contains("Select a process first"));
        // At the gate, it goes; holding the lock and busy, it goes when it gets there.
        assert_eq!(selected(common(), &m, Some(14)), Plan::Go(None));
        assert!(
            matches!(selected(common(), &m, Some(10)), Plan::Go(Some(note)) if note.contains("not at the gate"))
        );
    }

    #[test]
    fn a_step_when_nobody_is_at_the_gate_says_who_is_blocked() {
        let mut m = model();
        assert_eq!(any(common(), &m), Plan::Go(None));
        m.apply(&Event::new(99, Some(14), Body::Exit { exitcode: 0 }));
        match any(common(), &m) {
            Plan::Go(Some(note)) => assert!(note.contains("2 blocked in the kernel"), "{note}"),
            other => panic!("{other:?}"),
        }
        m.apply(&Event::new(100, None, Body::End));
        assert!(refused(any(common(), &m)).contains("The run has ended"));
    }

    #[test]
    fn every_answer_to_a_step_is_in_the_texts_with_its_holes_filled() {
        use crate::scenario::texts::tests::unfinished;
        let mut m = model();
        let said = |plan: Plan| match plan {
            Plan::Refuse(why) | Plan::Go(Some(why)) => Some(why),
            Plan::Go(None) => None,
        };
        let mut answers: Vec<String> = [None, Some(10), Some(11), Some(12), Some(13), Some(14)]
            .into_iter()
            .filter_map(|pid| said(selected(common(), &m, pid)))
            .collect();
        // The lock's holder dead, and the lock free.
        m.apply(&Event::new(97, Some(10), Body::Exit { exitcode: -9 }));
        answers.extend(said(selected(common(), &m, Some(11))));
        m.apply(&Event::new(
            98,
            Some(10),
            Body::LockRelease {
                lock: "tickets".into(),
            },
        ));
        answers.extend(said(selected(common(), &m, Some(11))));
        let put = Body::Blocked {
            queue: "q".into(),
            op: "put".into(),
        };
        m.apply(&Event::new(98, Some(12), put));
        answers.extend(said(selected(common(), &m, Some(12))));
        m.apply(&Event::new(99, Some(14), Body::Exit { exitcode: 0 }));
        answers.extend(said(any(common(), &m)));
        m.apply(&Event::new(100, None, Body::End));
        answers.extend(said(any(common(), &m)));
        assert_eq!(answers.len(), 10, "{answers:#?}");
        for why in answers {
            assert!(!unfinished(&why), "{why}");
        }
    }
}
