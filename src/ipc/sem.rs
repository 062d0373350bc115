//! POSIX semaphores in shared memory, process-shared (`sem_init` with
//! `pshared`): futex-based, so an uncontended take or give makes no system
//! call, and a taker that must wait sleeps in the kernel. Python's
//! `multiprocessing.Lock` is one of these (a `SemLock`). The kernel does not
//! know who holds one: if a holder dies, the semaphore stays taken.

use std::cell::UnsafeCell;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::time::TimeSpec;

use super::shm::{self, Mapping};

/// How long an operation may wait.
pub enum Wait {
    No,
    Until(TimeSpec),
    Forever,
}

impl Wait {
    /// `None`: do not wait at all; otherwise at most `wait` from now.
    pub fn within(wait: Option<Duration>) -> Wait {
        match wait {
            None => Wait::No,
            Some(wait) => {
                // sem_timedwait wants an absolute CLOCK_REALTIME deadline.
                let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
                    .unwrap_or_else(|_| TimeSpec::new(0, 0));
                Wait::Until(now + TimeSpec::from_duration(wait))
            }
        }
    }
}

/// Takes one unit of `sem`; false if `wait` ran out first.
pub fn take(sem: &UnsafeCell<libc::sem_t>, wait: &Wait) -> nix::Result<bool> {
    let sem = sem.get();
    loop {
        // SAFETY: `sem` points to a semaphore initialised by `create`, in a
        // mapping that outlives the call.
        let rc = unsafe {
            match wait {
                Wait::No => libc::sem_trywait(sem),
                Wait::Until(deadline) => libc::sem_timedwait(sem, deadline.as_ref()),
                Wait::Forever => libc::sem_wait(sem),
            }
        };
        match Errno::result(rc) {
            Ok(_) => return Ok(true),
            Err(Errno::EAGAIN) | Err(Errno::ETIMEDOUT) => return Ok(false),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

pub fn give(sem: &UnsafeCell<libc::sem_t>) -> nix::Result<()> {
    let sem = sem.get();
    // SAFETY: as in `take`.
    Errno::result(unsafe { libc::sem_post(sem) }).map(drop)
}

/// A semaphore in a `memfd` of its own, shared by every process of a run.
pub struct SharedSemaphore {
    memory: Mapping,
}

// The mapping holds one process-shared semaphore, made for concurrent use.
unsafe impl Send for SharedSemaphore {}
unsafe impl Sync for SharedSemaphore {}

const BYTES: usize = std::mem::size_of::<libc::sem_t>();

impl SharedSemaphore {
    /// Creates a semaphore holding `value` and returns its descriptor, for
    /// every process of the run to map with [`SharedSemaphore::open`].
    pub fn create(value: u32) -> anyhow::Result<OwnedFd> {
        let fd = shm::create(c"mpviz-semaphore", BYTES)?;
        let sem = SharedSemaphore::open(&fd)?;
        // SAFETY: a fresh zeroed mapping nobody else uses yet.
        let rc = unsafe { libc::sem_init(sem.get(), 1, value) };
        anyhow::ensure!(
            rc == 0,
            "could not set up a semaphore: {}",
            Errno::last().desc()
        );
        Ok(fd)
    }

    pub fn open(fd: impl AsFd) -> anyhow::Result<SharedSemaphore> {
        Ok(SharedSemaphore {
            memory: Mapping::new(fd, BYTES)?,
        })
    }

    fn cell(&self) -> &UnsafeCell<libc::sem_t> {
        // SAFETY: the mapping holds one sem_t and lives as long as self.
        unsafe { self.memory.start::<UnsafeCell<libc::sem_t>>().as_ref() }
    }

    fn get(&self) -> *mut libc::sem_t {
        self.cell().get()
    }

    /// Takes one unit, waiting at most `wait` (`None`: as long as it takes);
    /// false if the time ran out.
    pub fn acquire(&self, wait: Option<Duration>) -> nix::Result<bool> {
        match wait {
            None => take(self.cell(), &Wait::Forever),
            Some(wait) => take(self.cell(), &Wait::within(Some(wait))),
        }
    }

    pub fn release(&self) -> nix::Result<()> {
        give(self.cell())
    }

    /// Where the semaphore lies in this process's memory (and in every
    /// process forked after it was mapped): a process asleep in the kernel
    /// on it waits on a futex in this range (`/proc/PID/syscall`).
    pub fn address_range(&self) -> std::ops::Range<usize> {
        let start = self.get() as usize;
        start..start + BYTES
    }

    /// The semaphore's value now (0: taken).
    pub fn value(&self) -> i32 {
        let mut value = 0;
        // SAFETY: a valid semaphore and a valid out-pointer.
        unsafe { libc::sem_getvalue(self.get(), &mut value) };
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_semaphore_stays_taken_until_given_back() {
        let fd = SharedSemaphore::create(1).unwrap();
        let (a, b) = (
            SharedSemaphore::open(&fd).unwrap(),
            SharedSemaphore::open(&fd).unwrap(),
        );
        assert!(a.acquire(None).unwrap());
        assert_eq!(b.value(), 0);
        assert!(!b.acquire(Some(Duration::from_millis(20))).unwrap());
        a.release().unwrap();
        assert!(b.acquire(Some(Duration::from_millis(20))).unwrap());
    }
}
