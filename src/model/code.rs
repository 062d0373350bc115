//! Where each process stands in the tutorial's program (see [`crate::code`]):
//! at the line of the action it waits at its gate to do, or, once granted,
//! the line it runs; and the line the last step ran.

use rustc_hash::FxHashMap as HashMap;

use crate::code::Lines;
use crate::protocol::{Body, Event, Pid};

/// A process's place: its line (from 0), and whether it waits at its gate
/// to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub line: u32,
    pub at_gate: bool,
    /// It got here by the action its last permit let it do, and has reported
    /// nothing since that is a line of its own: how that step ended (a
    /// ticket's outcome after its write) is part of it.
    fresh: bool,
}

impl Place {
    pub fn waiting(line: u32) -> Place {
        Place {
            line,
            at_gate: true,
            fresh: false,
        }
    }
}

/// The events with a line of their own that tell how the step before them
/// ended, rather than make a call of their own (as `pool.close()` does).
const ENDS_A_STEP: &[&str] = &["outcome", "reply", "full", "empty"];

/// The reports (events that are no action) that are a line of the
/// program: the program must have a line for each (the others are the
/// run's bookkeeping: spawns, exits, states, samples, a lock's taking that
/// ends its `acquire()`).
const LINE_REPORTS: &[&str] = &[
    "outcome",
    "callback",
    "result_get",
    "result_wait",
    "pool_call",
    "pool_joined",
    "reply",
];

/// The places of the run's processes, the main process included.
#[derive(Debug, Clone, Default)]
pub struct Places {
    lines: Option<&'static Lines>,
    places: HashMap<Pid, Place>,
    /// The process the last step was of, and the line it ran.
    pub last: Option<(Pid, u32)>,
    /// Steps that ran a line (each a new `last`).
    pub steps: u64,
    /// Actions and gates the program has no line for: a gated action with
    /// no line, or an action with no gate before it and no line of its own.
    /// The tests hold it at zero; on screen the process stands nowhere.
    pub unplaced: u64,
    /// The first few of them, said as `kind` or `ready ACTION`, for a
    /// test's message.
    pub unplaced_said: Vec<String>,
}

impl Places {
    /// The program of scenario `name` (none: no process has a place).
    pub(super) fn start(&mut self, name: &str) {
        self.lines = Lines::of(name);
        self.places.clear();
        self.last = None;
    }

    pub fn get(&self, pid: Pid) -> Option<Place> {
        self.places.get(&pid).copied()
    }

    /// How many processes stand at each line, for a program of `len` lines.
    pub fn counts(&self, len: usize) -> Vec<u32> {
        let mut counts = vec![0; len];
        for place in self.places.values() {
            if let Some(n) = counts.get_mut(place.line as usize) {
                *n += 1;
            }
        }
        counts
    }

    /// Whether any process has a place (at full speed no gate says one).
    pub fn any(&self) -> bool {
        !self.places.is_empty()
    }

    /// Folds one event in. `acted`: the event is the action a permit (or
    /// no gate, at full speed) let the process do; `paced`: the run gates
    /// every action.
    pub(super) fn apply(&mut self, ev: &Event, acted: bool, paced: bool) {
        let Some(pid) = ev.pid else {
            return;
        };
        let Some(lines) = self.lines else {
            return self.by_reported_line(ev, pid, acted);
        };
        match &ev.body {
            Body::Ready { action } => match lines.act(action) {
                Some(line) => {
                    self.places.insert(pid, Place::waiting(line));
                }
                None => {
                    self.unplace(format!("ready {action:?}"));
                    self.places.remove(&pid);
                }
            },
            // A process (or a thread) that has ended stands nowhere, nor does
            // a zombie.
            Body::Exit { .. } | Body::Joined | Body::State { state: 'Z' } => {
                self.places.remove(&pid);
            }
            // The run's bookkeeping: no line.
            Body::Spawn { .. }
            | Body::State { .. }
            | Body::File { .. }
            | Body::QueueDepth { .. }
            | Body::LockAcquire { .. } => {}
            // The action a permit let it do: it runs the line it waited at.
            body if acted => match self.places.get_mut(&pid) {
                Some(place) if place.at_gate => {
                    place.at_gate = false;
                    place.fresh = true;
                    let line = place.line;
                    self.last = Some((pid, line));
                    self.steps += 1;
                }
                _ => match lines.event(body) {
                    // An action with a line of its own (a timed-out put).
                    Some(line) => self.reported(pid, line, body),
                    // An action with no gate before it: paced, the program
                    // lacks its line; at full speed nothing says where the
                    // process is, and the newest step ran a line no one
                    // can tell.
                    None if paced => {
                        self.places.remove(&pid);
                        self.unplace(ev.kind().to_string());
                    }
                    None => {
                        self.places.remove(&pid);
                        self.last = None;
                    }
                },
            },
            body => match lines.event(body) {
                Some(line) => self.reported(pid, line, body),
                None if LINE_REPORTS.contains(&ev.kind()) => self.unplace(ev.kind().to_string()),
                None => {}
            },
        }
    }

    /// `pid` reported `body`, which ran `line` with no gate before it.
    /// A program of the user's (`mpviz run`) has no table of lines: each
    /// `ready` says the line it waits at (`line`, from 1, read from the
    /// Python frame), and the action it was granted runs there.
    fn by_reported_line(&mut self, ev: &Event, pid: Pid, acted: bool) {
        match &ev.body {
            Body::Ready { action } => match action.args.get("line") {
                Some(crate::protocol::PyValue::Int(n)) if *n >= 1 => {
                    let line = u32::try_from(n - 1).unwrap_or(u32::MAX);
                    self.places.insert(pid, Place::waiting(line));
                }
                _ => {
                    self.places.remove(&pid);
                }
            },
            Body::Exit { .. } | Body::Joined | Body::State { state: 'Z' } => {
                self.places.remove(&pid);
            }
            _ if acted => {
                if let Some(place) = self.places.get_mut(&pid).filter(|p| p.at_gate) {
                    place.at_gate = false;
                    place.fresh = true;
                    self.last = Some((pid, place.line));
                    self.steps += 1;
                }
            }
            _ => {}
        }
    }

    fn reported(&mut self, pid: Pid, line: u32, body: &Body) {
        match self.places.get(&pid).copied() {
            // Another thread of the process ran it: a callback runs on the
            // pool's result-handler thread, whatever the main thread is
            // doing (waiting at its gate to submit, or in `join()`). The
            // process stays where it is; the line ran.
            _ if matches!(body, Body::Callback { .. }) => self.ran_elsewhere(pid, line),
            Some(place) if place.at_gate => self.ran_elsewhere(pid, line),
            // How the step its permit began ended (a ticket's outcome after
            // its write, a full queue's timeout after a blocked put): it goes
            // on to the line, and the step stays the line the permit ran.
            Some(place) if place.fresh && ENDS_A_STEP.contains(&body.info().name) => {
                self.places.insert(
                    pid,
                    Place {
                        line,
                        at_gate: false,
                        fresh: false,
                    },
                );
            }
            // A step of its own (a call with no gate before it).
            _ => self.ran(pid, line, false),
        }
    }

    /// The process ran `line` on another thread: it stays where it is.
    fn ran_elsewhere(&mut self, pid: Pid, line: u32) {
        self.last = Some((pid, line));
        self.steps += 1;
    }

    fn unplace(&mut self, said: String) {
        self.unplaced += 1;
        if self.unplaced_said.len() < 8 {
            self.unplaced_said.push(said);
        }
    }

    fn ran(&mut self, pid: Pid, line: u32, fresh: bool) {
        self.places.insert(
            pid,
            Place {
                line,
                at_gate: false,
                fresh,
            },
        );
        self.last = Some((pid, line));
        self.steps += 1;
    }

    /// The run ended: the main process, whose end no event reports, stands
    /// nowhere either.
    pub(super) fn ended(&mut self) {
        self.places.clear();
    }
}
