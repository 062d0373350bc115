//! The dashboard's state as a pure fold over the event stream.
//!
//! `Model::apply` does no I/O, reads no clock and knows no terminal: the live
//! screen, `--json`, replays and tests fold the same events into the same
//! model. Views read it; nothing else writes it.

use std::collections::{BTreeMap, VecDeque};

// Keys here are small numbers (PIDs, items): a fast hash, no DoS to fear.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::protocol::{Body, Event, Outcome, Pid, PyValue, SeenBlocked};

mod narration;
pub use narration::{LogEntry, Moment, Salience, Told};

/// How many notable events the log keeps.
pub const LOG_CAPACITY: usize = 2000;

/// What a process is doing, from the last thing it reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Started,
    WaitingForLock(String),
    HoldingLock(String),
    Read(Option<i64>),
    Sleeping(u64),
    Truncated(String),
    Wrote(i64),
    /// Wrote this many bytes to the file.
    Appended(String, usize),
    Finished(Outcome),
    Released(String),
    /// Blocked on a queue: "put" on a full one, "get" on an empty one.
    Blocked(String),
    Put(u64),
    Got(u64),
    /// A put or get whose timeout expired: "full" or "empty".
    GaveUp(String),
    AskedSize(u32),
    /// A pool worker waiting for a task, running one, or done with one.
    RunningTask(u32),
    FinishedTask(u32, bool),
    /// Asked the manager's server to do this.
    Requested(String),
    /// Did this for a client, as the manager's server.
    Served(String, Pid),
    /// Set a key in its own plain dict, which now holds this many items.
    SetPlain(u32),
    Exited(i32),
    /// A thread that ended: its process's join on it returned.
    Joined,
}

/// What a process read back from a manager's server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadBack {
    pub by: Pid,
    pub dict: Vec<(i64, i64)>,
    pub list: Vec<i64>,
}

/// A Manager: the server process's shared dict and list, as its answers
/// tell them, beside each process's own plain dict.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagerState {
    /// The server process (the one that served requests).
    pub server: Option<Pid>,
    pub dict: BTreeMap<i64, i64>,
    pub list: Vec<i64>,
    pub requests: u32,
    pub served: u32,
    /// The last read-back from the server.
    pub reply: Option<ReadBack>,
    /// Each worker's copy of the plain dict: its size, as it reported it.
    pub plain: BTreeMap<Pid, u32>,
    /// The main process's own plain dict (the process of role
    /// [`crate::worker::MAIN_ROLE`]): its size when main set its key, then as
    /// main read it at the end.
    pub main_plain: Option<u32>,
}

/// Where a pool task's AsyncResult stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskState {
    Pending,
    Running(Pid),
    Ready { ok: bool, worker: Pid },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub state: TaskState,
    /// The process and thread that ran its callback (or error callback).
    pub callback: Option<(Pid, String, bool)>,
    pub result: Option<i64>,
    pub error: Option<String>,
    /// What the callback found in a crawled page.
    pub parsed: Option<String>,
    /// What the main process's `get()` returned (`--sync`): the value, or
    /// the error it raised as "Type: message".
    pub got: Option<Result<Option<i64>, String>>,
}

/// The newest page a pool worker fetched (`--crawl`).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPage {
    pub task: u32,
    pub worker: Pid,
    pub page: String,
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
    /// another process's write had overtaken: that process's update was lost.
    pub overwrote: Option<Pid>,
}

impl Proc {
    /// Neither reaped (a process) nor joined (a thread).
    pub fn alive(&self) -> bool {
        self.exitcode.is_none() && self.exited_ns.is_none()
    }
}

/// Processes in the order they began to wait. Leaving the line (by PID) costs
/// O(log n), so a line of thousands stays cheap to fold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaitLine {
    order: BTreeMap<u64, Pid>,
    place: HashMap<Pid, u64>,
    next: u64,
}

impl WaitLine {
    pub fn push(&mut self, pid: Pid) {
        if !self.place.contains_key(&pid) {
            self.order.insert(self.next, pid);
            self.place.insert(pid, self.next);
            self.next += 1;
        }
    }

    pub fn remove(&mut self, pid: Pid) {
        if let Some(at) = self.place.remove(&pid) {
            self.order.remove(&at);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// First in line first.
    pub fn iter(&self) -> impl Iterator<Item = Pid> + '_ {
        self.order.values().copied()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LockState {
    pub holder: Option<Pid>,
    pub held_since_ns: u64,
    /// In the order they began to wait. The kernel picks the next holder;
    /// this is only who is in line.
    pub waiters: WaitLine,
    pub acquisitions: u64,
    /// Acquisitions while the stream says another process held the lock:
    /// zero whenever the lock works.
    pub overlaps: u64,
    /// A lock nobody lets go for a dead holder (a semaphore, not an flock).
    pub kept_by_the_dead: bool,
    /// The holder died holding it: its exit came while it held the lock.
    /// Whether anything lets go for it is seen later (the next acquire), or
    /// never (a deadlock, named on evidence).
    pub holder_dead: bool,
    /// A process that took the lock after its holder had died holding it:
    /// (the dead holder, the new one). The kernel let go for the dead.
    pub taken_after_death: Option<(Pid, Pid)>,
    /// A deadlock named in the stream, with the evidence it was named on.
    pub deadlock: Option<DeadlockEvidence>,
}

/// What a deadlock was named on: the semaphore's value and each waiter as
/// it was seen in `/proc`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadlockEvidence {
    pub value: i32,
    pub waiters: Vec<Pid>,
    pub seen: Vec<SeenBlocked>,
}

impl LockState {
    /// A deadlock has been named on evidence: not merely a dead holder.
    pub fn deadlocked(&self) -> bool {
        self.deadlock.is_some()
    }
}

/// A call on a Process object, as its caller reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcCall {
    pub caller: Pid,
    pub call: String,
    pub target: Option<Pid>,
    pub result: PyValue,
    /// A timed join: whether the target still ran after it.
    pub alive: Option<bool>,
    /// A join that reaped its target: the exit code `waitpid` gave.
    pub exitcode: Option<i32>,
}

/// How many recent depths a queue keeps for its history.
pub const QUEUE_HISTORY: usize = 120;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueState {
    /// The real depth, as last measured (after a put or get, or by the parent).
    pub depth: u32,
    pub maxsize: u32,
    pub max_depth: u32,
    /// Recent depths, oldest first.
    pub history: VecDeque<u32>,
    pub puts: u64,
    pub gets: u64,
    pub full_timeouts: u64,
    pub empty_timeouts: u64,
    /// Who is blocked on the queue now, and on what ("put" or "get").
    pub blocked: Vec<(Pid, String)>,
    /// How many times each item was put, and got.
    pub put_items: HashMap<u64, u32>,
    pub got_items: HashMap<u64, u32>,
    /// The last `qsize()` a process read: who, and the value it got.
    pub last_qsize: Option<(Pid, u32)>,
    /// Items the parent itself put (stop signals).
    pub parent_items: HashSet<u64>,
}

impl QueueState {
    fn measured(&mut self, depth: u32) {
        self.depth = depth;
        self.max_depth = self.max_depth.max(depth);
        if self.history.len() == QUEUE_HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(depth);
    }

    fn unblock(&mut self, pid: Option<Pid>) {
        self.blocked.retain(|(p, _)| Some(*p) != pid);
    }
}

/// A write that undid another: `over` had read `over_read` and written
/// `over_wrote`; `writer`, having read `read` before that write, wrote
/// `wrote` over it.
#[derive(Debug, Clone, PartialEq)]
pub struct LostUpdate {
    pub file: String,
    pub writer: Pid,
    pub read: Option<i64>,
    pub wrote: i64,
    pub over: Pid,
    pub over_read: Option<i64>,
    pub over_wrote: i64,
}

/// A number in memory whose reads and writes carry their place among the
/// writes that landed in it (the race's counter, [`crate::ipc::shared`]):
/// from them, the updates lost for certain so far.
///
/// After `k` writes have landed, the value is `c_k`, and the writers that
/// have read and not yet written back hold the values they read. No later
/// write can bring the value above the highest of these plus one per write
/// still to come, so `k - max(c_k, those reads)` updates are lost whatever
/// happens next; that number never goes down, and once everyone has written
/// back it is the final loss. It is known for write `k` only when every read
/// made before it has been reported: then write `k` is *settled*. A process
/// that has reported nothing yet may have read before any write that landed
/// before its spawn was reported; one that starts others (the fork server, a
/// process whose threads do the work) reads nothing itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Landings {
    /// The value each reported write not yet settled left, by its place (1
    /// for the first), and the highest place reported.
    stores: BTreeMap<u64, i64>,
    landed: u64,
    /// Reported reads not yet settled, by (place, order reported): the value,
    /// and the place of the write that followed it, once reported.
    reads: BTreeMap<(u64, u64), (i64, Option<u64>)>,
    reported: u64,
    /// Each process's read not yet followed by its write.
    open: HashMap<Pid, (u64, u64)>,
    /// How far each process that may still read has reported: the place of
    /// its last read or write. A read it has not reported yet comes after.
    frontier: HashMap<Pid, u64>,
    frontiers: BTreeMap<u64, u32>,
    /// Processes that have reported a read or a write of the number.
    readers: HashSet<Pid>,
    /// Reads made before `settled` not yet written back then, by value and
    /// by the place of their write.
    held: BTreeMap<i64, u32>,
    ends: BTreeMap<(u64, u64), i64>,
    /// The newest settled write.
    pub settled: u64,
    /// Updates lost for certain (see above).
    pub lost: u64,
}

impl Landings {
    fn set_frontier(&mut self, pid: Pid, place: Option<u64>) {
        if let Some(old) = self.frontier.remove(&pid) {
            if let Some(n) = self.frontiers.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.frontiers.remove(&old);
                }
            }
        }
        if let Some(place) = place {
            self.frontier.insert(pid, place);
            *self.frontiers.entry(place).or_default() += 1;
        }
    }

    fn spawned(&mut self, pid: Pid, ppid: Pid) {
        self.set_frontier(pid, Some(self.landed));
        if !self.readers.contains(&ppid) {
            // It starts others: it does not read the number itself.
            self.set_frontier(ppid, None);
        }
        self.settle();
    }

    fn exited(&mut self, pid: Pid) {
        self.set_frontier(pid, None);
        self.settle();
    }

    fn read(&mut self, pid: Pid, place: u64, value: i64) {
        self.readers.insert(pid);
        self.reported += 1;
        let key = (place, self.reported);
        self.reads.insert(key, (value, None));
        self.open.insert(pid, key);
        self.set_frontier(pid, Some(place));
        self.settle();
    }

    fn wrote(&mut self, pid: Pid, place: u64, value: i64) {
        self.readers.insert(pid);
        self.stores.insert(place, value);
        self.landed = self.landed.max(place);
        if let Some(key) = self.open.remove(&pid) {
            if let Some(read) = self.reads.get_mut(&key) {
                read.1 = Some(place);
            }
        }
        self.set_frontier(pid, Some(place));
        self.settle();
    }

    /// Settles every write up to the lowest frontier.
    fn settle(&mut self) {
        let limit = self
            .frontiers
            .keys()
            .next()
            .copied()
            .unwrap_or(u64::MAX)
            .min(self.landed);
        while self.settled < limit {
            let k = self.settled + 1;
            let Some(value) = self.stores.remove(&k) else {
                break;
            };
            // The reads made before write k: those not written back by it
            // hold their value. Each is reported by now, and so is its
            // write (its process has reported past k), unless it died.
            while let Some(entry) = self.reads.first_entry() {
                if entry.key().0 >= k {
                    break;
                }
                let (key, (read, end)) = entry.remove_entry();
                // A read never written back holds for good.
                let end = end.unwrap_or(u64::MAX);
                if end > k {
                    *self.held.entry(read).or_default() += 1;
                    self.ends.insert((end, key.1), read);
                }
            }
            while let Some((&(end, order), &read)) = self.ends.iter().next() {
                if end > k {
                    break;
                }
                self.ends.remove(&(end, order));
                if let Some(n) = self.held.get_mut(&read) {
                    *n -= 1;
                    if *n == 0 {
                        self.held.remove(&read);
                    }
                }
            }
            let highest = self
                .held
                .keys()
                .next_back()
                .map_or(value, |&read| read.max(value));
            let lost = i64::try_from(k).unwrap_or(i64::MAX).saturating_sub(highest);
            self.lost = self.lost.max(u64::try_from(lost).unwrap_or(0));
            self.settled = k;
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pace {
    pub paused: bool,
    /// Actions per second; `None` means no pacing.
    pub speed: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub success: u32,
    pub fail: u32,
    pub torn_read: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    pub scenario: String,
    pub seed: u64,
    pub params: serde_json::Value,
    pub parent_pid: Option<Pid>,
    pub procs: Vec<Proc>,
    index: HashMap<Pid, usize>,
    pub locks: BTreeMap<String, LockState>,
    pub queues: BTreeMap<String, QueueState>,
    /// A pool's tasks, by number.
    pub tasks: BTreeMap<u32, TaskView>,
    /// The pool's last `close`/`join`, and the last timed wait for a result.
    pub pool_calls: Vec<String>,
    pub last_wait: Option<(u32, u64, bool)>,
    /// The workers whose exits the pool's `join()` waited for, once it returned.
    pub pool_joined: Option<Vec<Pid>>,
    /// The newest page fetched by a worker (`--crawl`).
    pub last_page: Option<FetchedPage>,
    /// The newest thing a callback parsed from a page: the task, and what.
    pub last_parsed: Option<(u32, String)>,
    /// Each file's content as the parent last read it.
    pub files: BTreeMap<String, String>,
    /// The last write to each file: who, what, and what they had read.
    last_write: HashMap<String, (Pid, i64, Option<i64>)>,
    /// How many writes of a value each file has had.
    writes: HashMap<String, u64>,
    /// The newest lost update, to show how it happened.
    pub last_lost: Option<LostUpdate>,
    /// The number in memory whose writes are counted where they land.
    pub landings: Landings,
    pub manager: ManagerState,
    /// Calls on Process objects, in order.
    pub calls: Vec<ProcCall>,
    /// Deadlocks named in the stream.
    pub deadlocks: u32,
    pub outcomes: Outcomes,
    /// Reads whose text did not parse (a file another process had emptied
    /// or half written).
    pub torn_reads: u32,
    /// Reads the reader replaced by a count of its own (see
    /// [`Body::Read`]'s `reset`): a notable moment, kept on its row.
    pub resets: u32,
    /// Writes based on a stale read (see [`Proc::overwrote`]).
    pub lost_writes: u32,
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
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    pub fn proc(&self, pid: Pid) -> Option<&Proc> {
        self.index.get(&pid).map(|&i| &self.procs[i])
    }

    fn proc_mut(&mut self, pid: Option<Pid>) -> Option<&mut Proc> {
        let i = *self.index.get(&pid?)?;
        Some(&mut self.procs[i])
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

    /// Folds one event in.
    pub fn apply(&mut self, ev: &Event) {
        self.events += 1;
        self.now_ns = self.now_ns.max(ev.t_ns);
        let pid = ev.pid;
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
        let ends_a_block = matches!(
            ev.body,
            Body::Get { .. } | Body::Put { .. } | Body::TaskStart { .. }
        ) && pid
            .and_then(|p| self.proc(p))
            .is_some_and(|p| matches!(p.activity, Activity::Blocked(_)));
        if ev.is_action() && !ends_a_block {
            self.actions += 1;
            if let Some(p) = self.proc_mut(pid) {
                p.actions += 1;
                p.at_gate = None;
            }
        }
        match &ev.body {
            Body::Start {
                scenario,
                seed,
                parent_pid,
                params,
            } => {
                self.scenario = scenario.clone();
                self.seed = *seed;
                self.parent_pid = Some(*parent_pid);
                self.params = params.clone();
            }
            Body::Spawn {
                name,
                role,
                slot,
                ppid,
            } => {
                if let Some(pid) = pid {
                    self.index.insert(pid, self.procs.len());
                    self.procs.push(Proc {
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
                    self.landings.spawned(pid, *ppid);
                }
            }
            Body::Ready { action } => {
                if let Some(p) = self.proc_mut(pid) {
                    p.at_gate = Some(action.clone());
                }
            }
            Body::LockWait { lock } => {
                let state = self.locks.entry(lock.clone()).or_default();
                if let Some(pid) = pid {
                    state.waiters.push(pid);
                }
                self.set_activity(pid, Activity::WaitingForLock(lock.clone()));
            }
            Body::LockAcquire { lock } => {
                let state = self.locks.entry(lock.clone()).or_default();
                state.taken_after_death = match state.holder {
                    // Taken after its holder died holding it: seen let go.
                    Some(dead) if state.holder_dead => pid.map(|p| (dead, p)),
                    Some(_) => {
                        state.overlaps += 1;
                        None
                    }
                    None => None,
                };
                state.holder_dead = false;
                state.holder = pid;
                state.held_since_ns = ev.t_ns;
                state.acquisitions += 1;
                if let Some(pid) = pid {
                    state.waiters.remove(pid);
                }
                self.set_activity(pid, Activity::HoldingLock(lock.clone()));
            }
            Body::LockRelease { lock } => {
                let state = self.locks.entry(lock.clone()).or_default();
                if state.holder == pid {
                    state.holder = None;
                }
                self.set_activity(pid, Activity::Released(lock.clone()));
            }
            Body::Read {
                file,
                value,
                landed,
                reset,
                ..
            } => {
                if let (Some(pid), Some(place), Some(value)) = (pid, landed, value) {
                    self.landings.read(pid, *place, *value);
                }
                if value.is_none() {
                    self.torn_reads += 1;
                }
                if reset.is_some() {
                    self.resets += 1;
                }
                // Where the memory itself counts its writes, that count;
                // else the writes reported so far.
                let version = landed.unwrap_or_else(|| self.writes.get(file).copied().unwrap_or(0));
                if let Some(p) = self.proc_mut(pid) {
                    p.last_read = *value;
                    p.read_version = value.map(|_| version);
                }
                self.set_activity(pid, Activity::Read(*value))
            }
            Body::Truncate { file } => self.set_activity(pid, Activity::Truncated(file.clone())),
            Body::Write {
                file,
                value: Some(value),
                landed,
                ..
            } => {
                if let (Some(pid), Some(place)) = (pid, landed) {
                    self.landings.wrote(pid, *place, *value);
                }
                let (read, read_version) = pid
                    .and_then(|p| self.proc(p))
                    .map_or((None, None), |p| (p.last_read, p.read_version));
                let version = self.writes.entry(file.clone()).or_default();
                // Another write landed between this process's read and its
                // write: by the memory's own count where it keeps one (the
                // stream may carry two writes' reports in either order).
                let before = landed.map_or(*version, |place| place.saturating_sub(1));
                let overtaken = read_version.is_some_and(|v| v != before);
                *version += 1;
                let previous =
                    pid.and_then(|p| self.last_write.insert(file.clone(), (p, *value, read)));
                // The file was written since this process read it, and this
                // write, computed from the old read, does not carry the value
                // on past that other write in its own direction (+1 counts up,
                // a sale counts down): it undoes that other update.
                let undoes = |over_wrote: i64| {
                    read.is_some_and(|read| (value - over_wrote) * (value - read).signum() <= 0)
                };
                let lost = match previous {
                    Some((other, over_wrote, over_read))
                        if overtaken && Some(other) != pid && undoes(over_wrote) =>
                    {
                        self.last_lost = pid.map(|writer| LostUpdate {
                            file: file.clone(),
                            writer,
                            read,
                            wrote: *value,
                            over: other,
                            over_read,
                            over_wrote,
                        });
                        Some(other)
                    }
                    _ => None,
                };
                if lost.is_some() {
                    self.lost_writes += 1;
                }
                if let Some(p) = self.proc_mut(pid) {
                    p.overwrote = lost;
                }
                self.set_activity(pid, Activity::Wrote(*value));
            }
            Body::Write { file, bytes, .. } => {
                let bytes = bytes.as_deref().map_or(0, str::len);
                self.set_activity(pid, Activity::Appended(file.clone(), bytes));
            }
            Body::Sleep { ms } => self.set_activity(pid, Activity::Sleeping(*ms)),
            Body::TaskSubmit { task } => {
                self.tasks.insert(
                    *task,
                    TaskView {
                        state: TaskState::Pending,
                        callback: None,
                        result: None,
                        error: None,
                        parsed: None,
                        got: None,
                    },
                );
            }
            Body::TaskStart { task } => {
                if let (Some(t), Some(p)) = (self.tasks.get_mut(task), pid) {
                    t.state = TaskState::Running(p);
                }
                self.set_activity(pid, Activity::RunningTask(*task));
            }
            Body::TaskDone {
                task,
                ok,
                result,
                error,
                page,
                ..
            } => {
                if let (Some(t), Some(p)) = (self.tasks.get_mut(task), pid) {
                    t.state = TaskState::Ready { ok: *ok, worker: p };
                    t.result = *result;
                    t.error = error.clone();
                }
                if let (Some(page), Some(worker)) = (page, pid) {
                    self.last_page = Some(FetchedPage {
                        task: *task,
                        worker,
                        page: page.clone(),
                    });
                }
                self.set_activity(pid, Activity::FinishedTask(*task, *ok));
            }
            Body::Callback {
                task,
                thread,
                ok,
                parsed,
                ..
            } => {
                if let (Some(t), Some(p)) = (self.tasks.get_mut(task), pid) {
                    t.callback = Some((p, thread.clone(), *ok));
                    t.parsed = parsed.clone();
                }
                if let Some(parsed) = parsed {
                    self.last_parsed = Some((*task, parsed.clone()));
                }
            }
            Body::ResultWait {
                task,
                timeout_ms,
                expired,
            } => self.last_wait = Some((*task, *timeout_ms, *expired)),
            Body::PoolCall { call } => self.pool_calls.push(call.clone()),
            Body::ResultGet {
                task,
                ok,
                result,
                error_type,
                error,
            } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.got = Some(if *ok {
                        Ok(*result)
                    } else {
                        Err(format!(
                            "{}: {}",
                            error_type.as_deref().unwrap_or_default(),
                            error.as_deref().unwrap_or_default()
                        ))
                    });
                }
            }
            Body::PoolJoined { workers } => self.pool_joined = Some(workers.clone()),
            Body::Put { queue, item, depth } => {
                let by_parent = pid.is_some() && pid == self.parent_pid;
                let q = self.queue_mut(queue);
                q.measured(*depth);
                q.puts += 1;
                *q.put_items.entry(*item).or_default() += 1;
                if by_parent {
                    q.parent_items.insert(*item);
                }
                q.unblock(pid);
                self.set_activity(pid, Activity::Put(*item));
            }
            Body::Get { queue, item, depth } => {
                let q = self.queue_mut(queue);
                q.measured(*depth);
                q.gets += 1;
                *q.got_items.entry(*item).or_default() += 1;
                q.unblock(pid);
                self.set_activity(pid, Activity::Got(*item));
            }
            Body::Blocked { queue, op } => {
                if let Some(p) = pid {
                    let q = self.queue_mut(queue);
                    q.blocked.push((p, op.clone()));
                }
                self.set_activity(pid, Activity::Blocked(op.clone()));
            }
            Body::Full { queue, .. } => {
                let q = self.queue_mut(queue);
                q.full_timeouts += 1;
                q.unblock(pid);
                self.set_activity(pid, Activity::GaveUp("full".into()));
            }
            Body::Empty { queue } => {
                let q = self.queue_mut(queue);
                q.empty_timeouts += 1;
                q.unblock(pid);
                self.set_activity(pid, Activity::GaveUp("empty".into()));
            }
            Body::Qsize { queue, value } => {
                let q = self.queue_mut(queue);
                q.last_qsize = pid.map(|p| (p, *value));
                self.set_activity(pid, Activity::AskedSize(*value));
            }
            Body::QueueDepth {
                queue,
                depth,
                maxsize,
            } => {
                let q = self.queue_mut(queue);
                q.maxsize = *maxsize;
                if q.history.back() != Some(depth) || q.depth != *depth {
                    q.measured(*depth);
                }
            }
            Body::Outcome { result } => {
                match result {
                    Outcome::Success => self.outcomes.success += 1,
                    Outcome::Fail => self.outcomes.fail += 1,
                    Outcome::TornRead => self.outcomes.torn_read += 1,
                }
                if let Some(p) = self.proc_mut(pid) {
                    p.outcome = Some(*result);
                }
                self.set_activity(pid, Activity::Finished(*result));
            }
            Body::Exit { exitcode } => {
                if let Some(pid) = pid {
                    self.landings.exited(pid);
                }
                if let Some(p) = self.proc_mut(pid) {
                    p.exitcode = Some(*exitcode);
                    p.exited_ns = Some(ev.t_ns);
                    p.at_gate = None;
                    p.activity = Activity::Exited(*exitcode);
                }
                // A process that dies holding a lock or waiting for one leaves
                // the line. A dead holder stays the holder until something is
                // seen: the next acquire (the kernel let go of an flock), or a
                // deadlock named on evidence (nobody lets go of a semaphore).
                for lock in self.locks.values_mut() {
                    if lock.holder == pid && pid.is_some() {
                        lock.holder_dead = true;
                    }
                    if let Some(pid) = pid {
                        lock.waiters.remove(pid);
                    }
                }
                for queue in self.queues.values_mut() {
                    queue.unblock(pid);
                }
            }
            Body::State { state } => {
                if let Some(p) = self.proc_mut(pid) {
                    if p.alive() {
                        p.state = Some(*state);
                        // A zombie has ended: it waits for no permit.
                        if *state == 'Z' {
                            p.at_gate = None;
                        }
                    }
                }
            }
            Body::File { file, content } => {
                self.files.insert(file.clone(), content.clone());
            }
            Body::Pace { paused, speed } => {
                self.pace = Pace {
                    paused: *paused,
                    speed: *speed,
                };
            }
            Body::Request { op, .. } => {
                self.manager.requests += 1;
                self.set_activity(pid, Activity::Requested(op.clone()));
            }
            Body::Served {
                client,
                op,
                key,
                value,
                ..
            } => {
                let m = &mut self.manager;
                m.server = pid;
                m.served += 1;
                match (op.as_str(), key, value) {
                    ("dict_set", Some(k), Some(v)) => {
                        m.dict.insert(*k, *v);
                    }
                    ("list_append", _, Some(v)) => m.list.push(*v),
                    _ => {}
                }
                self.set_activity(pid, Activity::Served(op.clone(), *client));
            }
            Body::Reply { dict, list } => {
                if let Some(p) = pid {
                    self.manager.reply = Some(ReadBack {
                        by: p,
                        dict: dict.clone(),
                        list: list.clone(),
                    });
                }
            }
            Body::PlainSet { len, .. } => {
                let main = pid
                    .and_then(|p| self.proc(p))
                    .is_some_and(|p| p.role == crate::worker::MAIN_ROLE);
                match pid {
                    Some(_) if main => self.manager.main_plain = Some(*len),
                    Some(p) => {
                        self.manager.plain.insert(p, *len);
                    }
                    None => {}
                }
                self.set_activity(pid, Activity::SetPlain(*len));
            }
            Body::PlainRead { len } => self.manager.main_plain = Some(*len),
            Body::LockMade { lock, lock_kind } => {
                self.locks.entry(lock.clone()).or_default().kept_by_the_dead =
                    lock_kind == "semaphore";
            }
            Body::ProcessCall {
                call,
                target,
                result,
                alive,
                exitcode,
                ..
            } => {
                if let Some(caller) = pid {
                    self.calls.push(ProcCall {
                        caller,
                        call: call.clone(),
                        target: *target,
                        result: result.clone(),
                        alive: *alive,
                        exitcode: *exitcode,
                    });
                }
            }
            Body::Deadlock {
                lock,
                waiters,
                value,
                seen,
                ..
            } => {
                self.locks.entry(lock.clone()).or_default().deadlock = Some(DeadlockEvidence {
                    value: *value,
                    waiters: waiters.clone(),
                    seen: seen.clone(),
                });
                self.deadlocks += 1;
            }
            Body::Error { message } => self.errors.push(message.clone()),
            Body::End => self.ended = true,
            Body::Joined => {
                if let Some(p) = self.proc_mut(pid) {
                    p.exited_ns = Some(ev.t_ns);
                    p.at_gate = None;
                    p.activity = Activity::Joined;
                }
                if let Some(pid) = pid {
                    self.landings.exited(pid);
                }
            }
        }
        let sample = matches!(
            ev.body,
            Body::Ready { .. } | Body::State { .. } | Body::QueueDepth { .. }
        );
        // A step re-announces the pace it left unchanged: nothing to log.
        let unchanged_pace = matches!(ev.body, Body::Pace { .. }) && !pace_changed;
        if !sample && !unchanged_pace {
            self.log_entry(ev, pace_changed);
        }
    }

    /// Logs `ev` with its salience, marks its moment, and lets it take the
    /// narration if it matters enough.
    fn log_entry(&mut self, ev: &Event, pace_changed: bool) {
        let moment = narration::moment(ev, self);
        if let Some((moment, pids)) = &moment {
            *self.moments.entry(*moment).or_default() += 1;
            for pid in pids {
                let mark = self.marked.entry(*pid).or_insert(*moment);
                *mark = (*mark).max(*moment);
            }
        }
        let entry = LogEntry {
            seq: self.logged,
            event: ev.clone(),
            salience: match moment {
                Some(_) => Salience::Alarm,
                None => narration::salience(ev, self, pace_changed),
            },
            moment: moment.map(|(m, _)| m),
        };
        self.logged += 1;
        let new_step = ev.is_action() && ev.pid != self.parent_pid;
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

    /// How many values have been written to `file` (see [`LostUpdate`]).
    pub fn writes_of(&self, file: &str) -> u64 {
        self.writes.get(file).copied().unwrap_or(0)
    }

    /// The queue named `name`, new if unseen (a key made only then).
    fn queue_mut(&mut self, name: &str) -> &mut QueueState {
        if !self.queues.contains_key(name) {
            self.queues.insert(name.to_string(), QueueState::default());
        }
        self.queues.get_mut(name).expect("inserted above")
    }

    fn set_activity(&mut self, pid: Option<Pid>, activity: Activity) {
        if let Some(p) = self.proc_mut(pid) {
            p.activity = activity;
        }
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
