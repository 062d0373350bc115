// Shared by the benches: a realistic ticket run as events, built in memory.

use mpviz::protocol::{Body, Event, Outcome, Pid};

/// The events of a run of `buyers` buyers with a lock, in a plausible order:
/// `done` of them finish, the rest are at a gate or waiting for the lock.
pub fn ticket_stream(buyers: u32, done: u32) -> Vec<Event> {
    let mut events = Vec::new();
    let mut t = 0u64;
    let mut push = |pid: Option<Pid>, body: Body| {
        t += 1_000;
        events.push(Event::new(t, pid, body));
    };
    push(
        None,
        Body::Start {
            scenario: "ticket".into(),
            seed: 1,
            parent_pid: 1,
            params: serde_json::json!({"buyers": buyers}),
        },
    );
    push(
        Some(2),
        Body::Spawn {
            name: "fork server".into(),
            role: "forkserver".into(),
            slot: 0,
            ppid: 1,
        },
    );
    let lock = || "tickets".to_string();
    let file = || "tickets.json".to_string();
    let mut left = 100i64;
    for slot in 0..buyers {
        let pid = Some(10_000 + slot as Pid);
        push(
            pid,
            Body::Spawn {
                name: format!("buyer-{slot}"),
                role: "buyer".into(),
                slot,
                ppid: 2,
            },
        );
        push(pid, Body::State { state: 'S' });
        push(
            pid,
            Body::Ready {
                action: "take the lock".into(),
            },
        );
        if slot >= done {
            if slot % 2 == 0 {
                push(pid, Body::LockWait { lock: lock() });
            }
            continue;
        }
        push(pid, Body::LockWait { lock: lock() });
        push(pid, Body::LockAcquire { lock: lock() });
        push(
            pid,
            Body::Ready {
                action: "read the file".into(),
            },
        );
        push(
            pid,
            Body::Read {
                file: file(),
                value: Some(left),
                text: format!("{{\"count\":{left}}}"),
            },
        );
        if left > 0 {
            push(pid, Body::Sleep { ms: 3 });
            push(pid, Body::Truncate { file: file() });
            push(
                pid,
                Body::Write {
                    file: file(),
                    value: Some(left - 1),
                    bytes: None,
                },
            );
            push(
                None,
                Body::File {
                    file: file(),
                    content: format!("{{\"count\":{}}}", left - 1),
                },
            );
            push(
                pid,
                Body::Outcome {
                    result: Outcome::Success,
                },
            );
            left -= 1;
        } else {
            push(
                pid,
                Body::Outcome {
                    result: Outcome::Fail,
                },
            );
        }
        push(pid, Body::LockRelease { lock: lock() });
        push(pid, Body::Exit { exitcode: 0 });
    }
    push(
        None,
        Body::Pace {
            paused: true,
            speed: Some(10.0),
        },
    );
    events
}
