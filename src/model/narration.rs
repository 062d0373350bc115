//! How much each log entry matters, and which one the narration line tells.
//!
//! One step of a paced run often reports several things at once (a write,
//! the outcome, the exit; then the pacer's pause). The narration shows the
//! most important thing the newest step did: routine entries (an exit 0, a
//! pause, a sample of a file) never replace a lost update, an oversell, a
//! torn read, a block or a deadlock. A notable entry stays until a more or
//! equally notable one comes, or until the next action of the run begins a
//! new step. All of it is decided here, in the fold, from the events alone.

use std::ops::Deref;

use crate::protocol::{Body, Event, Outcome, Pid, Salience};

use super::Model;

/// The moments a scenario exists to show. They stay marked where they
/// happened: the process's row, the log line and the header's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Moment {
    /// An error that stopped the run.
    Error,
    /// A read of a file another process had just emptied.
    TornRead,
    /// A sale after every ticket was sold.
    Oversold,
    /// A write that undid another process's update.
    LostUpdate,
    /// Processes that wait forever for a lock nobody will let go.
    Deadlock,
}

impl Moment {
    /// The suffix of the text keys that tell this moment (`outcome_success_oversold`).
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::Error => "error",
            Moment::TornRead => "torn_read",
            Moment::Oversold => "oversold",
            Moment::LostUpdate => "lost_update",
            Moment::Deadlock => "deadlock",
        }
    }
}

/// One line of the log: the event, how much it matters, and the moment it
/// is, if it is one. `seq` numbers the entries from the run's start, so that
/// a scrolled view keeps its place while old entries fall off the front.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: u64,
    pub event: Event,
    pub salience: Salience,
    pub moment: Option<Moment>,
}

impl Deref for LogEntry {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// The entry the narration tells (by [`LogEntry::seq`]), and how much it
/// matters, for the next entry to compare with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Told {
    pub seq: u64,
    pub salience: Salience,
    pub moment: Option<Moment>,
}

/// A moment and the processes it happened to (their rows stay marked).
pub(super) struct Happened {
    pub moment: Moment,
    pub to: Vec<Pid>,
}

/// The moment `ev` is, judged on the model it was just folded into.
pub(super) fn moment(ev: &Event, model: &Model) -> Option<Happened> {
    let me = || ev.pid.into_iter().collect::<Vec<_>>();
    let moment = match &ev.body {
        Body::Write { value: Some(_), .. } => {
            let lost = ev
                .pid
                .and_then(|p| model.proc(p))
                .is_some_and(|p| p.overwrote.is_some());
            lost.then_some(Moment::LostUpdate)?
        }
        Body::Read { value: None, .. } => Moment::TornRead,
        Body::Outcome {
            result: Outcome::Success,
        } => {
            let tickets = model.params.get("tickets").and_then(|t| t.as_u64())?;
            (u64::from(model.procs.outcomes.success) > tickets).then_some(Moment::Oversold)?
        }
        Body::Deadlock {
            holder, waiters, ..
        } => {
            let mut to = waiters.clone();
            to.push(*holder);
            return Some(Happened {
                moment: Moment::Deadlock,
                to,
            });
        }
        Body::DeadlockCycle { cycle, .. } => {
            return Some(Happened {
                moment: Moment::Deadlock,
                to: cycle.iter().map(|(pid, _)| *pid).collect(),
            });
        }
        Body::Error { .. } => {
            return Some(Happened {
                moment: Moment::Error,
                to: Vec::new(),
            })
        }
        _ => return None,
    };
    Some(Happened { moment, to: me() })
}

/// How much `ev` matters, judged on the model it was just folded into
/// (`pace_changed`: whether a pacer event changed the pace): as its kind is
/// declared ([`crate::protocol::KindInfo::log`]), but for what the event
/// says or the model knows.
pub(super) fn salience(ev: &Event, model: &Model, pace_changed: bool) -> Salience {
    let holder_of = |lock: &str| model.locks.get(lock).and_then(|l| l.holder);
    match &ev.body {
        Body::Exit { exitcode: 0 } => Salience::Routine,
        Body::Pace { .. } if !pace_changed => Salience::Routine,
        // Asking for a lock another holds: the process sleeps in the kernel.
        Body::LockWait { lock } if holder_of(lock).is_some_and(|h| Some(h) != ev.pid) => {
            Salience::Notable
        }
        Body::TaskDone { ok: false, .. }
        | Body::Callback { ok: false, .. }
        | Body::ResultWait { expired: true, .. } => Salience::Notable,
        // A sample is never logged.
        _ => ev.body.info().log.unwrap_or(Salience::Routine),
    }
}

/// Whether `next` takes the narration from `current`: a new step (an
/// action of a child) always does; otherwise only what matters as much
/// (between two moments, the graver: the lost update that caused an
/// oversell tells more than the oversell).
pub(super) fn replaces(current: Option<&Told>, next: &LogEntry, new_step: bool) -> bool {
    new_step
        || current.map_or(true, |c| {
            (next.salience, next.moment) >= (c.salience, c.moment)
        })
}
