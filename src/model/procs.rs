//! Processes: who was started, what each is doing, how each ended.

use std::ops::Deref;

use rustc_hash::FxHashMap as HashMap;

use crate::protocol::{Body, Event, Name, Outcome, Pid};

/// What a process is doing, from the last thing it reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Started,
    WaitingForLock(Name),
    HoldingLock(Name),
    Read(Option<i64>),
    Sleeping(u64),
    Truncated(Name),
    Wrote(i64),
    /// Wrote this many bytes to the file.
    Appended(Name, usize),
    Finished(Outcome),
    Released(Name),
    /// Blocked on a queue: a put on a full one, a get on an empty one.
    Blocked(QueueOp),
    Put(u64),
    Got(u64),
    /// A put or get whose timeout expired: the queue stayed full or empty.
    GaveUp(QueueOp),
    AskedSize(u32),
    /// A pool worker waiting for a task, running one, or done with one.
    RunningTask(u32),
    FinishedTask(u32, bool),
    /// Asked the manager's server to do this.
    Requested(Request),
    /// Did this for a client, as the manager's server.
    Served(Request, Pid),
    /// Set a key in its own plain dict, which now holds this many items.
    SetPlain(u32),
    Exited(i32),
    /// A thread that ended: its process's join on it returned.
    Joined,
    /// Granted its permit, and doing what it waited at its gate to do,
    /// with nothing reported yet (a join that waits, say).
    Doing(crate::protocol::Act),
}

/// What a queue operation was: a put or a get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOp {
    Put,
    Get,
}

impl QueueOp {
    /// Its name in text keys: `doing_blocked_put`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueOp::Put => "put",
            QueueOp::Get => "get",
        }
    }
}

/// A request to the manager's server: its `op` (`dict_set`, the key of its
/// text `code_dict_set`) and its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub op: String,
    pub key: Option<i64>,
    pub value: Option<i64>,
}

impl Request {
    pub fn new(op: &str, key: Option<i64>, value: Option<i64>) -> Request {
        Request {
            op: op.to_string(),
            key,
            value,
        }
    }
}

impl Activity {
    /// What a process reporting `body` is doing now, if that kind of event
    /// says (a lock's acquire does; a sample of its state does not).
    fn of(body: &Body) -> Option<Activity> {
        Some(match body {
            Body::LockWait { lock } => Activity::WaitingForLock(lock.clone()),
            Body::LockAcquire { lock } => Activity::HoldingLock(lock.clone()),
            Body::LockRelease { lock } => Activity::Released(lock.clone()),
            Body::Read { value, .. } => Activity::Read(*value),
            Body::Truncate { file } => Activity::Truncated(file.clone()),
            Body::Write {
                value: Some(value), ..
            } => Activity::Wrote(*value),
            Body::Write { file, bytes, .. } => {
                Activity::Appended(file.clone(), bytes.as_deref().map_or(0, str::len))
            }
            Body::Sleep { ms } => Activity::Sleeping(*ms),
            Body::TaskStart { task } => Activity::RunningTask(*task),
            Body::TaskDone { task, ok, .. } => Activity::FinishedTask(*task, *ok),
            Body::Put { item, .. } => Activity::Put(*item),
            Body::Get { item, .. } => Activity::Got(*item),
            Body::Blocked { op, .. } if op == "put" => Activity::Blocked(QueueOp::Put),
            Body::Blocked { .. } => Activity::Blocked(QueueOp::Get),
            Body::Full { .. } => Activity::GaveUp(QueueOp::Put),
            Body::Empty { .. } => Activity::GaveUp(QueueOp::Get),
            Body::Qsize { value, .. } => Activity::AskedSize(*value),
            Body::Outcome { result } => Activity::Finished(*result),
            Body::Exit { exitcode } => Activity::Exited(*exitcode),
            Body::Joined => Activity::Joined,
            Body::Request { op, key, value } => Activity::Requested(Request::new(op, *key, *value)),
            Body::Served {
                op,
                key,
                value,
                client,
                ..
            } => Activity::Served(Request::new(op, *key, *value), *client),
            Body::PlainSet { len, .. } => Activity::SetPlain(*len),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: Pid,
    pub name: String,
    pub role: String,
    pub slot: u32,
    pub ppid: Pid,
    /// The last state letter the parent read in `/proc`.
    pub state: Option<char>,
    pub activity: Activity,
    /// The action this process waits to do, while it is held at a gate.
    pub at_gate: Option<crate::protocol::Act>,
    pub outcome: Option<Outcome>,
    pub exitcode: Option<i32>,
    pub spawned_ns: u64,
    pub exited_ns: Option<u64>,
    /// Actions this process has reported.
    pub actions: u32,
    /// The value this process last read.
    pub last_read: Option<i64>,
    /// How many writes the file had had when this process last read it.
    pub read_version: Option<u64>,
    /// Set when this process wrote back a value computed from a read that
    /// another process's write had overtaken: that process's update was lost
    /// (where the memory counts its writes, set only once a loss is certain,
    /// see [`super::Landings`]).
    pub overwrote: Option<Pid>,
}

impl Proc {
    /// Neither reaped (a process) nor joined (a thread).
    pub fn alive(&self) -> bool {
        self.exitcode.is_none() && self.exited_ns.is_none()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub success: u32,
    pub fail: u32,
}

/// Every process of the run, in the order they were started (read as a
/// slice), and how the buyers' attempts ended.
#[derive(Debug, Clone, Default)]
pub struct Procs {
    list: Vec<Proc>,
    index: HashMap<Pid, usize>,
    pub outcomes: Outcomes,
}

impl Deref for Procs {
    type Target = [Proc];

    fn deref(&self) -> &[Proc] {
        &self.list
    }
}

impl Procs {
    pub fn get(&self, pid: Pid) -> Option<&Proc> {
        self.index.get(&pid).map(|&i| &self.list[i])
    }

    pub(super) fn get_mut(&mut self, pid: Option<Pid>) -> Option<&mut Proc> {
        let i = *self.index.get(&pid?)?;
        Some(&mut self.list[i])
    }

    /// Whether `pid` was blocked (on a queue) before this event.
    pub(super) fn blocked(&self, pid: Option<Pid>) -> bool {
        pid.and_then(|p| self.get(p))
            .is_some_and(|p| matches!(p.activity, Activity::Blocked(_)))
    }

    /// `pid` passed its gate and did one action.
    pub(super) fn acted(&mut self, pid: Option<Pid>) {
        if let Some(p) = self.get_mut(pid) {
            p.actions += 1;
            p.at_gate = None;
        }
    }

    /// Folds in the events of a process's life (spawn, gate, state, outcome,
    /// end), and, from any event of a process, what it is doing now.
    pub(super) fn apply(&mut self, ev: &Event) {
        match &ev.body {
            Body::Spawn {
                name,
                role,
                slot,
                ppid,
            } => {
                if let Some(pid) = ev.pid {
                    self.index.insert(pid, self.list.len());
                    self.list.push(Proc {
                        pid,
                        name: name.clone(),
                        role: role.clone(),
                        slot: *slot,
                        ppid: *ppid,
                        state: None,
                        activity: Activity::Started,
                        at_gate: None,
                        outcome: None,
                        exitcode: None,
                        spawned_ns: ev.t_ns,
                        exited_ns: None,
                        actions: 0,
                        last_read: None,
                        read_version: None,
                        overwrote: None,
                    });
                }
                return;
            }
            Body::Outcome { result } => match result {
                Outcome::Success => self.outcomes.success += 1,
                Outcome::Fail => self.outcomes.fail += 1,
            },
            _ => {}
        }
        let Some(p) = self.get_mut(ev.pid) else {
            return;
        };
        match &ev.body {
            Body::Ready { action } => p.at_gate = Some(action.clone()),
            Body::Grant { .. } => {
                if let Some(action) = p.at_gate.take() {
                    p.activity = Activity::Doing(action);
                }
            }
            Body::Outcome { result } => p.outcome = Some(*result),
            Body::Exit { exitcode } => {
                p.exitcode = Some(*exitcode);
                p.exited_ns = Some(ev.t_ns);
                p.at_gate = None;
            }
            Body::Joined => {
                p.exited_ns = Some(ev.t_ns);
                p.at_gate = None;
            }
            // A sample of a process that has ended says nothing new.
            Body::State { state } if p.alive() => {
                p.state = Some(*state);
                // A zombie has ended: it waits for no permit.
                if *state == 'Z' {
                    p.at_gate = None;
                }
            }
            _ => {}
        }
        if let Some(activity) = Activity::of(&ev.body) {
            p.activity = activity;
        }
    }
}

impl<'a> IntoIterator for &'a Procs {
    type Item = &'a Proc;
    type IntoIter = std::slice::Iter<'a, Proc>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
