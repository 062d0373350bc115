//! `mpviz rerun FILE`: a recorded run again, on fresh processes, its pacer
//! granting the permits in the recording's order ([`plan_of`]).

use std::collections::{HashMap, VecDeque};

use crate::engine::schedule::{Planned, Schedule};
use crate::model::Model;
use crate::protocol::{Act, Body, Event, Pid, PyValue};

/// The plan a rerun follows: each permit the recording's pacer granted
/// (`grant` events, by gate slot), with what the process waited to do (its
/// `ready` before it). Where the recording was not paced (`max`), no permit
/// was granted: each action is then a step, marked inexact, in the order of
/// the actions' stamps (the stream's order there is each process's batch of
/// reports after another's). A value of an action that is a PID of the
/// recorded run (`d[os.getpid()]`) is left out: the rerun's PIDs differ.
/// `parent_slot` is the main process's gate.
pub fn plan_of<'a>(events: impl IntoIterator<Item = &'a Event>, parent_slot: u32) -> Schedule {
    let mut model = Model::new();
    let mut slots: HashMap<Pid, u32> = HashMap::new();
    let mut asked: HashMap<u32, Act> = HashMap::new();
    // Per slot: actions seen, permits seen, and the steps made from actions
    // not (yet) known to have had a permit (a grant goes straight from the
    // pacer to the stream, so it may come after the action it let happen).
    let mut acted: HashMap<u32, u64> = HashMap::new();
    let mut granted: HashMap<u32, u64> = HashMap::new();
    let mut unpermitted: HashMap<u32, VecDeque<usize>> = HashMap::new();
    let mut pids: std::collections::HashSet<Pid> = std::collections::HashSet::new();
    let mut steps: Vec<Planned> = Vec::new();
    let mut spawn_order: Vec<u32> = Vec::new();
    // The stamp of each step's action (or grant).
    let mut stamps: Vec<u64> = Vec::new();
    for event in events {
        let actions = model.actions;
        model.apply(event);
        let pid = event.pid;
        let slot = match (&event.body, pid) {
            (Body::Spawn { slot, role, .. }, Some(p)) => {
                slots.insert(p, *slot);
                // As the pacer counts them: not mpviz's own fork server.
                if role != "forkserver" {
                    spawn_order.push(*slot);
                }
                pids.insert(p);
                continue;
            }
            (_, Some(p)) if Some(p) == model.parent_pid => Some(parent_slot),
            (_, Some(p)) => slots.get(&p).copied(),
            (_, None) => None,
        };
        match &event.body {
            Body::Ready { action } => {
                if let Some(slot) = slot {
                    pids.extend(model.parent_pid);
                    asked.insert(slot, without_pids(action, &pids));
                }
            }
            Body::Grant { slot, .. } => {
                *granted.entry(*slot).or_default() += 1;
                let action = asked.remove(slot);
                match unpermitted.get_mut(slot).and_then(VecDeque::pop_front) {
                    Some(at) => {
                        steps[at].exact = true;
                        steps[at].action = action;
                    }
                    None => {
                        steps.push(Planned {
                            slot: *slot,
                            action,
                            exact: true,
                        });
                        stamps.push(event.t_ns);
                    }
                }
            }
            _ if model.actions > actions => {
                let Some(slot) = slot else { continue };
                let n = acted.entry(slot).or_default();
                *n += 1;
                let free = !model.pace.paused && model.pace.speed.is_none();
                if free && *n > granted.get(&slot).copied().unwrap_or(0) {
                    unpermitted.entry(slot).or_default().push_back(steps.len());
                    steps.push(Planned {
                        slot,
                        action: None,
                        exact: false,
                    });
                    stamps.push(event.t_ns);
                }
            }
            _ => {}
        }
    }
    // Each run of inexact steps in the order of its stamps.
    let mut at = 0;
    while at < steps.len() {
        let end = (at..steps.len())
            .find(|&i| steps[i].exact)
            .unwrap_or(steps.len());
        if end > at {
            let mut run: Vec<(u64, Planned)> = stamps[at..end]
                .iter()
                .copied()
                .zip(steps[at..end].iter().cloned())
                .collect();
            run.sort_by_key(|(t, _)| *t);
            for (i, (_, step)) in run.into_iter().enumerate() {
                steps[at + i] = step;
            }
        }
        at = end + 1;
    }
    // A program paced by PID: each step names its process by the order it
    // spawned in.
    let by_spawn_order = model.scenario == "program";
    if by_spawn_order {
        for step in &mut steps {
            step.slot = spawn_order
                .iter()
                .position(|&s| s == step.slot)
                .map_or(u32::MAX, |i| i as u32);
        }
    }
    Schedule {
        steps,
        by_spawn_order,
    }
}

/// `action` without the values that are PIDs of the recorded run.
fn without_pids(action: &Act, pids: &std::collections::HashSet<Pid>) -> Act {
    let mut kept = action.clone();
    let a_pid = |n: i64| Pid::try_from(n).is_ok_and(|p| pids.contains(&p));
    kept.args.retain(|_, value| match value {
        PyValue::Int(n) => !a_pid(*n),
        // A call as Python writes it, naming one (`d[4242] = 4242`).
        PyValue::Str(text) => !text
            .split(|c: char| !c.is_ascii_digit())
            .any(|word| word.parse().is_ok_and(a_pid)),
        _ => true,
    });
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Name;

    fn ev(pid: Option<Pid>, body: Body) -> Event {
        Event::new(0, pid, body)
    }

    fn start() -> Vec<Event> {
        vec![
            ev(
                None,
                Body::Start {
                    scenario: "ticket".into(),
                    seed: 1,
                    parent_pid: 1,
                    params: serde_json::json!({}),
                },
            ),
            ev(
                Some(10),
                Body::Spawn {
                    name: "a".into(),
                    role: "buyer".into(),
                    slot: 0,
                    ppid: 1,
                },
            ),
            ev(
                Some(11),
                Body::Spawn {
                    name: "b".into(),
                    role: "buyer".into(),
                    slot: 1,
                    ppid: 1,
                },
            ),
        ]
    }

    fn pace(speed: Option<f64>) -> Event {
        ev(
            None,
            Body::Pace {
                paused: false,
                speed,
            },
        )
    }

    fn ready(pid: Pid, what: &str) -> Event {
        ev(
            Some(pid),
            Body::Ready {
                action: Act::new(what),
            },
        )
    }

    fn grant(pid: Pid, slot: u32) -> Event {
        ev(Some(pid), Body::Grant { slot, permit: 1 })
    }

    fn wait(pid: Pid) -> Event {
        ev(
            Some(pid),
            Body::LockWait {
                lock: Name::from("l"),
            },
        )
    }

    #[test]
    fn a_paced_recording_is_its_grants_with_what_each_process_asked() {
        let mut events = start();
        events.extend([
            pace(Some(10.0)),
            ready(10, "take"),
            ready(11, "take"),
            grant(11, 1),
            wait(11),
            // The grant may come after the action it let happen.
            wait(10),
            grant(10, 0),
        ]);
        let plan = plan_of(&events, 2);
        let slots: Vec<(u32, bool)> = plan.steps.iter().map(|s| (s.slot, s.exact)).collect();
        assert_eq!(slots, vec![(1, true), (0, true)]);
        assert_eq!(plan.steps[0].action, Some(Act::new("take")));
        assert!(plan.inexact().is_empty());
    }

    #[test]
    fn a_recording_without_pacing_is_its_actions_in_the_order_of_their_stamps() {
        let at = |t_ns, mut event: Event| {
            event.t_ns = t_ns;
            event
        };
        let mut events = start();
        // Process 11's reports came in one batch, before 10's.
        events.extend([
            pace(None),
            at(30, wait(11)),
            at(50, wait(11)),
            at(40, wait(10)),
        ]);
        let plan = plan_of(&events, 2);
        let slots: Vec<u32> = plan.steps.iter().map(|s| s.slot).collect();
        assert_eq!(slots, vec![1, 0, 1]);
        assert_eq!(plan.inexact(), vec![(1, 3)]);
    }

    #[test]
    fn an_action_at_full_speed_whose_grant_comes_after_it_is_one_exact_step() {
        // A rerun at `max` grants every step: a grant late in the stream
        // takes the place of the action it permitted.
        let mut events = start();
        events.extend([
            pace(None),
            ready(10, "take"),
            wait(10),
            ready(11, "take"),
            grant(11, 1),
            wait(11),
            grant(10, 0),
        ]);
        let plan = plan_of(&events, 2);
        let slots: Vec<(u32, bool)> = plan.steps.iter().map(|s| (s.slot, s.exact)).collect();
        assert_eq!(slots, vec![(0, true), (1, true)]);
    }
}
