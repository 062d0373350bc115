//! Deadlocks among the locks a run reports: processes that each wait for a
//! lock another of them holds, round a cycle.
//!
//! [`WaitFor`] follows who holds each lock and who waits for which, from
//! the stream, and finds a cycle. A cycle in the reports is not yet a
//! deadlock: a waiter may have given up a moment ago, or be about to take
//! a lock just let go. It is named only on evidence read from the system
//! ([`evidence`]): every process of the cycle asleep in the kernel in a
//! futex wait with no timeout (a blocking `acquire()`), which nothing but
//! another's release ends, and every other in the cycle is as stuck.

use std::collections::{HashMap, HashSet};

use crate::protocol::{Name, Pid, SeenBlocked};

/// Who holds each lock and who waits for which.
#[derive(Debug, Default)]
pub(crate) struct WaitFor {
    /// A lock's holders (a semaphore may have several).
    holders: HashMap<Name, Vec<Pid>>,
    waiting: HashMap<Pid, Name>,
    /// The locks that are counting semaphores (Python's `Semaphore`,
    /// `BoundedSemaphore`): released by anyone, held by no one in
    /// particular, so no wait for one is a wait for its holder.
    counting: HashSet<Name>,
}

/// The kinds of lock whose release anyone may do (see [`WaitFor::counting`]).
pub(crate) const COUNTING: &[&str] = &["Semaphore", "BoundedSemaphore"];

impl WaitFor {
    pub(crate) fn made(&mut self, lock: &Name, kind: &str) {
        if COUNTING.contains(&kind) {
            self.counting.insert(lock.clone());
        }
    }

    pub(crate) fn wait(&mut self, pid: Pid, lock: &Name) {
        self.waiting.insert(pid, lock.clone());
    }

    pub(crate) fn acquire(&mut self, pid: Pid, lock: &Name) {
        self.waiting.remove(&pid);
        self.holders.entry(lock.clone()).or_default().push(pid);
    }

    pub(crate) fn gave_up(&mut self, pid: Pid) {
        self.waiting.remove(&pid);
    }

    pub(crate) fn release(&mut self, pid: Pid, lock: &Name) {
        if let Some(holders) = self.holders.get_mut(lock) {
            if let Some(at) = holders.iter().position(|&p| p == pid) {
                holders.remove(at);
            }
        }
    }

    /// A process that exited waits for nothing; what it held stays held
    /// (a semaphore is not let go for the dead).
    pub(crate) fn exited(&mut self, pid: Pid) {
        self.waiting.remove(&pid);
    }

    /// A cycle of waits: each process with the lock it waits for, whose
    /// one holder is the next process, the last's the first's. Only locks
    /// with one holder count (with several, any one's release would do).
    /// The cycle starts at its lowest PID, so that the same cycle reads
    /// the same however it is found.
    pub(crate) fn cycle(&self) -> Option<Vec<(Pid, Name)>> {
        let next = |pid: Pid| -> Option<(Name, Pid)> {
            let lock = self
                .waiting
                .get(&pid)
                .filter(|l| !self.counting.contains(*l))?;
            match self.holders.get(lock)?.as_slice() {
                [holder] if *holder != pid => Some((lock.clone(), *holder)),
                _ => None,
            }
        };
        let mut starts: Vec<Pid> = self.waiting.keys().copied().collect();
        starts.sort_unstable();
        for start in starts {
            let mut path: Vec<(Pid, Name)> = Vec::new();
            let mut at = start;
            while let Some((lock, holder)) = next(at) {
                if path.iter().any(|(p, _)| *p == at) {
                    break;
                }
                path.push((at, lock));
                if let Some(first) = path.iter().position(|(p, _)| *p == holder) {
                    let mut cycle = path.split_off(first);
                    let low = (0..cycle.len()).min_by_key(|&i| cycle[i].0).unwrap_or(0);
                    cycle.rotate_left(low);
                    return Some(cycle);
                }
                at = holder;
            }
        }
        None
    }
}

/// `pid` as the system shows it if it sleeps in a futex wait with no
/// timeout: state S (`/proc/PID/stat`), in the `futex` system call with a
/// null timeout (`/proc/PID/syscall`: its number, then its arguments, the
/// fourth the timeout), and where it sleeps (`/proc/PID/wchan`).
pub(crate) fn evidence(pid: Pid) -> Option<SeenBlocked> {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let fields: Vec<&str> = syscall.split_whitespace().collect();
    let number = fields.first()?.parse::<i64>().ok()?;
    let untimed = fields.get(4).is_some_and(|t| *t == "0x0");
    if number != nix::libc::SYS_futex || !untimed {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(')')?.1.split_whitespace().next()?;
    if state != "S" {
        return None;
    }
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    Some(SeenBlocked {
        pid,
        state: 'S',
        wchan: wchan.trim().to_string(),
        syscall: fields[..5].join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from(s)
    }

    #[test]
    fn two_processes_each_waiting_for_the_others_lock_make_a_cycle() {
        let mut w = WaitFor::default();
        w.acquire(20, &n("a"));
        w.acquire(10, &n("b"));
        w.wait(20, &n("b"));
        assert_eq!(w.cycle(), None, "10 holds b and waits for nothing");
        w.wait(10, &n("a"));
        assert_eq!(w.cycle(), Some(vec![(10, n("a")), (20, n("b"))]));
        // Either gives up: no cycle.
        w.gave_up(20);
        assert_eq!(w.cycle(), None);
    }

    #[test]
    fn a_chain_that_ends_at_a_running_holder_is_no_cycle_and_three_can_close_one() {
        let mut w = WaitFor::default();
        for (pid, lock) in [(1, "a"), (2, "b"), (3, "c")] {
            w.acquire(pid, &n(lock));
        }
        w.wait(1, &n("b"));
        w.wait(2, &n("c"));
        assert_eq!(w.cycle(), None);
        w.wait(3, &n("a"));
        assert_eq!(w.cycle(), Some(vec![(1, n("b")), (2, n("c")), (3, n("a"))]));
        w.release(1, &n("a"));
        assert_eq!(w.cycle(), None);
    }

    #[test]
    fn a_wait_for_a_counting_semaphore_is_no_wait_for_its_holder() {
        let mut w = WaitFor::default();
        w.made(&n("s"), "Semaphore");
        w.acquire(1, &n("s"));
        w.acquire(2, &n("t"));
        w.wait(1, &n("t"));
        w.wait(2, &n("s"));
        assert_eq!(w.cycle(), None, "anyone may release s");
        w.made(&n("t2"), "Lock");
        w.acquire(2, &n("t2"));
        w.wait(2, &n("t2"));
        assert_eq!(w.cycle(), None);
    }

    #[test]
    fn a_semaphore_held_twice_or_a_lock_waited_for_by_its_holder_is_no_cycle() {
        let mut w = WaitFor::default();
        w.acquire(1, &n("s"));
        w.acquire(2, &n("s"));
        w.acquire(1, &n("t"));
        w.wait(1, &n("s"));
        w.wait(2, &n("t"));
        assert_eq!(w.cycle(), None, "s has two holders");
        let mut w = WaitFor::default();
        w.acquire(1, &n("a"));
        w.wait(1, &n("a"));
        assert_eq!(
            w.cycle(),
            None,
            "waiting for itself (a Lock taken twice) is no cycle of others"
        );
    }

    #[test]
    fn a_process_asleep_in_an_untimed_futex_wait_is_evidence_and_a_sleeping_one_is_not() {
        // `sleep` sleeps in nanosleep, not a futex: no evidence.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = sleeper.id() as Pid;
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(evidence(pid), None);
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        assert_eq!(evidence(pid), None, "gone");
        // A lock taken twice: the second acquire waits for ever, in the
        // kernel, with no timeout.
        let mut stuck = std::process::Command::new("python3")
            .args([
                "-c",
                "import threading; l = threading.Lock(); l.acquire(); l.acquire()",
            ])
            .spawn()
            .unwrap();
        let pid = stuck.id() as Pid;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let seen = loop {
            if let Some(seen) = evidence(pid) {
                break seen;
            }
            assert!(std::time::Instant::now() < deadline, "never seen stuck");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let _ = stuck.kill();
        let _ = stuck.wait();
        assert_eq!((seen.pid, seen.state), (pid, 'S'));
        assert!(
            seen.syscall.starts_with(&nix::libc::SYS_futex.to_string()),
            "{seen:?}"
        );
    }
}
