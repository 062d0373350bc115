//! The timeline's data: for each process, what it was doing from which
//! event on, derived from the events alone as they enter the history.
//!
//! A lane is a list of spans `(from event index, from stream time, Doing)`;
//! a span lasts until the next one. A timeline drawn for a cursor at `k`
//! events reads only the spans that start before `k` and the lanes spawned
//! before `k`, so a stepped-back timeline is the timeline of the prefix.
//!
//! What one process can be doing at once, and what is shown when several
//! apply (the first that applies wins):
//! 1. exited (its code; a joined thread has none), then nothing more;
//! 2. holding a lock (however many), whatever else it does meanwhile
//!    (sleeping, at the gate, waiting for a second lock): who holds the lock
//!    is what the others wait for;
//! 3. waiting for a lock, blocked on a queue, or sleeping (one at a time:
//!    each ends at the process's next event);
//! 4. running a pool task, even while held at the pacer's gate between two
//!    of the task's steps;
//! 5. held at the pacer's gate (a pause mpviz makes, not the program);
//! 6. running (anything else).

use rustc_hash::FxHashMap as HashMap;

use crate::protocol::{Body, Event, Pid};

/// What a lane shows for a stretch of time, most telling first (see the
/// module's note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Held at the pacer's gate, waiting for a permit.
    AtGate,
    /// Asked for a lock and waits in the kernel for it.
    LockWait,
    /// Holds at least one lock.
    LockHeld,
    /// Sleeps (the tutorial's network delay).
    Sleeping,
    /// Blocked on a queue: a put on a full one, a get on an empty one.
    Blocked,
    /// Runs a pool task.
    Task,
    /// Anything else.
    Running,
    /// Reaped with this exit code (`None`: a thread whose join returned).
    Exited(Option<i32>),
}

impl Doing {
    /// How much a stretch matters when a column of the timeline covers
    /// several: the column shows the highest (an exit is drawn apart).
    pub fn rank(self) -> u8 {
        match self {
            Doing::Exited(_) => 8,
            Doing::LockHeld => 7,
            Doing::LockWait => 6,
            Doing::Blocked => 5,
            Doing::Sleeping => 4,
            Doing::Task => 3,
            Doing::AtGate => 2,
            Doing::Running => 1,
        }
    }
}

/// A stretch of a lane: from the event at `from` (its index in the
/// history) and the stream time then, until the next span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: usize,
    pub t_ns: u64,
    pub doing: Doing,
}

/// What one process is doing, as far as the events say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct State {
    /// Locks held.
    held: u32,
    /// Waiting for a lock, blocked, sleeping or at the gate: `None` when
    /// none of those.
    waiting: Option<Doing>,
    task: bool,
    exited: Option<Option<i32>>,
}

impl State {
    fn doing(&self) -> Doing {
        if let Some(code) = self.exited {
            return Doing::Exited(code);
        }
        if self.held > 0 {
            return Doing::LockHeld;
        }
        match (self.waiting, self.task) {
            (Some(w), true) if w.rank() < Doing::Task.rank() => Doing::Task,
            (Some(w), _) => w,
            (None, true) => Doing::Task,
            (None, false) => Doing::Running,
        }
    }
}

/// One process's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub pid: Pid,
    pub name: String,
    /// Never empty: the first span starts at the spawn.
    pub spans: Vec<Span>,
    state: State,
}

impl Lane {
    /// The index of the span at stream time `t_ns` among the spans that
    /// start before event `k` (`None`: before the spawn).
    pub fn span_at(&self, t_ns: u64, k: usize) -> Option<usize> {
        let shown = self.shown(k);
        shown.partition_point(|s| s.t_ns <= t_ns).checked_sub(1)
    }

    /// The spans that start before event `k`.
    pub fn shown(&self, k: usize) -> &[Span] {
        let n = self.spans.partition_point(|s| s.from < k);
        &self.spans[..n]
    }
}

/// Every lane, in the order the processes were spawned.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    lanes: Vec<Lane>,
    index: HashMap<Pid, usize>,
    /// Stream time: the latest event time so far (a grant may be stamped
    /// before events that came ahead of it).
    now_ns: u64,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Every lane, spawned before any cursor or not.
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// The lanes of the processes spawned before event `k`.
    pub fn lanes_at(&self, k: usize) -> &[Lane] {
        let n = self.lanes.partition_point(|l| l.spans[0].from < k);
        &self.lanes[..n]
    }

    /// The lane of `pid`, by its place in [`Timeline::lanes`].
    pub fn position(&self, pid: Pid) -> Option<usize> {
        self.index.get(&pid).copied()
    }

    /// Takes in `event`, the history's event number `index` (from 0).
    pub fn push(&mut self, event: &Event, index: usize) {
        self.now_ns = self.now_ns.max(event.t_ns);
        let Some(pid) = event.pid else {
            return;
        };
        if let Body::Spawn { name, .. } = &event.body {
            if self.index.contains_key(&pid) {
                return;
            }
            self.index.insert(pid, self.lanes.len());
            self.lanes.push(Lane {
                pid,
                name: name.clone(),
                spans: vec![Span {
                    from: index,
                    t_ns: self.now_ns,
                    doing: Doing::Running,
                }],
                state: State::default(),
            });
            return;
        }
        let Some(&at) = self.index.get(&pid) else {
            return;
        };
        let lane = &mut self.lanes[at];
        let mut s = lane.state;
        if s.exited.is_some() {
            return;
        }
        match &event.body {
            Body::Ready { .. } => s.waiting = Some(Doing::AtGate),
            Body::LockWait { .. } => s.waiting = Some(Doing::LockWait),
            Body::Sleep { .. } => s.waiting = Some(Doing::Sleeping),
            Body::Blocked { .. } => s.waiting = Some(Doing::Blocked),
            Body::LockAcquire { .. } => {
                s.held += 1;
                s.waiting = None;
            }
            Body::LockRelease { .. } => {
                s.held = s.held.saturating_sub(1);
                s.waiting = None;
            }
            Body::TaskStart { .. } => {
                s.task = true;
                s.waiting = None;
            }
            Body::TaskDone { .. } => {
                s.task = false;
                s.waiting = None;
            }
            Body::Exit { exitcode } => s.exited = Some(Some(*exitcode)),
            Body::Joined => s.exited = Some(None),
            // The parent's samples and the pacer's permits say nothing of
            // what the process itself does (a permit lets it go on to the
            // action that ends its wait at the gate).
            Body::State { .. } | Body::Grant { .. } | Body::Outcome { .. } => {}
            // Any other action of its own: it runs.
            _ if event.is_action() => s.waiting = None,
            _ => {}
        }
        lane.state = s;
        let doing = s.doing();
        if lane.spans.last().map(|l| l.doing) != Some(doing) {
            lane.spans.push(Span {
                from: index,
                t_ns: self.now_ns,
                doing,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Name;

    fn ev(t_ms: u64, pid: Pid, body: Body) -> Event {
        Event::new(t_ms * 1_000_000, Some(pid), body)
    }

    fn spawn(t_ms: u64, pid: Pid, name: &str) -> Event {
        ev(
            t_ms,
            pid,
            Body::Spawn {
                name: name.into(),
                role: "buyer".into(),
                slot: 0,
                ppid: 1,
            },
        )
    }

    fn lock() -> Name {
        Name::from("tickets")
    }

    /// Two buyers: one takes the lock and sleeps holding it, the other waits
    /// for it, gets it, and exits 1.
    fn stream() -> Vec<Event> {
        vec![
            spawn(0, 10, "buyer-0"),
            spawn(1, 11, "buyer-1"),
            ev(
                2,
                10,
                Body::Ready {
                    action: "take_lock".into(),
                },
            ),
            ev(3, 10, Body::LockWait { lock: lock() }),
            ev(4, 10, Body::LockAcquire { lock: lock() }),
            ev(5, 11, Body::LockWait { lock: lock() }),
            ev(6, 10, Body::Sleep { ms: 100 }),
            ev(7, 10, Body::State { state: 'S' }),
            ev(106, 10, Body::LockRelease { lock: lock() }),
            ev(107, 11, Body::LockAcquire { lock: lock() }),
            ev(108, 11, Body::LockRelease { lock: lock() }),
            ev(109, 11, Body::Sleep { ms: 5 }),
            ev(114, 11, Body::Exit { exitcode: 1 }),
            // Stamped before the exit it follows in the stream.
            ev(110, 10, Body::Exit { exitcode: 0 }),
        ]
    }

    fn build(events: &[Event]) -> Timeline {
        let mut timeline = Timeline::new();
        for (i, e) in events.iter().enumerate() {
            timeline.push(e, i);
        }
        timeline
    }

    fn spans(lane: &Lane) -> Vec<(usize, u64, Doing)> {
        lane.spans
            .iter()
            .map(|s| (s.from, s.t_ns / 1_000_000, s.doing))
            .collect()
    }

    #[test]
    fn each_lane_is_what_its_process_did_the_lock_held_over_its_sleep() {
        let timeline = build(&stream());
        let lanes = timeline.lanes();
        assert_eq!(lanes.len(), 2);
        assert_eq!((lanes[0].pid, lanes[0].name.as_str()), (10, "buyer-0"));
        assert_eq!(
            spans(&lanes[0]),
            vec![
                (0, 0, Doing::Running),
                (2, 2, Doing::AtGate),
                (3, 3, Doing::LockWait),
                // The sleep and the state sample do not hide the hold.
                (4, 4, Doing::LockHeld),
                (8, 106, Doing::Running),
                // At stream time, never before what came ahead of it.
                (13, 114, Doing::Exited(Some(0))),
            ]
        );
        assert_eq!(
            spans(&lanes[1]),
            vec![
                (1, 1, Doing::Running),
                (5, 5, Doing::LockWait),
                (9, 107, Doing::LockHeld),
                (10, 108, Doing::Running),
                (11, 109, Doing::Sleeping),
                (12, 114, Doing::Exited(Some(1))),
            ]
        );
    }

    #[test]
    fn a_cursor_sees_only_the_lanes_and_spans_of_its_prefix() {
        let events = stream();
        let whole = build(&events);
        for k in 0..=events.len() {
            let prefix = build(&events[..k]);
            let lanes: Vec<(Pid, Vec<Span>)> = whole
                .lanes_at(k)
                .iter()
                .map(|l| (l.pid, l.shown(k).to_vec()))
                .collect();
            let expected: Vec<(Pid, Vec<Span>)> = prefix
                .lanes()
                .iter()
                .map(|l| (l.pid, l.spans.clone()))
                .collect();
            assert_eq!(lanes, expected, "after {k} events");
        }
        assert_eq!(whole.lanes_at(1).len(), 1);
        assert_eq!(whole.lanes[0].span_at(5_000_000, 4), Some(2));
        assert_eq!(whole.lanes[0].span_at(5_000_000, 5), Some(3));
        assert_eq!(whole.lanes[1].span_at(0, 5), None);
    }

    #[test]
    fn queues_tasks_and_threads() {
        let q = || Name::from("q");
        let events = vec![
            spawn(0, 20, "worker"),
            ev(1, 20, Body::TaskStart { task: 0 }),
            ev(
                2,
                20,
                Body::Blocked {
                    queue: q(),
                    op: Name::from("get"),
                },
            ),
            ev(
                3,
                20,
                Body::Get {
                    queue: q(),
                    item: 1,
                    depth: 0,
                },
            ),
            // Held at the gate mid-task: still the task.
            ev(
                3,
                20,
                Body::Ready {
                    action: "take_lock".into(),
                },
            ),
            ev(
                4,
                20,
                Body::TaskDone {
                    shown: None,
                    task: 0,
                    ok: true,
                    result: Some(1),
                    error: None,
                    page: None,
                    error_type: None,
                },
            ),
            ev(5, 20, Body::Joined),
            // Nothing after the end.
            ev(6, 20, Body::Sleep { ms: 1 }),
            // An unknown process has no lane.
            ev(7, 99, Body::Sleep { ms: 1 }),
        ];
        let timeline = build(&events);
        assert_eq!(timeline.lanes().len(), 1);
        let doing: Vec<Doing> = timeline.lanes()[0].spans.iter().map(|s| s.doing).collect();
        assert_eq!(
            doing,
            vec![
                Doing::Running,
                Doing::Task,
                Doing::Blocked,
                Doing::Task,
                Doing::Running,
                Doing::Exited(None),
            ]
        );
    }
}
