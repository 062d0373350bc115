//! A rerun's plan: the permits a recording's pacer granted, in order, by
//! gate slot (PIDs differ from run to run; slots do not), each with the
//! action the process waited to do. The pacer of a rerun follows it
//! ([`Follow`]) and leaves it, saying where, once the run does something
//! else.

use std::time::{Duration, Instant};

use crate::protocol::{Act, Name};

/// One permit of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub slot: u32,
    /// What the process at `slot` waited to do, where the recording says.
    pub action: Option<Act>,
    /// False where the recording was not paced: the step is the order its
    /// action was recorded in, which need not be the order it ran in.
    pub exact: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schedule {
    pub steps: Vec<Planned>,
    /// Whether a step's `slot` is its process's place in the order of the
    /// run's spawns (from 0) rather than a gate slot: a user's program
    /// (`mpviz run`) is paced by PID, which differs from run to run, while
    /// the order its processes start in, step by step, does not.
    pub by_spawn_order: bool,
}

impl Schedule {
    /// The ranges of steps (first and last, counted from 1) that are not
    /// exact.
    pub fn inexact(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let n = i as u64 + 1;
            if step.exact {
                continue;
            }
            match ranges.last_mut() {
                Some((_, last)) if *last + 1 == n => *last = n,
                _ => ranges.push((n, n)),
            }
        }
        ranges
    }
}

/// How long the pacer waits, once nothing else moves, for the process the
/// plan names to come to its gate before it says the rerun has left the
/// plan. Generous: the only cost is a rerun that has already diverged
/// saying so later.
pub const STRAY: Duration = Duration::from_secs(5);

/// Why a rerun left its plan (the `why` of a `diverged` event).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    /// The process is at its gate, to do something else.
    OtherAction,
    /// It waits for a lock or a queue, where the recording had it at a gate.
    Blocked,
    /// It has exited.
    Exited,
    /// It did not come to its gate.
    NotAtGate,
    /// The teacher stepped another process.
    ByHand,
    /// The recording ends here (it was stopped before its run's end).
    Ended,
}

impl Why {
    pub fn name(self) -> Name {
        Name::from(match self {
            Why::OtherAction => "other_action",
            Why::Blocked => "blocked",
            Why::Exited => "exited",
            Why::NotAtGate => "not_at_gate",
            Why::ByHand => "by_hand",
            Why::Ended => "ended",
        })
    }
}

/// Where a rerun is in its plan.
#[derive(Debug)]
pub(crate) struct Follow {
    plan: std::sync::Arc<Schedule>,
    /// The next step to grant (from 0).
    pub(crate) next: usize,
    /// Since when everything else has been still while the planned process
    /// was not at its gate.
    stuck_since: Option<Instant>,
}

impl Follow {
    pub(crate) fn new(plan: std::sync::Arc<Schedule>) -> Follow {
        Follow {
            plan,
            next: 0,
            stuck_since: None,
        }
    }

    pub(crate) fn plan(&self) -> &Schedule {
        &self.plan
    }

    /// The step the pacer grants next, if the plan has one left.
    pub(crate) fn step(&self) -> Option<&Planned> {
        self.plan.steps.get(self.next)
    }

    pub(crate) fn granted(&mut self) {
        self.next += 1;
        self.stuck_since = None;
    }

    /// The planned process is not at its gate and nothing else moves: when
    /// the pacer stops waiting for it.
    pub(crate) fn stuck(&mut self, now: Instant) -> Instant {
        *self.stuck_since.get_or_insert(now) + STRAY
    }

    /// Something moved: the wait starts again.
    pub(crate) fn moved(&mut self) {
        self.stuck_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inexact_steps_are_said_as_ranges_counted_from_one() {
        let step = |exact| Planned {
            slot: 0,
            action: None,
            exact,
        };
        let plan = Schedule {
            by_spawn_order: false,
            steps: vec![
                step(true),
                step(false),
                step(false),
                step(true),
                step(false),
            ],
        };
        assert_eq!(plan.inexact(), vec![(2, 3), (5, 5)]);
        assert_eq!(Schedule::default().inexact(), vec![]);
    }
}
