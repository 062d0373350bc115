// Shared by the benches: the events of a ticket run, built in memory (never
// timed). Both shapes follow what a buyer reports in `scenario/ticket.rs`:
// spawn, gate, lock wait, acquire, read, sleep, truncate, write, outcome,
// release, a state sample, exit.
//
// Each bench includes this file as its own module and uses part of it.
#![allow(dead_code)]

use mpviz::protocol::{Body, Event, Outcome, Pid};

const LOCK: &str = "tickets";
const FILE: &str = "tickets.json";
/// The pid of mpviz itself in the synthetic run.
const PARENT: Pid = 1;

/// The pid of buyer `slot`.
pub fn buyer_pid(slot: u32) -> Pid {
    10_000 + slot as Pid
}

struct Stream {
    events: Vec<Event>,
    t_ns: u64,
    /// Whether the parent reports the file's content after each write.
    parent_reads: bool,
}

impl Stream {
    fn new(buyers: u32, tickets: i64, parent_reads: bool) -> Stream {
        let mut s = Stream {
            events: Vec::with_capacity(buyers as usize * 14 + 8),
            t_ns: 0,
            parent_reads,
        };
        s.push(
            None,
            Body::Start {
                scenario: "ticket".into(),
                seed: 1,
                parent_pid: PARENT,
                params: serde_json::json!({
                    "buyers": buyers,
                    "tickets": tickets,
                    "lock": true,
                    "delay_ms": 0,
                }),
            },
        );
        s
    }

    fn push(&mut self, pid: Option<Pid>, body: Body) {
        // A microsecond apart: a plausible pace for an unpaced run.
        self.t_ns += 1_000;
        self.events.push(Event::new(self.t_ns, pid, body));
    }

    fn spawn(&mut self, slot: u32) {
        self.push(
            Some(buyer_pid(slot)),
            Body::Spawn {
                name: format!("buyer-{slot}"),
                role: "buyer".into(),
                slot,
                ppid: PARENT,
            },
        );
    }

    fn ready(&mut self, slot: u32, action: &str) {
        self.push(
            Some(buyer_pid(slot)),
            Body::Ready {
                action: action.into(),
            },
        );
    }

    fn lock_wait(&mut self, slot: u32) {
        self.push(Some(buyer_pid(slot)), Body::LockWait { lock: LOCK.into() });
    }

    fn lock_acquire(&mut self, slot: u32) {
        self.push(
            Some(buyer_pid(slot)),
            Body::LockAcquire { lock: LOCK.into() },
        );
    }

    /// From holding the lock to being reaped. Returns the tickets left.
    fn buy_and_exit(&mut self, slot: u32, left: i64) -> i64 {
        let pid = Some(buyer_pid(slot));
        self.push(
            pid,
            Body::Read {
                file: FILE.into(),
                value: Some(left),
                text: format!("{{\"count\":{left}}}"),
                landed: None,
                reset: None,
            },
        );
        let left = if left > 0 {
            self.push(
                pid,
                Body::Sleep {
                    ms: u64::from(slot % 4),
                },
            );
            self.push(pid, Body::Truncate { file: FILE.into() });
            self.push(
                pid,
                Body::Write {
                    file: FILE.into(),
                    value: Some(left - 1),
                    bytes: None,
                    landed: None,
                },
            );
            if self.parent_reads {
                self.push(
                    None,
                    Body::File {
                        file: FILE.into(),
                        content: format!("{{\"count\":{}}}", left - 1),
                    },
                );
            }
            self.push(
                pid,
                Body::Outcome {
                    result: Outcome::Success,
                },
            );
            left - 1
        } else {
            self.push(
                pid,
                Body::Outcome {
                    result: Outcome::Fail,
                },
            );
            left
        };
        self.push(pid, Body::LockRelease { lock: LOCK.into() });
        self.push(pid, Body::State { state: 'S' });
        self.push(pid, Body::Exit { exitcode: 0 });
        left
    }
}

/// One buyer after another, each from spawn to exit: a start, then the
/// twelve events of each buyer (with `tickets >= buyers` every buyer buys,
/// so each one reports the whole sequence).
pub fn sequential(buyers: u32, tickets: i64) -> Vec<Event> {
    let mut s = Stream::new(buyers, tickets, false);
    let mut left = tickets;
    for slot in 0..buyers {
        s.spawn(slot);
        s.ready(slot, "take_lock");
        s.lock_wait(slot);
        s.lock_acquire(slot);
        left = s.buy_and_exit(slot, left);
    }
    s.events
}

/// What an unpaced run with many buyers looks like: every buyer is spawned
/// and queues for the lock before the first one gets it, so the lock's line
/// is long. The first `done` buyers then buy (or fail) and exit; if any are
/// left, the next one holds the lock and waits at its gate to read the file,
/// and of the rest every fourth is still at its gate and the others wait for
/// the lock. The buyers report what they do in [`sequential`], in a
/// different order, with a state sample while they wait; the parent also
/// reports the file's content after each write, as its sampler does.
pub fn contended(buyers: u32, tickets: i64, done: u32) -> Vec<Event> {
    let mut s = Stream::new(buyers, tickets, true);
    let at_gate = |slot: u32| slot > done && slot % 4 == 3;
    for slot in 0..buyers {
        s.spawn(slot);
    }
    for slot in 0..buyers {
        s.ready(slot, "take_lock");
    }
    for slot in (0..buyers).filter(|&slot| !at_gate(slot)) {
        s.lock_wait(slot);
        s.push(Some(buyer_pid(slot)), Body::State { state: 'S' });
    }
    let mut left = tickets;
    for slot in 0..done.min(buyers) {
        s.lock_acquire(slot);
        left = s.buy_and_exit(slot, left);
    }
    if done < buyers {
        s.lock_acquire(done);
        s.ready(done, "read_file");
    }
    s.events
}
