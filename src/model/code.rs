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
}

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
        let (Some(lines), Some(pid)) = (self.lines, ev.pid) else {
            return;
        };
        match &ev.body {
            Body::Ready { action } => match lines.act(action) {
                Some(line) => {
                    self.places.insert(
                        pid,
                        Place {
                            line,
                            at_gate: true,
                        },
                    );
                }
                None => {
                    self.unplace(format!("ready {action:?}"));
                    self.places.remove(&pid);
                }
            },
            Body::Exit { .. } | Body::Joined => {
                self.places.remove(&pid);
            }
            // A zombie has ended: it stands nowhere.
            Body::State { state: 'Z' } => {
                self.places.remove(&pid);
            }
            body => {
                if let Some(line) = lines.event(body) {
                    // Another thread of a process waiting at its gate (the
                    // pool's result handler running a callback while the
                    // main thread waits to submit): the process stays at
                    // its gate, and the line ran.
                    match self.places.get(&pid) {
                        Some(place) if place.at_gate => {
                            self.last = Some((pid, line));
                            self.steps += 1;
                        }
                        _ => self.ran(pid, line),
                    }
                } else if acted {
                    match self.places.remove(&pid) {
                        Some(place) if place.at_gate => self.ran(pid, place.line),
                        // An action with no gate before it: at full speed
                        // nothing says where the process is; paced, the
                        // program lacks its line.
                        _ if paced => self.unplace(ev.kind().to_string()),
                        // The newest step ran a line no one can tell.
                        _ => self.last = None,
                    }
                }
            }
        }
    }

    fn unplace(&mut self, said: String) {
        self.unplaced += 1;
        if self.unplaced_said.len() < 8 {
            self.unplaced_said.push(said);
        }
    }

    fn ran(&mut self, pid: Pid, line: u32) {
        self.places.insert(
            pid,
            Place {
                line,
                at_gate: false,
            },
        );
        self.last = Some((pid, line));
        self.steps += 1;
    }
}
