//! The pacer: the teacher's hand on the children's time.
//!
//! Children that wait at a gate are queued here (the reader forwards their
//! `ready` events). Running at N actions per second, the pacer grants one
//! permit every 1/N s to a waiting child picked at random with the run's seed,
//! as a scheduler would; paused, it grants nothing; a step grants one; a
//! step of one PID grants that child only. At `max` speed the gates are opened
//! and children run as fast as the OS schedules them.
//!
//! A step advances one instrumented action, and a paced grant waits until the
//! last one is done: until every live process is at its gate, blocked on
//! something only another can give (a lock, a full or empty queue), or gone
//! (the reader also tells the pacer of spawns, exits, locks, blocks and
//! sleeps). The pick is then among the same waiting processes, taken in slot
//! order, whatever the OS's timing was: the same seed gives the same picks.
//! A process whose threads live is taken to be joining them. The first grant
//! waits until the run's first processes and threads have all started
//! ([`crate::scenario::Scenario::actors_at_start`]). A process the pacer
//! cannot see (blocked on a pipe or in a join, say) holds grants up at most
//! [`SETTLE`] after its last news (or after its sleep ends).
//!
//! A process that holds a lock and one that asks for something else take
//! turns: when both wait, every other permit goes to a lock holder, so the
//! holder's next action never queues behind every other process's "take the
//! lock". A process blocked in the kernel needs no permit to be woken: taking
//! the lock once it is free is the end of the action it was granted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::deadlock::{self, WaitFor};
use super::schedule::{Follow, Planned, Schedule, Why};
use crate::ipc::{Gates, RunClock};
use crate::protocol::{Act, Body, Event, Name, Pid};

/// Instrumented actions per second across all processes of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Max,
    PerSecond(f64),
}

impl Speed {
    /// The steps of `+` and `-`: from one action every four seconds to no pacing.
    pub const LADDER: [f64; 13] = [
        0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
    ];

    pub fn per_second(self) -> Option<f64> {
        match self {
            Speed::Max => None,
            Speed::PerSecond(n) => Some(n),
        }
    }

    pub fn faster(self) -> Speed {
        match self {
            Speed::Max => Speed::Max,
            Speed::PerSecond(n) => Self::LADDER
                .iter()
                .find(|&&step| step > n)
                .map_or(Speed::Max, |&step| Speed::PerSecond(step)),
        }
    }

    pub fn slower(self) -> Speed {
        let n = match self {
            Speed::Max => f64::INFINITY,
            Speed::PerSecond(n) => n,
        };
        Self::LADDER
            .iter()
            .rev()
            .find(|&&step| step < n)
            .map_or(self, |&step| Speed::PerSecond(step))
    }
}

/// What the screen (or a test) asks of the pacer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PacerCmd {
    Pause,
    Resume,
    TogglePause,
    /// Let exactly one action happen (pauses first if running).
    Step,
    /// Let exactly one action of this process happen (pauses first).
    StepPid(Pid),
    SetSpeed(Speed),
    Faster,
    Slower,
}

/// How long the pacer waits, after a process's last news, for it to come to a
/// gate or be seen blocked (after a sleep: once the sleep is over).
pub const SETTLE: Duration = Duration::from_millis(500);

/// Steps asked for by hand while the last is still being done are kept, one
/// after another, up to this many (asked while nobody waits at a gate, one).
const MOST_OWED: u32 = 16;

/// How often the pacer looks in `/proc` for the evidence of a deadlock.
const LOOK_FOR_DEADLOCK: Duration = Duration::from_millis(10);

/// How often the pacer looks in `/proc` for a blocked process to be asleep.
const LOOK_AGAIN: Duration = Duration::from_millis(1);

/// Whether the task `pid` sleeps in a system call (as `/proc` shows it:
/// sleeping, in a call that is not a write of its reports).
pub(crate) fn asleep_in_kernel(pid: Pid) -> bool {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        // Gone: nothing to wait for.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
        // Unreadable: the pacer waits for it as for a busy process.
        Err(_) => return false,
    };
    // The state follows the command's closing parenthesis.
    let sleeping = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "S" || state == "D");
    match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        Ok(call) => {
            let number = call.split_whitespace().next();
            let number = number.and_then(|n| n.parse::<i64>().ok());
            sleeping && number.is_some_and(|n| n >= 0 && n != nix::libc::SYS_write)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        // Where the call cannot be read (a kernel without it, a ptrace
        // policy), the state alone says it sleeps.
        Err(_) => sleeping,
    }
}

/// What reaches the pacer's thread.
#[derive(Debug, Clone)]
pub(crate) enum PacerInput {
    Cmd(PacerCmd),
    Ready {
        pid: Pid,
        slot: u32,
        action: Act,
    },
    /// What a process did that tells whether the pacer must wait for it.
    Seen {
        pid: Pid,
        seen: Seen,
    },
    /// Several of the above, in order: what one batch of the stream told
    /// (one message, so that a busy run wakes the pacer once a batch).
    Many(Vec<PacerInput>),
    Stop,
}

/// The news of a process that the pacer follows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    /// Started at gate `slot`; a thread names its process (`thread_of`).
    Spawn {
        slot: u32,
        thread_of: Option<Pid>,
    },
    Exit,
    LockWait(Name),
    LockAcquire(Name),
    LockRelease(Name),
    /// A timed or non-blocking acquire returned without the lock.
    LockGaveUp,
    LockMade {
        lock: Name,
        kind: Name,
    },
    /// Blocked until another process acts: on the manager's socket (a
    /// worker that asked, the server that answered).
    Blocked,
    /// Blocked on a queue: `wait` is the queue and the operation
    /// ([`queue_wait`]).
    QueueBlocked {
        wait: Name,
    },
    /// A put or get (or its timeout) done: it `ends` a block of that
    /// operation if the process was blocked, and `frees` a slot or an item
    /// that wakes one blocked on the other operation.
    QueueDone {
        ends: Name,
        frees: Option<Name>,
    },
    /// A put or get that blocked gave up (its timeout): no slot or item
    /// was handed to it.
    QueueGaveUp {
        ends: Name,
    },
    Sleep {
        ms: u64,
    },
}

impl Seen {
    /// The news in `body`, if the pacer follows it.
    pub(crate) fn of(body: &Body) -> Option<Seen> {
        Some(match body {
            Body::Spawn {
                role, ppid, slot, ..
            } => Seen::Spawn {
                slot: *slot,
                thread_of: (role == "thread").then_some(*ppid),
            },
            // A thread is gone once joined.
            Body::Exit { .. } | Body::Joined => Seen::Exit,
            Body::LockWait { lock } => Seen::LockWait(lock.clone()),
            Body::LockAcquire { lock } => Seen::LockAcquire(lock.clone()),
            Body::LockRelease { lock } => Seen::LockRelease(lock.clone()),
            Body::LockGaveUp { .. } => Seen::LockGaveUp,
            Body::LockMade { lock, lock_kind } => Seen::LockMade {
                lock: lock.clone(),
                kind: lock_kind.as_str().into(),
            },
            // Waits until the queue changes, for the server's answer, for
            // the next request.
            Body::Blocked { queue, op } => Seen::QueueBlocked {
                wait: queue_wait(queue, op),
            },
            Body::Put { queue, .. } => Seen::QueueDone {
                ends: queue_wait(queue, "put"),
                frees: Some(queue_wait(queue, "get")),
            },
            Body::Get { queue, .. } => Seen::QueueDone {
                ends: queue_wait(queue, "get"),
                frees: Some(queue_wait(queue, "put")),
            },
            Body::Full { queue, .. } => Seen::QueueGaveUp {
                ends: queue_wait(queue, "put"),
            },
            Body::Empty { queue } => Seen::QueueGaveUp {
                ends: queue_wait(queue, "get"),
            },
            Body::Request { .. } | Body::Served { .. } => Seen::Blocked,
            Body::Sleep { ms } => Seen::Sleep { ms: *ms },
            _ => return None,
        })
    }
}

/// What a process blocked on `queue` waits to do (`put` or `get`), as the
/// pacer names it beside the locks.
fn queue_wait(queue: &str, op: &str) -> Name {
    compact_str::format_compact!("{queue}:{op}")
}

/// What a live process is doing, as far as the pacer knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Doing {
    /// Started, or granted and not yet back at a gate: the pacer waits.
    Busy,
    AtGate,
    /// Waits for another process (a lock, a queue).
    Blocked,
}

#[derive(Debug)]
struct Actor {
    doing: Doing,
    /// Until when a grant waits for it while it is busy.
    busy_until: Instant,
    /// The lock it is blocked on.
    waits_for: Option<Name>,
    /// How many locks it holds.
    holds: u32,
    /// For a thread: its process, which waits for its threads (joins them)
    /// and is not waited for while one of them lives.
    thread_of: Option<Pid>,
    slot: u32,
    /// Blocked, and seen asleep in the kernel (not only about to be): from
    /// then on, what wakes it is the kernel's to pick among those asleep,
    /// in the order they went to sleep.
    asleep: bool,
    /// When it was last granted or heard from.
    news_at: Instant,
    /// Busy, but seen asleep in the kernel a while after its last news:
    /// waiting on something the pacer does not see (see [`Pacer::idle_after`]).
    idle: bool,
}

pub(crate) struct Pacer {
    gates: Arc<Gates>,
    out: Sender<Vec<Event>>,
    clock: RunClock,
    rng: fastrand::Rng,
    paused: bool,
    speed: Speed,
    /// Who waits at a gate, by slot: the pick's order does not depend on
    /// the order in which they arrived.
    waiting: BTreeMap<u32, Pid>,
    actors: HashMap<Pid, Actor>,
    /// How many processes the run starts with, and how many have spawned.
    initial: u32,
    spawned: u32,
    /// Locks let go while someone was blocked on them: the kernel is handing
    /// each to one of them.
    handover: HashSet<Name>,
    /// Past this, a grant stops waiting for the processes still to spawn
    /// and for a lock's handover.
    settle_by: Instant,
    /// Whether the last of two lanes to get a permit was the lock holders'.
    holder_went_last: bool,
    /// A step asked for while nobody was at a gate applies to the next
    /// process that reaches one. At most one is kept: pressing `n` five times
    /// while everyone sleeps must not become a burst of five later.
    owed: u32,
    owed_pid: Option<Pid>,
    next_grant: Instant,
    /// A rerun's plan and where it is in it, until the run leaves it.
    follow: Option<Follow>,
    /// What each process at a gate waits to do, by slot.
    asked: HashMap<u32, Act>,
    /// The slots whose process has exited.
    exited: HashSet<u32>,
    /// A rerun waits for the main process too (a paced run does not), from
    /// a grant until it is back at its gate, for at most [`SETTLE`]: its
    /// slot, and until when.
    main_busy: Option<(u32, Instant)>,
    /// What the main process is blocked on (a put on a full queue), which
    /// a process that frees it hands over as a lock.
    main_waits_for: Option<Name>,
    /// Blocks on a queue seen ended before what ended them: a woken
    /// process's put or get may be stamped before the get or put that
    /// freed it (each is stamped once done), so the stream can tell the
    /// wake first. By what they waited for.
    woken_early: HashMap<Name, u32>,
    /// Where processes wait on much the pacer does not see (a user's
    /// program, `mpviz run`: a join, a pool's own queues, a manager's
    /// socket): a busy process seen asleep in the kernel this long after
    /// its last news is taken to wait, not to act, and holds no grant up.
    idle_after: Option<Duration>,
    /// Who holds and who waits for each lock, for deadlocks.
    waits: WaitFor,
    /// Whether the locks changed since the last look for a cycle.
    waits_changed: bool,
    /// A cycle found, not yet named: its evidence is still to be seen.
    suspect: Option<Vec<(Pid, Name)>>,
    /// The cycles named, by their processes.
    named: HashSet<Vec<Pid>>,
    /// The gate slots of the processes in the order they spawned: where a
    /// rerun's plan names them so ([`Schedule::by_spawn_order`]).
    spawn_order: Vec<u32>,
    /// Pause once the plan is done, instead of going on as a free run.
    pause_after_plan: bool,
}

impl Pacer {
    pub(crate) fn new(
        gates: Arc<Gates>,
        out: Sender<Vec<Event>>,
        clock: RunClock,
        seed: u64,
        speed: Speed,
        paused: bool,
        initial: u32,
    ) -> Pacer {
        let pacer = Pacer {
            gates,
            out,
            clock,
            rng: fastrand::Rng::with_seed(seed ^ 0x005e_ed0f_9ace),
            paused,
            speed,
            waiting: BTreeMap::new(),
            actors: HashMap::new(),
            initial,
            spawned: 0,
            handover: HashSet::new(),
            settle_by: Instant::now() + SETTLE,
            holder_went_last: false,
            owed: 0,
            owed_pid: None,
            next_grant: Instant::now(),
            follow: None,
            asked: HashMap::new(),
            exited: HashSet::new(),
            main_busy: None,
            main_waits_for: None,
            woken_early: HashMap::new(),
            idle_after: None,
            waits: WaitFor::default(),
            waits_changed: false,
            suspect: None,
            named: HashSet::new(),
            spawn_order: Vec::new(),
            pause_after_plan: false,
        };
        pacer.apply_mode();
        pacer
    }

    /// A rerun's pacer: it grants the permits in `plan`'s order.
    pub(crate) fn following(mut self, plan: Option<Arc<Schedule>>) -> Pacer {
        self.follow = plan.map(Follow::new);
        self.apply_mode();
        self
    }

    /// A pacer of processes that wait on much it does not see: see
    /// [`Pacer::idle_after`].
    pub(crate) fn idle_after(mut self, after: Option<Duration>) -> Pacer {
        self.idle_after = after;
        self
    }

    /// A pacer that pauses once its plan is done (see
    /// [`crate::engine::RunOptions::pause_after_plan`]).
    pub(crate) fn pausing_after_plan(mut self, pause: bool) -> Pacer {
        self.pause_after_plan = pause;
        self
    }

    /// Whether the gates are open: running at `max`, unless a rerun's plan
    /// is followed (at `max` a rerun grants each step as soon as it can,
    /// still one by one).
    fn free_running(&self) -> bool {
        !self.paused && self.speed == Speed::Max && self.follow.is_none()
    }

    fn apply_mode(&self) {
        self.gates.set_free(self.free_running());
    }

    /// Sets the gates for the mode, as the run goes on. Opening them is
    /// announced first: in the stream a `pace` that lets the run go free
    /// comes before any action a process takes with no grant (the fold
    /// counts on it: see `model::files::Landings`). True if it announced.
    fn switch_mode(&self) -> bool {
        let free = self.free_running();
        let opening = free && !self.gates.is_free();
        if opening {
            self.announce();
        }
        self.gates.set_free(free);
        opening
    }

    fn announce(&self) {
        let body = Body::Pace {
            paused: self.paused,
            speed: self.speed.per_second(),
        };
        let _ = self
            .out
            .send(vec![Event::new(self.clock.now(), None, body)]);
    }

    fn grant_slot(&mut self, slot: u32) {
        self.asked.remove(&slot);
        if let Some(pid) = self.waiting.remove(&slot) {
            let until = Instant::now() + SETTLE;
            if let Some(actor) = self.actors.get_mut(&pid) {
                actor.doing = Doing::Busy;
                actor.busy_until = until;
                actor.news_at = Instant::now();
                actor.idle = false;
            }
            self.settle_by = until;
            // Sent before the permit is given: what the permit lets the
            // process do reaches the stream after it, through the pipe and
            // the reader, so the stream has each grant before its action
            // (and the process's next `ready` after it).
            let grant = Body::Grant {
                slot,
                permit: u64::from(self.gates.granted(slot)) + 1,
            };
            let t_ns = self.clock.now();
            let _ = self.out.send(vec![Event::new(t_ns, Some(pid), grant)]);
            self.gates.grant(slot);
        }
    }

    fn holds_a_lock(&self, pid: Pid) -> bool {
        self.actors.get(&pid).is_some_and(|a| a.holds > 0)
    }

    /// Grants a waiting process picked with the seeded RNG, in slot order;
    /// lock holders and the others take turns when both wait.
    fn grant_random(&mut self) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        let (mut holders, mut others) = (Vec::new(), Vec::new());
        for (&slot, &pid) in &self.waiting {
            if self.holds_a_lock(pid) {
                holders.push(slot);
            } else {
                others.push(slot);
            }
        }
        let holders_turn = !holders.is_empty() && (others.is_empty() || !self.holder_went_last);
        self.holder_went_last = holders_turn;
        let lane = if holders_turn { holders } else { others };
        let slot = lane[self.rng.usize(..lane.len())];
        self.grant_slot(slot);
        true
    }

    fn grant_pid(&mut self, pid: Pid) -> bool {
        match self.waiting.iter().find(|&(_, &p)| p == pid) {
            Some((&slot, _)) => {
                self.grant_slot(slot);
                true
            }
            None => false,
        }
    }

    /// When the last action is done: every live process is at a gate,
    /// blocked on another, or gone, and no lock is being handed over; or
    /// when the pacer stops waiting for those that are not.
    fn settled_at(&self) -> Option<Instant> {
        let mut at = None;
        if self.spawned < self.initial || !self.handover.is_empty() {
            at = Some(self.settle_by);
        }
        let joining: HashSet<Pid> = self.actors.values().filter_map(|a| a.thread_of).collect();
        for (pid, actor) in &self.actors {
            let unsure = actor.doing == Doing::Blocked && !actor.asleep;
            let busy = actor.doing == Doing::Busy && !actor.idle;
            if (busy || unsure) && !joining.contains(pid) {
                at = at.max(Some(actor.busy_until));
            }
        }
        at
    }

    /// Looks in `/proc` for the blocked processes not yet seen asleep in
    /// the kernel. A process reports that it blocks just before it calls
    /// the kernel: until it sleeps there, the next action could be the one
    /// that lets it through without sleeping, and which of several blocked
    /// processes a release wakes would be a matter of timing. Returns
    /// whether some are still to be seen.
    fn look_for_sleepers(&mut self) -> bool {
        let mut unsure = false;
        let now = Instant::now();
        for (&pid, actor) in &mut self.actors {
            if actor.doing == Doing::Blocked && !actor.asleep {
                actor.asleep = asleep_in_kernel(pid);
                unsure |= !actor.asleep;
            }
            if let Some(after) = self.idle_after {
                if actor.doing == Doing::Busy && !actor.idle && now < actor.busy_until {
                    actor.idle = now >= actor.news_at + after && asleep_in_kernel(pid);
                    unsure |= !actor.idle;
                }
            }
        }
        unsure
    }

    fn settled(&self, now: Instant) -> bool {
        self.settled_at().map_or(true, |at| now >= at)
    }

    /// Follows what a process did (see [`Seen`]).
    fn seen(&mut self, pid: Pid, seen: Seen) {
        let now = Instant::now();
        self.follow_locks(pid, &seen);
        self.settle_by = self.settle_by.max(now + SETTLE);
        if let Some(follow) = &mut self.follow {
            follow.moved();
        }
        if let Seen::Spawn { slot, thread_of } = seen {
            self.spawned += 1;
            self.spawn_order.push(slot);
            self.actors.insert(
                pid,
                Actor {
                    doing: Doing::Busy,
                    busy_until: now + SETTLE,
                    waits_for: None,
                    holds: 0,
                    thread_of,
                    slot,
                    asleep: false,
                    news_at: now,
                    idle: false,
                },
            );
            return;
        }
        if seen == Seen::Exit {
            if let Some(actor) = self.actors.remove(&pid) {
                self.exited.insert(actor.slot);
                self.asked.remove(&actor.slot);
            }
            self.waiting.retain(|_, &mut p| p != pid);
            let blocked: HashSet<&Name> = self
                .actors
                .values()
                .filter_map(|a| a.waits_for.as_ref())
                .chain(&self.main_waits_for)
                .collect();
            self.handover.retain(|lock| blocked.contains(lock));
            return;
        }
        if let Some(actor) = self.actors.get_mut(&pid) {
            actor.busy_until = actor.busy_until.max(now + SETTLE);
            actor.news_at = now;
            actor.idle = false;
        }
        let released = match (&seen, self.actors.get_mut(&pid)) {
            // The main process is no actor, but it may block on a queue,
            // and what it puts wakes one.
            (Seen::QueueBlocked { wait }, None) => {
                self.main_waits_for = Some(wait.clone());
                self.main_busy = None;
                None
            }
            (Seen::QueueDone { ends, frees }, None) => {
                if self.main_waits_for.as_ref() == Some(ends) {
                    self.main_waits_for = None;
                    self.woken(ends);
                }
                frees.clone()
            }
            (Seen::QueueGaveUp { ends }, None) => {
                if self.main_waits_for.as_ref() == Some(ends) {
                    self.main_waits_for = None;
                }
                None
            }
            (_, None) => return,
            (Seen::LockWait(lock), Some(actor)) => {
                actor.doing = Doing::Blocked;
                actor.asleep = false;
                actor.waits_for = Some(lock.clone());
                None
            }
            (Seen::LockAcquire(lock), Some(actor)) => {
                actor.doing = Doing::Busy;
                actor.waits_for = None;
                actor.holds += 1;
                self.handover.remove(lock);
                None
            }
            (Seen::LockRelease(lock), Some(actor)) => {
                actor.holds = actor.holds.saturating_sub(1);
                Some(lock.clone())
            }
            (Seen::LockMade { .. }, Some(_)) => None,
            (Seen::LockGaveUp, Some(actor)) => {
                actor.doing = Doing::Busy;
                actor.waits_for = None;
                None
            }
            (Seen::Blocked, Some(actor)) => {
                actor.doing = Doing::Blocked;
                actor.asleep = false;
                None
            }
            (Seen::QueueBlocked { wait }, Some(actor)) => {
                actor.doing = Doing::Blocked;
                actor.asleep = false;
                actor.waits_for = Some(wait.clone());
                None
            }
            (Seen::QueueDone { ends, frees }, Some(actor)) => {
                if actor.waits_for.as_ref() == Some(ends) {
                    // Woken: it goes on to its next gate.
                    actor.doing = Doing::Busy;
                    actor.waits_for = None;
                    self.woken(ends);
                }
                frees.clone()
            }
            (Seen::QueueGaveUp { ends }, Some(actor)) => {
                if actor.waits_for.as_ref() == Some(ends) {
                    actor.doing = Doing::Busy;
                    actor.waits_for = None;
                }
                None
            }
            (Seen::Sleep { ms }, Some(actor)) => {
                let wakes = now + Duration::from_millis(*ms) + SETTLE;
                actor.busy_until = actor.busy_until.max(wakes);
                None
            }
            (Seen::Spawn { .. } | Seen::Exit, Some(_)) => None,
        };
        if matches!(seen, Seen::QueueGaveUp { .. }) {
            // Nothing is handed over to a wait nobody waits anymore.
            let waited: HashSet<Name> = self
                .actors
                .values()
                .filter_map(|a| a.waits_for.clone())
                .chain(self.main_waits_for.clone())
                .collect();
            self.handover.retain(|w| waited.contains(w));
        }
        // A lock let go, a slot or an item freed: one of those blocked on it
        // is being woken by the kernel.
        if let Some(lock) = released {
            if let Some(early) = self.woken_early.get_mut(&lock).filter(|n| **n > 0) {
                // The one it woke has already been seen going on.
                *early -= 1;
                return;
            }
            let waited_on = self
                .actors
                .values()
                .filter_map(|a| a.waits_for.as_ref())
                .chain(&self.main_waits_for)
                .any(|w| *w == lock);
            if waited_on {
                self.handover.insert(lock);
            }
        }
    }

    /// A block on a queue has ended: the handover of what it waited for is
    /// over, or, not begun yet in the stream, will be when it comes.
    fn woken(&mut self, wait: &Name) {
        if !self.handover.remove(wait) {
            *self.woken_early.entry(wait.clone()).or_default() += 1;
        }
    }

    fn command(&mut self, cmd: PacerCmd) {
        match cmd {
            PacerCmd::Pause => self.paused = true,
            PacerCmd::Resume => self.paused = false,
            PacerCmd::TogglePause => self.paused = !self.paused,
            // A rerun's step is its plan's next, once the last is done.
            PacerCmd::Step if self.follow.is_some() => {
                self.paused = true;
                self.owed = 1;
            }
            // A step by hand is granted once the last action is done (in
            // `step_by_hand`), a sleep included (another process's next
            // action may be on the sleeper: a kill), so that each step's
            // action happens alone, as a rerun will repeat it.
            PacerCmd::Step => {
                self.paused = true;
                self.owed = if self.waiting.is_empty() {
                    1
                } else {
                    (self.owed + 1).min(MOST_OWED)
                };
                self.owed_pid = None;
            }
            PacerCmd::StepPid(pid) if self.follow.is_some() && self.plans(pid) => {
                self.paused = true;
                self.owed = 1;
            }
            PacerCmd::StepPid(pid) => {
                // Another process than the plan's next: the rerun leaves it
                // (a step owed to the plan is not the pacer's to pick).
                self.owed = 0;
                self.diverge(Why::ByHand);
                self.paused = true;
                self.owed_pid = Some(pid);
            }
            PacerCmd::SetSpeed(speed) => self.speed = speed,
            PacerCmd::Faster => self.speed = self.speed.faster(),
            PacerCmd::Slower => self.speed = self.speed.slower(),
        }
        if matches!(
            cmd,
            PacerCmd::Resume
                | PacerCmd::TogglePause
                | PacerCmd::SetSpeed(_)
                | PacerCmd::Faster
                | PacerCmd::Slower
        ) {
            // A new rhythm starts now, not at the old speed's next beat.
            self.next_grant = Instant::now();
        }
        if !self.paused {
            self.owed = 0;
            self.owed_pid = None;
        }
        let announced = self.switch_mode();
        if self.free_running() {
            while self.grant_random() {}
        }
        if !announced {
            self.announce();
        }
        self.step_by_hand(Instant::now());
    }

    fn ready(&mut self, pid: Pid, slot: u32, action: Act) {
        self.waiting.insert(slot, pid);
        self.asked.insert(slot, action);
        if let Some(actor) = self.actors.get_mut(&pid) {
            actor.doing = Doing::AtGate;
            actor.waits_for = None;
        }
        if let Some(follow) = &mut self.follow {
            // Granted by the plan (`follow`), in the run loop.
            follow.moved();
            if self.main_busy.is_some_and(|(s, _)| s == slot) {
                self.main_busy = None;
            }
            return;
        }
        if self.free_running() {
            self.grant_random();
        } else {
            self.step_by_hand(Instant::now());
        }
    }

    /// A step asked for by hand, if one is owed and can be granted: its
    /// process (or, for `n`, someone) waits at its gate.
    fn owes_a_step(&self) -> bool {
        self.follow.is_none()
            && self.paused
            && match self.owed_pid {
                Some(pid) => self.waiting.values().any(|&p| p == pid),
                None => self.owed > 0 && !self.waiting.is_empty(),
            }
    }

    /// Grants the step owed by hand once the last action is done (else the
    /// run loop looks again when `due_in` says).
    fn step_by_hand(&mut self, now: Instant) {
        if !self.owes_a_step() {
            return;
        }
        self.look_for_sleepers();
        if self.settled_at().is_some_and(|at| at > now) {
            return;
        }
        match self.owed_pid.take() {
            Some(pid) => {
                self.grant_pid(pid);
            }
            None => {
                self.owed -= 1;
                self.grant_random();
            }
        }
    }

    /// Follows who holds and who waits for each lock (see [`deadlock`]).
    fn follow_locks(&mut self, pid: Pid, seen: &Seen) {
        match seen {
            Seen::LockWait(lock) => self.waits.wait(pid, lock),
            Seen::LockAcquire(lock) => self.waits.acquire(pid, lock),
            Seen::LockRelease(lock) => self.waits.release(pid, lock),
            Seen::LockGaveUp => self.waits.gave_up(pid),
            Seen::LockMade { lock, kind } => self.waits.made(lock, kind),
            Seen::Exit => self.waits.exited(pid),
            _ => return,
        }
        self.waits_changed = true;
    }

    /// Looks for a deadlock: a cycle of waits in the reports, then its
    /// evidence in `/proc`; names it once every process of it is seen
    /// stuck. Returns whether a cycle waits for its evidence (look again
    /// soon).
    fn look_for_deadlock(&mut self) -> bool {
        if std::mem::take(&mut self.waits_changed) {
            self.suspect = self.waits.cycle().filter(|cycle| {
                let pids: Vec<Pid> = cycle.iter().map(|(p, _)| *p).collect();
                !self.named.contains(&pids)
            });
        }
        let Some(cycle) = &self.suspect else {
            return false;
        };
        let seen: Option<Vec<_>> = cycle
            .iter()
            .map(|(pid, _)| deadlock::evidence(*pid))
            .collect();
        let Some(seen) = seen else {
            return true;
        };
        let cycle = self.suspect.take().unwrap_or_default();
        self.named.insert(cycle.iter().map(|(p, _)| *p).collect());
        let body = Body::DeadlockCycle { cycle, seen };
        let _ = self
            .out
            .send(vec![Event::new(self.clock.now(), None, body)]);
        false
    }

    /// Whether a blocked process is still to be seen asleep in the kernel
    /// (or, where the pacer looks for them, a busy one to be seen idle).
    fn unsure_sleepers(&self) -> bool {
        let now = Instant::now();
        self.actors.values().any(|a| {
            (a.doing == Doing::Blocked && !a.asleep)
                || (self.idle_after.is_some()
                    && a.doing == Doing::Busy
                    && !a.idle
                    && now < a.busy_until)
        })
    }

    /// How long to sleep before the next paced grant is due, if one is:
    /// its beat has come and the last action is done (or waited for long
    /// enough).
    fn due_in(&self) -> Option<Duration> {
        if self.owes_a_step() {
            let now = Instant::now();
            let mut at = self.settled_at().unwrap_or(now);
            if self.unsure_sleepers() {
                at = at.min(now + LOOK_AGAIN);
            }
            return Some(at.saturating_duration_since(now));
        }
        match (self.paused, self.speed, self.waiting.is_empty()) {
            (false, Speed::PerSecond(_), false) => {
                let mut beat = self
                    .next_grant
                    .max(self.settled_at().unwrap_or(self.next_grant));
                if self.unsure_sleepers() {
                    // Looks again in /proc (in `tick`) soon.
                    beat = beat.min(self.next_grant.max(Instant::now() + LOOK_AGAIN));
                }
                Some(beat.saturating_duration_since(Instant::now()))
            }
            _ => None,
        }
    }

    fn tick(&mut self) {
        if self.owes_a_step() {
            self.step_by_hand(Instant::now());
            return;
        }
        if let (false, Speed::PerSecond(_)) = (self.paused, self.speed) {
            self.look_for_sleepers();
            let now = Instant::now();
            if now >= self.next_grant && self.settled(now) && self.grant_random() {
                self.beat(now);
            }
        }
    }

    /// After a paced grant: when the next is due.
    fn beat(&mut self, now: Instant) {
        let interval = match self.speed {
            Speed::PerSecond(n) => Duration::from_secs_f64(1.0 / n),
            Speed::Max => Duration::ZERO,
        };
        // Keep the rhythm, but bank no grants for a time nobody waited.
        let next = self.next_grant + interval;
        self.next_grant = if next < now { now + interval } else { next };
    }

    /// Whether `pid` is the process a rerun's plan grants next.
    fn plans(&self, pid: Pid) -> bool {
        let slot = self
            .waiting
            .iter()
            .find(|&(_, &p)| p == pid)
            .map(|(&slot, _)| slot)
            .or_else(|| self.actors.get(&pid).map(|a| a.slot));
        let next = self.follow.as_ref().and_then(Follow::step).map(|s| s.slot);
        slot.is_some() && slot == next.map(|n| self.live_slot(n))
    }

    /// The gate slot a rerun's plan means by `planned`: itself, or where
    /// the plan counts spawns, the slot of the process that spawned in that
    /// place (`u32::MAX`, no slot, while none has).
    fn live_slot(&self, planned: u32) -> u32 {
        match &self.follow {
            Some(follow) if follow.plan().by_spawn_order => self
                .spawn_order
                .get(planned as usize)
                .copied()
                .unwrap_or(u32::MAX),
            _ => planned,
        }
    }

    /// A rerun: grants the plan's next step once it is due (its beat has
    /// come, or a step was asked for, and the last action is done) and its
    /// process is at its gate to do what the recording did; leaves the plan
    /// when the process is elsewhere. Returns when to look again (`None`:
    /// at the next input).
    fn follow_next(&mut self, now: Instant) -> Option<Instant> {
        let follow = self.follow.as_ref()?;
        let Some(mut step) = follow.step().cloned() else {
            if self.pause_after_plan {
                // Replayed: the rest is the learner's, one step at a time.
                self.follow = None;
                self.paused = true;
                self.owed = 0;
                if !self.switch_mode() {
                    self.announce();
                }
                return None;
            }
            // The plan is done. A process that comes to a gate still
            // does what the recording never did (it was stopped before the
            // run's end): said, and a run like any other from there.
            if self.waiting.is_empty() {
                return None;
            }
            self.diverge(Why::Ended);
            return Some(now);
        };
        step.slot = self.live_slot(step.slot);
        if self.paused && self.owed == 0 {
            return None;
        }
        let unsure = self.look_for_sleepers();
        let mut due = self.settled_at().unwrap_or(now);
        if unsure {
            due = due.min(now + LOOK_AGAIN);
        }
        if let Some((_, until)) = self.main_busy {
            due = due.max(until);
        }
        if !self.paused {
            due = due.max(self.next_grant);
        }
        if now < due {
            return Some(due);
        }
        if self.waiting.contains_key(&step.slot) {
            let found = self.asked.get(&step.slot);
            let same = match (&step.action, found) {
                (None, _) => true,
                // Every value the plan keeps (not a PID of the recorded run).
                (Some(planned), Some(found)) => {
                    planned.action == found.action
                        && planned
                            .args
                            .iter()
                            .all(|(k, v)| found.args.get(k) == Some(v))
                }
                (Some(_), None) => false,
            };
            if !same {
                self.diverge(Why::OtherAction);
                return Some(now);
            }
            if let Some(follow) = &mut self.follow {
                follow.granted();
            }
            let pid = self.waiting[&step.slot];
            if !self.actors.contains_key(&pid) {
                self.main_busy = Some((step.slot, now + SETTLE));
            }
            self.grant_slot(step.slot);
            if self.paused {
                self.owed = 0;
            } else {
                self.beat(now);
            }
            return Some(now);
        }
        let actor = self.actors.values().find(|a| a.slot == step.slot);
        if actor.is_none() && self.exited.contains(&step.slot) {
            self.diverge(Why::Exited);
            return Some(now);
        }
        // Not at its gate yet: a blocked process may be about to be woken,
        // a busy one to arrive.
        let blocked = actor.is_some_and(|a| a.doing == Doing::Blocked);
        let until = self.follow.as_mut()?.stuck(now);
        if now >= until {
            self.diverge(if blocked {
                Why::Blocked
            } else {
                Why::NotAtGate
            });
            return Some(now);
        }
        Some(until)
    }

    /// The rerun leaves its plan: says where and why, and goes on as a run
    /// like any other.
    fn diverge(&mut self, why: Why) {
        let Some(follow) = self.follow.take() else {
            return;
        };
        let past_the_end = Planned {
            slot: self.waiting.keys().next().copied().unwrap_or_default(),
            action: None,
            exact: true,
        };
        if let Some(step) = follow
            .step()
            .or((why == Why::Ended).then_some(&past_the_end))
        {
            let slot = step.slot;
            let pid = self.waiting.get(&slot).copied().or_else(|| {
                self.actors
                    .iter()
                    .find(|(_, a)| a.slot == slot)
                    .map(|(&p, _)| p)
            });
            let body = Body::Diverged {
                step: follow.next as u64 + 1,
                slot,
                why: why.name(),
                expected: step.action.clone(),
                found: self.asked.get(&slot).cloned(),
            };
            let _ = self.out.send(vec![Event::new(self.clock.now(), pid, body)]);
        }
        self.switch_mode();
        if self.free_running() {
            while self.grant_random() {}
        } else if self.paused && self.owed > 0 && self.grant_random() {
            self.owed = 0;
        }
    }

    pub(crate) fn run(mut self, inputs: Receiver<PacerInput>) {
        if let Some(follow) = &self.follow {
            let body = Body::Rerun {
                steps: follow.plan().steps.len() as u64,
                inexact: follow.plan().inexact(),
            };
            let _ = self
                .out
                .send(vec![Event::new(self.clock.now(), None, body)]);
        }
        self.announce();
        loop {
            let suspect = self.look_for_deadlock();
            let wait = if self.follow.is_some() {
                let now = Instant::now();
                self.follow_next(now)
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                self.due_in()
            };
            // A cycle whose evidence is still to come: looked at again soon.
            let wait = match (suspect, wait) {
                (true, wait) => Some(wait.map_or(LOOK_FOR_DEADLOCK, |w| w.min(LOOK_FOR_DEADLOCK))),
                (false, wait) => wait,
            };
            let input = match wait {
                Some(wait) if wait.is_zero() => {
                    if self.follow.is_none() {
                        self.tick();
                    }
                    continue;
                }
                Some(wait) => match inputs.recv_timeout(wait) {
                    Ok(input) => input,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        if self.follow.is_none() {
                            self.tick();
                        }
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                },
                None => match inputs.recv() {
                    Ok(input) => input,
                    Err(_) => return,
                },
            };
            if !self.take(input) {
                return;
            }
        }
    }

    /// Handles one input; false once told to stop.
    fn take(&mut self, input: PacerInput) -> bool {
        match input {
            PacerInput::Cmd(cmd) => self.command(cmd),
            PacerInput::Ready { pid, slot, action } => self.ready(pid, slot, action),
            PacerInput::Seen { pid, seen } => self.seen(pid, seen),
            PacerInput::Many(inputs) => {
                for input in inputs {
                    if !self.take(input) {
                        return false;
                    }
                }
            }
            PacerInput::Stop => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_ladder_climbs_to_max_and_back() {
        assert_eq!(Speed::PerSecond(10.0).faster(), Speed::PerSecond(20.0));
        assert_eq!(Speed::PerSecond(5000.0).faster(), Speed::Max);
        assert_eq!(Speed::Max.slower(), Speed::PerSecond(5000.0));
        assert_eq!(Speed::PerSecond(0.25).slower(), Speed::PerSecond(0.25));
        assert_eq!(Speed::PerSecond(3.0).slower(), Speed::PerSecond(2.0));
        assert_eq!(Speed::PerSecond(3.0).faster(), Speed::PerSecond(5.0));
    }

    fn pacer(paused: bool, speed: Speed) -> (Pacer, Arc<Gates>, Receiver<Vec<Event>>) {
        let (gates, _fd) = Gates::create(4).unwrap();
        let gates = Arc::new(gates);
        let (tx, rx) = crossbeam_channel::unbounded();
        let p = Pacer::new(gates.clone(), tx, RunClock::start(), 1, speed, paused, 0);
        (p, gates, rx)
    }

    fn total(gates: &Gates) -> u32 {
        (0..4).map(|s| gates.granted(s)).sum()
    }

    #[test]
    fn paused_pacer_grants_nothing_and_a_step_grants_exactly_one() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1000.0));
        for slot in 0..3 {
            p.ready(100 + slot as Pid, slot, Act::new("go"));
        }
        p.tick();
        assert_eq!(total(&gates), 0);
        p.command(PacerCmd::Step);
        assert_eq!(total(&gates), 1);
        assert_eq!(p.waiting.len(), 2);
    }

    #[test]
    fn steps_asked_while_the_last_is_being_done_are_kept_and_taken_one_by_one() {
        let (mut p, gates) = pacer_of(3, true, Speed::PerSecond(1.0), 1);
        for slot in 0..3 {
            p.ready(100 + slot as Pid, slot, Act::new("go"));
        }
        let mut before = vec![0; 3];
        for _ in 0..3 {
            p.command(PacerCmd::Step);
        }
        let mut order = granted_since(&gates, &mut before);
        assert_eq!(order.len(), 1, "one at a time");
        for _ in 0..2 {
            let last = *order.last().unwrap();
            p.ready(100 + last as Pid, last, Act::new("go"));
            order.extend(granted_since(&gates, &mut before));
        }
        assert_eq!(order.len(), 3, "{order:?}");
        let last = *order.last().unwrap();
        p.ready(100 + last as Pid, last, Act::new("go"));
        assert!(granted_since(&gates, &mut before).is_empty(), "three asked");
    }

    #[test]
    fn steps_asked_while_nobody_waits_apply_once_to_the_next_arrival() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1.0));
        for _ in 0..3 {
            p.command(PacerCmd::Step);
        }
        p.ready(100, 0, Act::new("go"));
        assert_eq!(gates.granted(0), 1);
        p.ready(101, 1, Act::new("go"));
        assert_eq!(gates.granted(1), 0, "only one step was owed");
    }

    #[test]
    fn stepping_one_pid_grants_that_child_only() {
        let (mut p, gates, _rx) = pacer(true, Speed::PerSecond(1.0));
        p.ready(100, 0, Act::new("go"));
        p.ready(101, 1, Act::new("go"));
        p.command(PacerCmd::StepPid(101));
        assert_eq!(gates.granted(1), 1);
        assert_eq!(gates.granted(0), 0);
        // A step of a PID that is not at a gate waits for it to arrive there.
        p.command(PacerCmd::StepPid(102));
        assert_eq!(total(&gates), 1);
        p.ready(102, 2, Act::new("go"));
        assert_eq!(gates.granted(2), 1);
    }

    #[test]
    fn max_speed_opens_the_gates_and_releases_every_waiter() {
        let (mut p, gates, rx) = pacer(true, Speed::PerSecond(1.0));
        p.ready(100, 0, Act::new("go"));
        p.ready(101, 1, Act::new("go"));
        assert!(!gates.is_free());
        p.command(PacerCmd::SetSpeed(Speed::Max));
        p.command(PacerCmd::Resume);
        assert!(gates.is_free());
        assert_eq!(total(&gates), 2);
        // The run going free is said before the gates open: the stream has
        // it before the grants, and before anything taken with no grant.
        let bodies: Vec<Body> = rx.try_iter().flatten().map(|e| e.body).collect();
        let free = bodies
            .iter()
            .position(|b| {
                *b == Body::Pace {
                    paused: false,
                    speed: None,
                }
            })
            .expect("the run going free is said");
        let grants: Vec<usize> = (0..bodies.len())
            .filter(|&i| matches!(bodies[i], Body::Grant { .. }))
            .collect();
        assert_eq!(grants.len(), 2, "{bodies:?}");
        assert!(grants.iter().all(|&g| g > free), "{bodies:?}");
    }

    /// A pacer over `n` gate slots, its processes 100.. spawned.
    fn pacer_of(n: u32, paused: bool, speed: Speed, seed: u64) -> (Pacer, Arc<Gates>) {
        let (gates, _fd) = Gates::create(n as usize).unwrap();
        let gates = Arc::new(gates);
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut p = Pacer::new(gates.clone(), tx, RunClock::start(), seed, speed, paused, n);
        for slot in 0..n {
            p.seen(
                100 + slot as Pid,
                Seen::Spawn {
                    slot,
                    thread_of: None,
                },
            );
        }
        (p, gates)
    }

    /// The slot that has just been granted a permit, given the counts before.
    fn granted_since(gates: &Gates, before: &mut Vec<u32>) -> Vec<u32> {
        let now: Vec<u32> = (0..before.len() as u32).map(|s| gates.granted(s)).collect();
        let slots = (0..now.len())
            .filter(|&s| now[s] > before[s])
            .map(|s| s as u32)
            .collect();
        *before = now;
        slots
    }

    #[test]
    fn a_lock_holder_and_the_others_take_turns() {
        // Fifty processes ask for the lock while slot 0 holds it and waits
        // for its next action: it goes first, then every other step.
        let (mut p, gates) = pacer_of(51, true, Speed::PerSecond(1.0), 1);
        p.seen(100, Seen::LockAcquire("l".into()));
        for slot in 0..51 {
            p.ready(100 + slot as Pid, slot, Act::new("go"));
        }
        let mut before = vec![0; 51];
        let mut order = Vec::new();
        for _ in 0..4 {
            p.command(PacerCmd::Step);
            order.extend(granted_since(&gates, &mut before));
            // The one granted is back at its gate at once (a step by hand
            // waits for the last action to be done).
            if let Some(&slot) = order.last() {
                p.ready(100 + slot as Pid, slot, Act::new("go"));
            }
        }
        assert_eq!(order.len(), 4);
        assert_eq!(order[0], 0, "the holder went first: {order:?}");
        assert_ne!(order[1], 0);
        assert_eq!(order[2], 0, "the holder's next turn: {order:?}");
    }

    #[test]
    fn a_step_by_hand_waits_until_the_last_action_is_done_a_sleep_included() {
        let (mut p, gates) = pacer_of(3, true, Speed::PerSecond(1.0), 1);
        for slot in 0..3 {
            p.ready(100 + slot as Pid, slot, Act::new("go"));
        }
        let mut before = vec![0; 3];
        p.command(PacerCmd::Step);
        let first = granted_since(&gates, &mut before);
        assert_eq!(first.len(), 1);
        // The granted process is still doing its action: the next step waits.
        p.command(PacerCmd::Step);
        assert!(granted_since(&gates, &mut before).is_empty());
        // It sleeps now (the scenario's "network delay"): still busy, as
        // another's next action could be on it (a kill).
        p.seen(100 + first[0] as Pid, Seen::Sleep { ms: 60_000 });
        p.tick();
        assert!(granted_since(&gates, &mut before).is_empty(), "it sleeps");
        // Back at its gate: the step owed is given.
        p.ready(100 + first[0] as Pid, first[0], Act::new("go"));
        let second = granted_since(&gates, &mut before);
        assert_eq!(second.len(), 1);
        p.ready(100 + second[0] as Pid, second[0], Act::new("go"));
        // Enter on a process at its gate, the last action done: at once.
        p.command(PacerCmd::StepPid(100 + first[0] as Pid));
        assert_eq!(granted_since(&gates, &mut before), first);
    }

    #[test]
    fn a_paced_grant_waits_until_the_last_action_is_done() {
        let (mut p, gates) = pacer_of(2, false, Speed::PerSecond(1000.0), 1);
        p.ready(100, 0, Act::new("go"));
        // Slot 1 is still busy (started, not at its gate yet): no grant.
        p.tick();
        assert_eq!(total2(&gates), 0);
        p.ready(101, 1, Act::new("go"));
        p.tick();
        assert_eq!(total2(&gates), 1);
        // The one granted is busy again until its next gate; one that has
        // been busy for longer than SETTLE is not waited for.
        let busy = if gates.granted(0) == 1 { 100 } else { 101 };
        p.next_grant = Instant::now();
        p.tick();
        assert_eq!(total2(&gates), 1);
        p.actors.get_mut(&busy).unwrap().busy_until = Instant::now();
        p.tick();
        assert_eq!(total2(&gates), 2);
    }

    /// A user's program waits on much the pacer does not see: a busy
    /// process seen asleep in the kernel a while after its last news (here
    /// a real `sleep`) holds grants up no longer; one that is running does.
    #[test]
    fn a_busy_process_seen_asleep_a_while_after_its_news_is_idle_where_waits_are_unseen() {
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let spinner = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn();
        let mut spinner = spinner.unwrap();
        for (busy, becomes_idle) in [(sleeper.id(), true), (spinner.id(), false)] {
            let (gates, _fd) = Gates::create(2).unwrap();
            let gates = Arc::new(gates);
            let (tx, _rx) = crossbeam_channel::unbounded();
            let mut p = Pacer::new(
                gates,
                tx,
                RunClock::start(),
                1,
                Speed::PerSecond(1000.0),
                false,
                2,
            )
            .idle_after(Some(Duration::from_millis(20)));
            let busy = busy as Pid;
            for (slot, pid) in [(0, 1), (1, busy)] {
                let spawn = Seen::Spawn {
                    slot,
                    thread_of: None,
                };
                p.seen(pid, spawn);
            }
            p.ready(1, 0, Act::new("go"));
            assert!(!p.settled(Instant::now()), "just heard from: waited for");
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && !p.settled(Instant::now()) {
                p.look_for_sleepers();
                std::thread::sleep(Duration::from_millis(5));
            }
            // Either way it is waited for no longer than SETTLE; seen idle,
            // much less (the loop stops at the first settled look).
            let settled_early = p.actors[&busy].idle;
            assert_eq!(settled_early, becomes_idle, "PID {busy}");
        }
        let _ = sleeper.kill();
        let _ = spinner.kill();
        let _ = sleeper.wait();
        let _ = spinner.wait();
    }

    fn total2(gates: &Gates) -> u32 {
        gates.granted(0) + gates.granted(1)
    }

    #[test]
    fn a_lock_let_go_is_being_handed_over_until_a_waiter_takes_it() {
        let (mut p, gates) = pacer_of(3, false, Speed::PerSecond(1000.0), 1);
        p.seen(100, Seen::LockAcquire("l".into()));
        p.seen(101, Seen::LockWait("l".into()));
        p.ready(102, 2, Act::new("go"));
        p.seen(100, Seen::LockRelease("l".into()));
        p.seen(100, Seen::Exit);
        p.tick();
        assert_eq!(gates.granted(2), 0, "101 is being woken by the kernel");
        p.seen(101, Seen::LockAcquire("l".into()));
        p.ready(101, 1, Act::new("go"));
        p.tick();
        assert_eq!(gates.granted(1) + gates.granted(2), 1);
    }

    #[test]
    fn the_same_seed_picks_the_same_whatever_order_they_arrived_in() {
        let picks = |arrival: &[u32]| {
            let (mut p, gates) = pacer_of(6, true, Speed::PerSecond(1.0), 9);
            for &slot in arrival {
                p.ready(100 + slot as Pid, slot, Act::new("go"));
            }
            let mut before = vec![0; 6];
            (0..6)
                .flat_map(|_| {
                    p.command(PacerCmd::Step);
                    granted_since(&gates, &mut before)
                })
                .collect::<Vec<u32>>()
        };
        let first = picks(&[0, 1, 2, 3, 4, 5]);
        assert_eq!(first, picks(&[5, 3, 1, 0, 4, 2]));
        assert_eq!(first, picks(&[2, 4, 0, 5, 1, 3]));
    }

    #[test]
    fn a_process_that_joins_its_threads_is_not_waited_for_while_they_live() {
        let (gates, _fd) = Gates::create(2).unwrap();
        let gates = Arc::new(gates);
        let (tx, _rx) = crossbeam_channel::unbounded();
        let speed = Speed::PerSecond(1000.0);
        let mut p = Pacer::new(gates.clone(), tx, RunClock::start(), 1, speed, false, 2);
        p.seen(
            100,
            Seen::Spawn {
                slot: 0,
                thread_of: None,
            },
        );
        p.seen(
            101,
            Seen::Spawn {
                slot: 1,
                thread_of: Some(100),
            },
        );
        p.ready(101, 1, Act::new("go"));
        p.tick();
        assert_eq!(gates.granted(1), 1, "100 joins 101: it is not busy");
        // Once its thread is joined, the process is waited for again.
        p.seen(101, Seen::Exit);
        p.seen(
            102,
            Seen::Spawn {
                slot: 0,
                thread_of: None,
            },
        );
        p.ready(102, 0, Act::new("go"));
        p.next_grant = Instant::now();
        p.tick();
        assert_eq!(gates.granted(0), 0, "100 is busy: nothing is granted");
        p.actors.get_mut(&100).unwrap().busy_until = Instant::now();
        p.tick();
        assert_eq!(gates.granted(0), 1, "once 100 has been busy too long");
    }
}

#[cfg(test)]
mod follow_tests {
    use super::*;
    use crate::engine::schedule::STRAY;

    /// A rerun's pacer over three slots, following `plan`, its processes
    /// 100.. spawned, all at their gates.
    fn following(plan: &[(u32, &str)]) -> (Pacer, Arc<Gates>, Receiver<Vec<Event>>) {
        let (gates, _fd) = Gates::create(3).unwrap();
        let gates = Arc::new(gates);
        let (tx, rx) = crossbeam_channel::unbounded();
        let steps = plan
            .iter()
            .map(|&(slot, act)| Planned {
                slot,
                action: Some(Act::new(act)),
                exact: true,
            })
            .collect();
        let plan = Arc::new(Schedule {
            steps,
            by_spawn_order: false,
        });
        let speed = Speed::Max;
        let mut p = Pacer::new(gates.clone(), tx, RunClock::start(), 1, speed, false, 3)
            .following(Some(plan));
        assert!(!gates.is_free(), "a rerun at max still grants one by one");
        for slot in 0..3 {
            p.seen(
                100 + slot as Pid,
                Seen::Spawn {
                    slot,
                    thread_of: None,
                },
            );
            p.ready(100 + slot as Pid, slot, Act::new("go"));
        }
        (p, gates, rx)
    }

    fn diverged(rx: &Receiver<Vec<Event>>) -> Vec<Body> {
        rx.try_iter()
            .flatten()
            .map(|e| e.body)
            .filter(|b| matches!(b, Body::Diverged { .. }))
            .collect()
    }

    #[test]
    fn a_rerun_grants_in_the_plans_order_once_the_last_step_is_done() {
        let (mut p, gates, rx) = following(&[(2, "go"), (0, "go"), (2, "go")]);
        let now = Instant::now();
        p.follow_next(now);
        assert_eq!((gates.granted(2), gates.granted(0)), (1, 0));
        // Slot 2 is busy with its step: nothing more until it is back.
        p.follow_next(now);
        assert_eq!(gates.granted(0), 0);
        p.ready(102, 2, Act::new("go"));
        p.follow_next(now);
        assert_eq!(gates.granted(0), 1);
        p.ready(100, 0, Act::new("go"));
        p.follow_next(now);
        assert_eq!(gates.granted(2), 2);
        assert!(diverged(&rx).is_empty());
    }

    #[test]
    fn a_process_at_its_gate_for_another_action_makes_the_rerun_leave_its_plan() {
        let (mut p, gates, rx) = following(&[(1, "write")]);
        p.follow_next(Instant::now());
        let left = diverged(&rx);
        assert_eq!(left.len(), 1);
        assert!(matches!(
            &left[0],
            Body::Diverged { step: 1, slot: 1, why, found: Some(found), .. }
                if why == "other_action" && *found == Act::new("go")
        ));
        // From there it runs as any run at max: the gates are open.
        assert!(gates.is_free());
    }

    #[test]
    fn a_process_that_has_exited_makes_the_rerun_leave_its_plan() {
        let (mut p, _gates, rx) = following(&[(1, "go"), (0, "go")]);
        let now = Instant::now();
        p.follow_next(now);
        p.seen(101, Seen::Exit);
        p.seen(100, Seen::Exit);
        p.follow_next(now);
        let left = diverged(&rx);
        assert!(
            matches!(&left[..], [Body::Diverged { step: 2, slot: 0, why, .. }] if why == "exited"),
            "{left:?}"
        );
    }

    #[test]
    fn a_planned_process_blocked_elsewhere_is_waited_for_then_left() {
        let (mut p, _gates, rx) = following(&[(1, "go")]);
        // Process 101 is not at its gate but blocked on a queue.
        p.grant_slot(1);
        p.seen(
            101,
            Seen::QueueBlocked {
                wait: "q:get".into(),
            },
        );
        p.actors.get_mut(&101).unwrap().asleep = true;
        p.follow = Some(Follow::new(Arc::new(Schedule {
            by_spawn_order: false,
            steps: vec![Planned {
                slot: 1,
                action: None,
                exact: true,
            }],
        })));
        let now = Instant::now() + SETTLE;
        p.follow_next(now);
        assert!(diverged(&rx).is_empty(), "it may yet be woken");
        p.follow_next(now + STRAY);
        let left = diverged(&rx);
        assert!(
            matches!(&left[..], [Body::Diverged { step: 1, slot: 1, why, .. }] if why == "blocked"),
            "{left:?}"
        );
    }

    #[test]
    fn a_process_at_a_gate_past_the_plans_end_is_said_to_be_past_the_recording() {
        let (mut p, gates, rx) = following(&[(0, "go")]);
        let now = Instant::now();
        p.follow_next(now);
        assert_eq!(gates.granted(0), 1);
        assert!(diverged(&rx).is_empty());
        p.ready(100, 0, Act::new("go"));
        p.follow_next(now);
        let left = diverged(&rx);
        assert!(
            matches!(&left[..], [Body::Diverged { step: 2, why, .. }] if why == "ended"),
            "{left:?}"
        );
    }

    #[test]
    fn stepping_another_process_by_hand_leaves_the_plan() {
        let (mut p, gates, rx) = following(&[(0, "go")]);
        p.command(PacerCmd::StepPid(101));
        assert_eq!(gates.granted(1), 1);
        let left = diverged(&rx);
        assert!(matches!(&left[..], [Body::Diverged { why, .. }] if why == "by_hand"));
    }
}
