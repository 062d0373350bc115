//! The dashboard's state as a pure fold over the event stream.
//!
//! `Model::apply` does no I/O, reads no clock and knows no terminal: the live
//! screen, `--json`, replays and tests fold the same events into the same
//! model. Views read it; nothing else writes it.

use std::collections::{BTreeMap, VecDeque};

// Keys here are small numbers (PIDs, items): a fast hash, no DoS to fear.
use rustc_hash::FxHashMap as HashMap;

use crate::protocol::{Acts, Body, Event, Pid};

mod calls;
mod code;
mod files;
mod locks;
mod manager;
mod narration;
mod pool;
mod procs;
mod queues;

pub use crate::protocol::Salience;
pub use calls::{Calls, ProcCall};
pub use code::{Place, Places};
pub use files::{Files, Landings, LostUpdate};
pub use locks::{DeadlockEvidence, LockState, Locks, TakenAfterDeath, WaitLine};
pub use manager::{ManagerState, ReadBack};
pub use narration::{LogEntry, Moment, Told};
pub use pool::{CallbackRun, FetchedPage, Parsed, Pool, TaskState, TaskView, TimedWait};
pub use procs::{Activity, Outcomes, Proc, Procs, QueueOp, Request};
pub use queues::{BlockedOn, ItemCount, QueueState, Queues, SizeRead, QUEUE_HISTORY};

/// How many notable events the log keeps.
pub const LOG_CAPACITY: usize = 2000;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pace {
    pub paused: bool,
    /// Actions per second; `None` means no pacing.
    pub speed: Option<f64>,
}

/// The run as its events tell it: one part per domain (processes, locks,
/// files and counters, queues, a pool, a manager, calls on Process
/// objects), each folding the events of its domain, and the log.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub scenario: String,
    pub seed: u64,
    pub params: serde_json::Value,
    pub parent_pid: Option<Pid>,
    pub procs: Procs,
    pub locks: Locks,
    pub files: Files,
    pub queues: Queues,
    pub pool: Pool,
    pub manager: ManagerState,
    pub calls: Calls,
    /// Where each process stands in the tutorial's program.
    pub code: Places,
    /// Notable events, newest last (no `ready` or `state` samples, no
    /// pacer event that changed nothing), each with how much it matters.
    pub log: VecDeque<LogEntry>,
    /// Entries logged since the run began (numbers [`LogEntry::seq`]).
    pub logged: u64,
    /// What the narration line tells: the most salient entry of the newest
    /// step (see [`narration`]).
    pub narration: Option<Told>,
    /// How many times each [`Moment`] happened.
    pub moments: BTreeMap<Moment, u32>,
    /// The processes a moment happened to, and the gravest of their moments:
    /// their rows stay marked.
    pub marked: HashMap<Pid, Moment>,
    pub events: u64,
    /// Instrumented actions the children have done (see [`Event::is_action`]).
    pub actions: u64,
    pub pace: Pace,
    /// The stamp of the newest event.
    pub now_ns: u64,
    pub ended: bool,
    pub errors: Vec<String>,
    /// A rerun of a recording (`mpviz rerun`): how far it is in its plan.
    pub rerun: Option<Rerun>,
    /// What the program printed (`mpviz run`), newest last.
    pub output: VecDeque<OutputLine>,
    /// The main process (mpviz's own, not in `procs`) is blocked on a
    /// queue: its put that ends the block ends the action the block began.
    pub main_blocked: bool,
}

/// How many lines of a program's output the model keeps.
pub const OUTPUT_CAPACITY: usize = 2000;

/// A line a program printed, and the process that printed it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLine {
    pub pid: Option<Pid>,
    pub stderr: bool,
    pub text: String,
}

/// Where a rerun stands in its recording's plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rerun {
    /// The permits the plan grants, in the recording's order.
    pub steps: u64,
    /// The plan's steps granted so far.
    pub granted: u64,
    /// The ranges of steps (from 1) that follow only the order a run
    /// without pacing recorded its actions in.
    pub inexact: Vec<(u64, u64)>,
    /// The step where the run left the plan, and why.
    pub diverged: Option<(u64, String)>,
}

impl Rerun {
    /// Whether the pacer still follows the plan.
    pub fn following(&self) -> bool {
        self.diverged.is_none() && self.granted < self.steps
    }
}

/// A write to memory that counts its writes: its writer and its landing
/// place.
fn landed_write(ev: &Event) -> Option<(Pid, u64)> {
    match ev.body {
        Body::Write {
            landed: Some(at), ..
        } => ev.pid.map(|pid| (pid, at)),
        _ => None,
    }
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    pub fn proc(&self, pid: Pid) -> Option<&Proc> {
        self.procs.get(pid)
    }

    /// Processes of one role (the scenario's, or "forkserver").
    pub fn role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a Proc> + 'a {
        self.procs.iter().filter(move |p| p.role == role)
    }

    pub fn waiting_at_gates(&self) -> usize {
        self.procs.iter().filter(|p| p.at_gate.is_some()).count()
    }

    pub fn alive(&self) -> usize {
        self.procs.iter().filter(|p| p.alive()).count()
    }

    /// Folds one event in (see [`Model::fold`]), keeping a copy of it.
    pub fn apply(&mut self, ev: &Event) {
        self.fold(ev.clone());
    }

    /// Folds one event in: the run's own events here, the others in the
    /// part of their domain. The log keeps the event itself.
    pub fn fold(&mut self, event: Event) {
        let ev = &event;
        self.events += 1;
        self.now_ns = self.now_ns.max(ev.t_ns);
        let pace_changed = match &ev.body {
            Body::Pace { paused, speed } => {
                self.pace.paused != *paused || self.pace.speed != *speed
            }
            _ => false,
        };
        // The main process's actions count too: where it acts it has a gate
        // of its own (a submit, a stop signal), and a step may be its.
        // A get, put or task start that a block held up ends the action the
        // block began (as a lock_acquire ends a lock_wait's): one permit, one
        // action.
        let main = ev.pid.is_some() && ev.pid == self.parent_pid;
        let blocked = self.procs.blocked(ev.pid) || (main && self.main_blocked);
        let ends_a_block = ev.body.info().acts == Acts::UnlessBlocked && blocked;
        let acted = ev.is_action() && !ends_a_block;
        if main {
            match ev.body {
                Body::Blocked { .. } => self.main_blocked = true,
                Body::Put { .. } | Body::Get { .. } | Body::Full { .. } | Body::Empty { .. } => {
                    self.main_blocked = false
                }
                _ => {}
            }
        }
        if acted {
            self.actions += 1;
            self.procs.acted(ev.pid);
        }
        let paced = self.pace.paused || self.pace.speed.is_some();
        self.code.apply(ev, acted, paced);
        // Every event of a process says what it is doing.
        self.procs.apply(ev);
        match &ev.body {
            Body::Start {
                scenario,
                seed,
                parent_pid,
                params,
            } => {
                self.scenario = scenario.clone();
                self.code.start(scenario);
                self.seed = *seed;
                self.parent_pid = Some(*parent_pid);
                self.params = params.clone();
            }
            Body::Pace { paused, speed } => {
                self.pace = Pace {
                    paused: *paused,
                    speed: *speed,
                };
                self.files.apply(ev, &mut self.procs);
            }
            Body::Error { message } => self.errors.push(message.clone()),
            Body::End => {
                self.ended = true;
                self.code.ended();
            }
            Body::Rerun { steps, inexact } => {
                self.rerun = Some(Rerun {
                    steps: *steps,
                    inexact: inexact.clone(),
                    ..Rerun::default()
                });
            }
            Body::Grant { .. } => {
                if let Some(rerun) = self.rerun.as_mut().filter(|r| r.following()) {
                    rerun.granted += 1;
                }
                self.files.apply(ev, &mut self.procs);
            }
            Body::Diverged { step, why, .. } => {
                if let Some(rerun) = &mut self.rerun {
                    rerun.diverged = Some((*step, why.to_string()));
                }
            }
            // At its gate a process reads nothing: what it holds back is
            // known (see `files::Landings`).
            Body::Ready { .. } => self.files.apply(ev, &mut self.procs),
            Body::State { .. }
            | Body::Truncate { .. }
            | Body::Sleep { .. }
            | Body::Outcome { .. } => {}
            Body::Exit { .. } => {
                self.files.apply(ev, &mut self.procs);
                if let Some(pid) = ev.pid {
                    self.locks.exited(pid);
                    self.queues.exited(pid);
                }
            }
            Body::Spawn { .. }
            | Body::Joined
            | Body::Read { .. }
            | Body::Write { .. }
            | Body::File { .. } => self.files.apply(ev, &mut self.procs),
            Body::LockWait { .. }
            | Body::LockAcquire { .. }
            | Body::LockRelease { .. }
            | Body::LockMade { .. }
            | Body::LockGaveUp { .. }
            | Body::DeadlockCycle { .. }
            | Body::Deadlock { .. } => self.locks.apply(ev),
            Body::Output { stream, text } => {
                if self.output.len() == OUTPUT_CAPACITY {
                    self.output.pop_front();
                }
                self.output.push_back(OutputLine {
                    pid: ev.pid,
                    stderr: stream == "stderr",
                    text: text.clone(),
                });
            }
            Body::ProxyCall { .. } => {}
            Body::Put { .. }
            | Body::Get { .. }
            | Body::Blocked { .. }
            | Body::Full { .. }
            | Body::Empty { .. }
            | Body::Qsize { .. }
            | Body::QueueDepth { .. } => self.queues.apply(ev, self.parent_pid),
            Body::TaskSubmit { .. }
            | Body::TaskStart { .. }
            | Body::TaskDone { .. }
            | Body::Callback { .. }
            | Body::ResultWait { .. }
            | Body::ResultGet { .. }
            | Body::PoolCall { .. }
            | Body::PoolJoined { .. } => self.pool.apply(ev),
            Body::Request { .. }
            | Body::Served { .. }
            | Body::Reply { .. }
            | Body::PlainSet { .. }
            | Body::PlainRead { .. } => self.manager.apply(ev, &self.procs),
            Body::ProcessCall { .. } => self.calls.apply(ev),
        }
        // A step re-announces the pace it left unchanged: nothing to log.
        let unchanged_pace = matches!(ev.body, Body::Pace { .. }) && !pace_changed;
        let this_write = landed_write(ev);
        if ev.is_logged() && !unchanged_pace {
            self.log_entry(event, pace_changed);
        }
        self.mark_certain_losses(this_write);
    }

    /// Marks the writes whose lost update the event just folded made
    /// certain (see [`Files::confirmed`]): their rows, and their log lines
    /// while the log keeps them. The event itself, if it is such a write
    /// (`this_write`: its writer and landing place), was marked as it was
    /// logged.
    fn mark_certain_losses(&mut self, this_write: Option<(Pid, u64)>) {
        for (writer, place) in std::mem::take(&mut self.files.confirmed) {
            let is_it = |e: &Event| landed_write(e) == Some((writer, place));
            if this_write == Some((writer, place)) {
                continue;
            }
            self.mark(&narration::Happened {
                moment: Moment::LostUpdate,
                to: vec![writer],
            });
            if let Some(entry) = self.log.iter_mut().rev().find(|e| is_it(&e.event)) {
                entry.moment = Some(Moment::LostUpdate);
                entry.salience = Salience::Alarm;
            }
        }
    }

    /// Counts a moment and marks the rows of the processes it happened to.
    fn mark(&mut self, happened: &narration::Happened) {
        *self.moments.entry(happened.moment).or_default() += 1;
        for pid in &happened.to {
            let mark = self.marked.entry(*pid).or_insert(happened.moment);
            *mark = (*mark).max(happened.moment);
        }
    }

    /// Logs `ev` with its salience, marks its moment, and lets it take the
    /// narration if it matters enough.
    fn log_entry(&mut self, event: Event, pace_changed: bool) {
        let ev = &event;
        let moment = narration::moment(ev, self);
        if let Some(happened) = &moment {
            self.mark(happened);
        }
        let salience = match moment {
            Some(_) => Salience::Alarm,
            None => narration::salience(ev, self, pace_changed),
        };
        let new_step = ev.is_action() && ev.pid != self.parent_pid;
        let entry = LogEntry {
            seq: self.logged,
            event,
            salience,
            moment: moment.map(|happened| happened.moment),
        };
        self.logged += 1;
        if narration::replaces(self.narration.as_ref(), &entry, new_step) {
            self.narration = Some(Told {
                seq: entry.seq,
                salience: entry.salience,
                moment: entry.moment,
            });
        }
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    /// How many times `moment` happened in the run.
    pub fn moment_count(&self, moment: Moment) -> u32 {
        self.moments.get(&moment).copied().unwrap_or(0)
    }

    /// Exit codes of one role's processes, as the OS reported them.
    pub fn exit_codes(&self, role: &str) -> BTreeMap<i32, u32> {
        let mut codes = BTreeMap::new();
        for code in self.role(role).filter_map(|p| p.exitcode) {
            *codes.entry(code).or_insert(0) += 1;
        }
        codes
    }

    /// The event the narration line tells (see [`narration`]), if any.
    pub fn last_notable(&self) -> Option<&LogEntry> {
        let seq = self.narration?.seq;
        let at = self.log.partition_point(|e| e.seq < seq);
        self.log.get(at).filter(|e| e.seq == seq)
    }
}

#[cfg(test)]
mod tests;
