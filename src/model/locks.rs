//! Locks: who holds each, who waits in line, and what a dead holder left.

use std::collections::BTreeMap;
use std::ops::Deref;

use rustc_hash::FxHashMap as HashMap;

use crate::protocol::{Body, Event, Pid, SeenBlocked};

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

/// A lock taken after its holder had died holding it: the kernel let go
/// for the dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakenAfterDeath {
    /// The holder that died holding it.
    pub dead: Pid,
    /// The process that took it next.
    pub by: Pid,
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
    /// The newest acquire that came after its holder had died holding it.
    pub taken_after_death: Option<TakenAfterDeath>,
    /// A deadlock named in the stream, with the evidence it was named on.
    pub deadlock: Option<DeadlockEvidence>,
    /// A counting semaphore (Python's `Semaphore`, `BoundedSemaphore`):
    /// several may hold it at once.
    pub counting: bool,
    /// Python's `Lock`, which any process may release, not only its holder.
    pub released_by_anyone: bool,
    /// A counting semaphore's holders after `holder`, in the order they
    /// took it.
    pub also_held_by: Vec<Pid>,
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

/// The run's locks by name (read as the map), and the deadlocks named.
#[derive(Debug, Clone, Default)]
pub struct Locks {
    by_name: BTreeMap<String, LockState>,
    /// Deadlocks named in the stream.
    pub deadlocks: u32,
    /// The newest cycle of waits named a deadlock: each process with the
    /// lock it waits for, held by the next.
    pub cycle: Option<Vec<(Pid, String)>>,
}

impl Deref for Locks {
    type Target = BTreeMap<String, LockState>;

    fn deref(&self) -> &Self::Target {
        &self.by_name
    }
}

impl Locks {
    fn lock(&mut self, name: &str) -> &mut LockState {
        // A key made only for a lock not seen before.
        if !self.by_name.contains_key(name) {
            self.by_name.insert(name.to_string(), LockState::default());
        }
        self.by_name.get_mut(name).expect("inserted above")
    }

    fn is_counting_and_held(&self, lock: &str) -> bool {
        self.by_name
            .get(lock)
            .is_some_and(|l| l.counting && l.holder.is_some() && !l.holder_dead)
    }

    /// Folds in a lock's events: made, waited for, taken, let go, deadlocked.
    pub(super) fn apply(&mut self, ev: &Event) {
        let pid = ev.pid;
        match &ev.body {
            Body::LockWait { lock } => {
                if let Some(pid) = pid {
                    self.lock(lock).waiters.push(pid);
                } else {
                    self.lock(lock);
                }
            }
            Body::LockGaveUp { lock, .. } => {
                if let Some(pid) = pid {
                    self.lock(lock).waiters.remove(pid);
                }
            }
            Body::LockAcquire { lock } if self.is_counting_and_held(lock) => {
                // One more holder of a counting semaphore: no overlap.
                let state = self.lock(lock);
                state.acquisitions += 1;
                if let Some(pid) = pid {
                    state.waiters.remove(pid);
                    state.also_held_by.push(pid);
                }
            }
            Body::LockAcquire { lock } => {
                let state = self.lock(lock);
                state.taken_after_death = match state.holder {
                    // Taken after its holder died holding it: seen let go.
                    Some(dead) if state.holder_dead => pid.map(|by| TakenAfterDeath { dead, by }),
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
            }
            Body::LockRelease { lock } => {
                let state = self.lock(lock);
                if state.holder == pid {
                    // The next holder of a counting semaphore, if any.
                    state.holder =
                        (!state.also_held_by.is_empty()).then(|| state.also_held_by.remove(0));
                } else if let Some(at) = state.also_held_by.iter().position(|&p| Some(p) == pid) {
                    state.also_held_by.remove(at);
                } else if state.released_by_anyone {
                    // A Lock let go by another process than its holder,
                    // as Python allows.
                    state.holder = None;
                }
            }
            Body::LockMade { lock, lock_kind } => {
                let state = self.lock(lock);
                // A POSIX semaphore (Python's Lock, RLock, Semaphore and
                // BoundedSemaphore are): not let go for the dead.
                state.kept_by_the_dead = lock_kind != "flock";
                state.counting = lock_kind == "Semaphore" || lock_kind == "BoundedSemaphore";
                state.released_by_anyone = lock_kind == "Lock";
            }
            Body::DeadlockCycle { cycle, .. } => {
                self.cycle = Some(cycle.iter().map(|(p, l)| (*p, l.to_string())).collect());
                self.deadlocks += 1;
            }
            Body::Deadlock {
                lock,
                waiters,
                value,
                seen,
                ..
            } => {
                self.lock(lock).deadlock = Some(DeadlockEvidence {
                    value: *value,
                    waiters: waiters.clone(),
                    seen: seen.clone(),
                });
                self.deadlocks += 1;
            }
            _ => {}
        }
    }

    /// A process that dies holding a lock or waiting for one leaves the
    /// line. A dead holder stays the holder until something is seen: the
    /// next acquire (the kernel let go of an flock), or a deadlock named on
    /// evidence (nobody lets go of a semaphore).
    pub(super) fn exited(&mut self, pid: Pid) {
        for lock in self.by_name.values_mut() {
            if lock.holder == Some(pid) {
                lock.holder_dead = true;
            }
            lock.waiters.remove(pid);
        }
    }
}

impl<'a> IntoIterator for &'a Locks {
    type Item = (&'a String, &'a LockState);
    type IntoIter = std::collections::btree_map::Iter<'a, String, LockState>;

    fn into_iter(self) -> Self::IntoIter {
        self.by_name.iter()
    }
}
