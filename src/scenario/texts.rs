//! The sentences that explain events, as data.
//!
//! A text is a template with `{name}`-style holes; [`Texts::explain`] picks the
//! template for an event (by its kind and, where it matters, what happened)
//! and fills the holes from the event and the model.

use std::collections::HashMap;

use serde::Deserialize;

use crate::model::{LogEntry, Model};
use crate::protocol::{Body, Event, Outcome};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Texts(HashMap<String, String>);

impl Texts {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The key of the template that explains `ev`.
    pub fn key_for(ev: &Event, model: &Model) -> String {
        let pid = ev.pid;
        match &ev.body {
            Body::Spawn { role, .. } => format!("spawn_{role}"),
            Body::LockWait { lock } => {
                let held = model
                    .locks
                    .get(lock)
                    .and_then(|l| l.holder)
                    .is_some_and(|h| Some(h) != pid);
                if held { "lock_wait_held" } else { "lock_wait" }.into()
            }
            Body::Read { value: None, .. } => "read_torn".into(),
            Body::Write { .. } => {
                let lost = pid
                    .and_then(|p| model.proc(p))
                    .is_some_and(|p| p.overwrote.is_some());
                if lost { "write_lost" } else { "write" }.into()
            }
            Body::Outcome { result } => format!("outcome_{}", result.as_str()),
            Body::LockAcquire { lock }
                if model
                    .locks
                    .get(lock)
                    .and_then(|l| l.taken_after_death)
                    .is_some_and(|taken| Some(taken.by) == pid) =>
            {
                "lock_acquire_after_death".into()
            }
            Body::ProcessCall {
                exitcode: Some(_), ..
            } => "process_call_reaped".into(),
            Body::ProcessCall {
                alive: Some(true), ..
            } => "process_call_still_running".into(),
            Body::Put { .. } if pid.is_some() && pid == model.parent_pid => "put_stop".into(),
            Body::Get { queue, item, .. }
                if model
                    .queues
                    .get(queue)
                    .is_some_and(|q| q.parent_items.contains(item)) =>
            {
                "get_stop".into()
            }
            Body::Blocked { op, .. } => format!("blocked_{op}"),
            Body::TaskDone { ok: false, .. } => "task_failed".into(),
            Body::Callback { ok: true, .. } => "callback_ok".into(),
            Body::Callback { .. } => "callback_error".into(),
            Body::ResultWait { expired: true, .. } => "result_wait_expired".into(),
            Body::ResultGet { ok: false, .. } => "result_get_error".into(),
            Body::Exit { exitcode } => match exitcode {
                0 => "exit_ok",
                c if *c > 0 => "exit_error",
                _ => "exit_signal",
            }
            .into(),
            Body::File { content, .. } if content.trim().is_empty() => "file_empty".into(),
            Body::Pace { paused: true, .. } => "pace_paused".into(),
            Body::Pace { speed: None, .. } => "pace_max".into(),
            Body::Pace { .. } => "pace_running".into(),
            _ => ev.kind().into(),
        }
    }

    /// The sentence for a log entry: a moment has its own text where the
    /// scenario gives one (`outcome_success_oversold`), else the event's.
    pub fn explain_entry(&self, entry: &LogEntry, model: &Model) -> Option<String> {
        let ev = &entry.event;
        let moment = entry
            .moment
            .map(|m| format!("{}_{}", Self::key_for(ev, model), m.as_str()))
            .and_then(|key| self.get(&key));
        match moment {
            Some(template) => Some(fill(template, |hole| hole_value(hole, ev, model))),
            None => self.explain(ev, model),
        }
    }

    /// The sentence for `ev`, or `None` if the scenario has none for it.
    pub fn explain(&self, ev: &Event, model: &Model) -> Option<String> {
        let key = Self::key_for(ev, model);
        // An exit may have a text for its role (a thread ends, it is not reaped).
        let by_role = matches!(ev.body, Body::Exit { .. })
            .then(|| ev.pid.and_then(|p| model.proc(p)))
            .flatten()
            .and_then(|p| self.get(&format!("{key}_{}", p.role)));
        // A call may have a text of its own ("call run()").
        let by_call = match &ev.body {
            Body::ProcessCall { call, .. } => self.get(&format!("call {call}")),
            _ => None,
        };
        let template = by_role.or(by_call).or_else(|| self.get(&key)).or_else(|| {
            // A role without its own spawn text uses the general one, and a
            // case without its own text (`file_empty`) its kind's.
            key.starts_with("spawn_")
                .then(|| self.get("spawn"))
                .flatten()
                .or_else(|| self.get(ev.kind()))
        })?;
        Some(fill(template, |hole| hole_value(hole, ev, model)))
    }
}

fn hole_value(hole: &str, ev: &Event, model: &Model) -> Option<String> {
    let proc = ev.pid.and_then(|p| model.proc(p));
    let lock_name = match &ev.body {
        Body::LockWait { lock } | Body::LockAcquire { lock } | Body::LockRelease { lock } => {
            Some(lock.as_str())
        }
        _ => None,
    };
    let lock = lock_name.and_then(|l| model.locks.get(l));
    let who = |pid: crate::protocol::Pid| match model.proc(pid) {
        // A thread's id is not a process's: `ps -p` does not find it.
        Some(p) if p.role == crate::worker::THREAD_ROLE => format!("{} (TID {pid})", p.name),
        Some(p) => format!("{} (PID {pid})", p.name),
        None => format!("PID {pid}"),
    };
    Some(match hole {
        "pid" => ev.pid?.to_string(),
        "name" => proc.map_or_else(|| "a process".into(), |p| p.name.clone()),
        "who" => who(ev.pid?),
        "lock" => lock_name?.to_string(),
        "holder" => lock?.holder.map_or_else(|| "nobody".into(), who),
        "waiters" => lock?.waiters.len().to_string(),
        "value" => match &ev.body {
            Body::Deadlock { value, .. } => value.to_string(),
            Body::Read { value, .. } => value.map_or_else(|| "nothing".into(), |v| v.to_string()),
            Body::Qsize { value, .. } => value.to_string(),
            Body::Write { value, bytes, .. } => match (value, bytes) {
                (Some(v), _) => v.to_string(),
                (None, Some(b)) => format!("{b:?}"),
                (None, None) => return None,
            },
            _ => return None,
        },
        "text" => match &ev.body {
            Body::Read { text, .. } => format!("{text:?}"),
            _ => return None,
        },
        "file" => match &ev.body {
            Body::Read { file, .. }
            | Body::Write { file, .. }
            | Body::Truncate { file }
            | Body::File { file, .. } => file.clone(),
            _ => return None,
        },
        "content" => match &ev.body {
            Body::File { content, .. } => content.clone(),
            _ => return None,
        },
        "task" => match &ev.body {
            Body::TaskSubmit { task }
            | Body::TaskStart { task }
            | Body::TaskDone { task, .. }
            | Body::Callback { task, .. }
            | Body::ResultGet { task, .. }
            | Body::ResultWait { task, .. } => task.to_string(),
            _ => return None,
        },
        "tid" => match &ev.body {
            Body::Callback { tid, .. } => tid.to_string(),
            _ => return None,
        },
        "returned" => match &ev.body {
            Body::TaskDone { result, .. }
            | Body::Callback { result, .. }
            | Body::ResultGet { result, .. } => (*result)?.to_string(),
            _ => return None,
        },
        "error_type" => match &ev.body {
            Body::TaskDone { error_type, .. }
            | Body::Callback { error_type, .. }
            | Body::ResultGet { error_type, .. } => error_type.clone()?,
            _ => return None,
        },
        "error" => match &ev.body {
            Body::TaskDone { error, .. }
            | Body::Callback { error, .. }
            | Body::ResultGet { error, .. } => error.clone()?,
            _ => return None,
        },
        "parsed" => match &ev.body {
            Body::Callback { parsed, .. } => parsed.clone()?,
            _ => return None,
        },
        "workers" => match &ev.body {
            Body::PoolJoined { workers } => workers.len().to_string(),
            _ => return None,
        },
        "thread" => match &ev.body {
            Body::Callback { thread, .. } => thread.clone(),
            _ => return None,
        },
        "timeout_ms" => match &ev.body {
            Body::ResultWait { timeout_ms, .. } => timeout_ms.to_string(),
            _ => return None,
        },
        "call" => match &ev.body {
            Body::PoolCall { call } | Body::ProcessCall { call, .. } => call.clone(),
            _ => return None,
        },
        "item" => match &ev.body {
            Body::Put { item, .. } | Body::Get { item, .. } | Body::Full { item, .. } => {
                item.to_string()
            }
            _ => return None,
        },
        "depth" => match &ev.body {
            Body::Put { depth, .. } | Body::Get { depth, .. } | Body::QueueDepth { depth, .. } => {
                depth.to_string()
            }
            _ => return None,
        },
        "ms" => match &ev.body {
            Body::Sleep { ms } => ms.to_string(),
            _ => return None,
        },
        "code" => match &ev.body {
            Body::Exit { exitcode }
            | Body::ProcessCall {
                exitcode: Some(exitcode),
                ..
            } => exitcode.to_string(),
            _ => return None,
        },
        "dead" => match &ev.body {
            Body::LockAcquire { .. } => lock?.taken_after_death.map(|taken| who(taken.dead))?,
            _ => return None,
        },
        "signal" => match &ev.body {
            Body::Exit { exitcode } if *exitcode < 0 => signal_name(-exitcode),
            _ => return None,
        },
        "action" => match &ev.body {
            Body::Ready { action } => action.clone(),
            _ => return None,
        },
        "speed" => match &ev.body {
            Body::Pace { speed, .. } => speed.map_or_else(|| "max".into(), format_speed),
            _ => return None,
        },
        "lost_pid" => proc?.overwrote.map(who)?,
        "message" => match &ev.body {
            Body::Error { message } => message.clone(),
            _ => return None,
        },
        "request" => match &ev.body {
            Body::Request { op, key, value } | Body::Served { op, key, value, .. } => {
                super::manager::request(op, *key, *value)
            }
            _ => return None,
        },
        "client" => match &ev.body {
            Body::Served { client, .. } => who(*client),
            _ => return None,
        },
        "dict_len" => match &ev.body {
            Body::Served { dict_len, .. } => dict_len.to_string(),
            _ => return None,
        },
        "list_len" => match &ev.body {
            Body::Served { list_len, .. } => list_len.to_string(),
            _ => return None,
        },
        "len" => match &ev.body {
            Body::PlainSet { len, .. } | Body::PlainRead { len } => len.to_string(),
            _ => return None,
        },
        "result" => match &ev.body {
            Body::ProcessCall { result, .. } => result.to_string(),
            _ => return None,
        },
        "lock_kind" => match &ev.body {
            Body::LockMade { lock_kind, .. } => lock_kind.clone(),
            _ => return None,
        },
        "holder_who" => match &ev.body {
            Body::Deadlock { holder, .. } => who(*holder),
            _ => return None,
        },
        "stuck" => match &ev.body {
            Body::Deadlock { waiters, .. } => waiters
                .iter()
                .map(|&w| who(w))
                .collect::<Vec<_>>()
                .join(" and "),
            _ => return None,
        },
        "seen" => match &ev.body {
            Body::Deadlock { seen, .. } => seen
                .iter()
                .map(|s| {
                    format!(
                        "PID {}: state {}, wchan {}, syscall {}",
                        s.pid, s.state, s.wchan, s.syscall
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => return None,
        },
        "state" => match &ev.body {
            Body::State { state } => state.to_string(),
            _ => return None,
        },
        "role" => proc?.role.clone(),
        "ppid" => proc?.ppid.to_string(),
        "sold" => model.procs.outcomes.success.to_string(),
        "tickets" => model.params.get("tickets")?.to_string(),
        _ => return None,
    })
}

pub fn format_speed(per_second: f64) -> String {
    if per_second >= 1.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("1 per {:.0} s", 1.0 / per_second)
    }
}

pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// `n` and the word for `n` things: "1 ticket", "2 tickets".
pub fn counted(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let word = if n.trim_start_matches('-') == "1" {
        one
    } else {
        many
    };
    format!("{n} {word}")
}

/// Replaces each `{hole}` with its value; unknown holes stay as they are.
/// `{name|one|many}` is the word for the number `name` holds: `one` for 1
/// (or -1), `many` otherwise ("{sold} {sold|ticket was|tickets were} sold").
fn fill(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut value = |hole: &str| match hole.split_once('|') {
        Some((name, words)) => {
            let (one, many) = words.split_once('|')?;
            let n = value(name)?;
            Some(
                if n.trim_start_matches('-') == "1" {
                    one
                } else {
                    many
                }
                .to_string(),
            )
        }
        None => value(hole),
    };
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let hole = &after[..close];
                match value(hole) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(hole);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// An outcome in words, for tables.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "got a ticket",
        Outcome::Fail => "sold out",
        Outcome::TornRead => "torn read",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_says_its_word_in_the_singular_for_one() {
        let value = |h: &str| match h {
            "one" => Some("1".to_string()),
            "two" => Some("2".to_string()),
            _ => None,
        };
        let s = fill(
            "{one} {one|ticket|tickets}, {two} {two|ticket|tickets}",
            value,
        );
        assert_eq!(s, "1 ticket, 2 tickets");
        assert_eq!(counted(1, "chunk", "chunks"), "1 chunk");
        assert_eq!(counted("3", "consumer", "consumers"), "3 consumers");
    }

    #[test]
    fn holes_are_filled_and_unknown_ones_kept() {
        let s = fill("{a} and {b} and {", |h| (h == "a").then(|| "A".to_string()));
        assert_eq!(s, "A and {b} and {");
    }

    #[test]
    fn a_wait_on_a_held_lock_names_the_holder() {
        let spec = crate::scenario::spec("ticket").unwrap();
        let mut m = Model::new();
        for (pid, slot) in [(10, 0), (11, 1)] {
            m.apply(&Event::new(
                0,
                Some(pid),
                Body::Spawn {
                    name: format!("buyer-{slot}"),
                    role: "buyer".into(),
                    slot,
                    ppid: 1,
                },
            ));
        }
        let lock = "tickets".to_string();
        m.apply(&Event::new(
            1,
            Some(10),
            Body::LockAcquire { lock: lock.clone() },
        ));
        let wait = Event::new(2, Some(11), Body::LockWait { lock });
        m.apply(&wait);
        assert_eq!(Texts::key_for(&wait, &m), "lock_wait_held");
        let text = spec.texts.explain(&wait, &m).unwrap();
        assert!(text.contains("buyer-0 (PID 10)"), "{text}");
        assert!(text.contains("buyer-1"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn lifecycle_texts_phrase_the_data_of_calls_deadlocks_and_a_lock_let_go() {
        use crate::protocol::{PyValue, SeenBlocked};
        let spec = crate::scenario::spec("lifecycle").unwrap();
        let mut m = Model::new();
        let lock = || "lock".to_string();
        let say = |m: &mut Model, e: Event| {
            m.apply(&e);
            let text = spec.texts.explain(&e, m).unwrap();
            assert!(!text.contains('{'), "{text}");
            text
        };
        for (pid, name, role) in [
            (40, "main", "main"),
            (41, "holder", "holder"),
            (42, "waiter-1", "waiter"),
            (43, "o", "worker"),
        ] {
            let spawn = Body::Spawn {
                name: name.into(),
                role: role.into(),
                slot: 0,
                ppid: 1,
            };
            m.apply(&Event::new(0, Some(pid), spawn));
        }
        let joined = say(
            &mut m,
            Event::new(
                1,
                Some(40),
                Body::ProcessCall {
                    call: "h.join()".into(),
                    target: Some(41),
                    result: PyValue::None,
                    timeout_ms: None,
                    alive: Some(false),
                    exitcode: Some(-15),
                },
            ),
        );
        assert!(joined.contains("h.join() → None"), "{joined}");
        assert!(joined.contains("exit code -15"), "{joined}");
        let returned = say(
            &mut m,
            Event::new(
                1,
                Some(43),
                Body::ProcessCall {
                    call: "run()".into(),
                    target: None,
                    result: PyValue::None,
                    timeout_ms: None,
                    alive: None,
                    exitcode: None,
                },
            ),
        );
        assert!(
            returned.contains("joins its non-daemon children"),
            "{returned}"
        );
        m.apply(&Event::new(2, Some(41), Body::LockAcquire { lock: lock() }));
        m.apply(&Event::new(2, Some(42), Body::LockWait { lock: lock() }));
        m.apply(&Event::new(3, Some(41), Body::Exit { exitcode: -15 }));
        let seen = SeenBlocked {
            pid: 42,
            state: 'S',
            wchan: "futex_do_wait".into(),
            syscall: "202 0x7f0000001000".into(),
        };
        let deadlock = Event::new(
            4,
            Some(40),
            Body::Deadlock {
                lock: lock(),
                holder: 41,
                waiters: vec![42],
                value: 0,
                seen: vec![seen],
            },
        );
        let text = say(&mut m.clone(), deadlock);
        assert!(text.contains("value is 0"), "{text}");
        assert!(text.contains("holder (PID 41) is dead"), "{text}");
        assert!(
            text.contains("PID 42: state S, wchan futex_do_wait"),
            "{text}"
        );
        // Not a deadlock but an flock: the next waiter takes it.
        let taken = say(
            &mut m,
            Event::new(5, Some(42), Body::LockAcquire { lock: lock() }),
        );
        assert!(
            taken.contains("let go of the flock when its holder holder (PID 41) died"),
            "{taken}"
        );
    }
}
