//! Permits in shared memory: how the parent's pacer owns the children's time.
//!
//! The page holds one word for the mode (gated or free) and one counter per
//! child slot. Before each instrumented action a gated child announces itself
//! (a `ready` event), then sleeps on a futex until its counter reaches the
//! number of permits it has used. The pacer grants by incrementing the counter
//! and waking the futex. Sleeping in a futex costs no CPU, so a paused run is
//! truly still; and since the parent decides whom to wake, it can step one
//! chosen process.
//!
//! The memory is a `memfd`: it has no name in the file system and disappears
//! with the last process that maps it, so nothing is left behind.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use super::shm::{self, Mapping};

const GATED: u32 = 0;
const FREE: u32 = 1;

pub struct Gates {
    memory: Mapping,
    slots: usize,
}

// The mapping is shared memory accessed only through atomics.
unsafe impl Send for Gates {}
unsafe impl Sync for Gates {}

fn bytes_for(slots: usize) -> usize {
    (slots + 1) * std::mem::size_of::<AtomicU32>()
}

impl Gates {
    /// Creates the shared page for `slots` children and returns its descriptor,
    /// which the fork server maps again with [`Gates::map`].
    pub fn create(slots: usize) -> anyhow::Result<(Gates, OwnedFd)> {
        let fd = shm::create(c"mpviz-gates", bytes_for(slots))?;
        let gates = Gates::map(&fd, slots)?;
        Ok((gates, fd))
    }

    pub fn map(fd: impl AsFd, slots: usize) -> anyhow::Result<Gates> {
        Ok(Gates {
            memory: Mapping::new(fd, bytes_for(slots))?,
            slots,
        })
    }

    fn word(&self, index: usize) -> &AtomicU32 {
        assert!(index <= self.slots, "gate slot {index} out of range");
        // SAFETY: index is within the mapping, which lives as long as self.
        unsafe { &*self.memory.start::<AtomicU32>().as_ptr().add(index) }
    }

    fn counter(&self, slot: u32) -> &AtomicU32 {
        self.word(slot as usize + 1)
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Free: children pass their gates without asking (no pacing).
    pub fn set_free(&self, free: bool) {
        self.word(0)
            .store(if free { FREE } else { GATED }, Ordering::SeqCst);
    }

    pub fn is_free(&self) -> bool {
        self.word(0).load(Ordering::SeqCst) == FREE
    }

    /// Lets the child in `slot` do one more action.
    pub fn grant(&self, slot: u32) {
        let word = self.counter(slot);
        word.fetch_add(1, Ordering::SeqCst);
        futex_wake(word);
    }

    /// How many permits `slot` has been granted so far.
    pub fn granted(&self, slot: u32) -> u32 {
        self.counter(slot).load(Ordering::SeqCst)
    }

    /// Blocks until `slot` has been granted at least `ticket` permits.
    pub fn wait(&self, slot: u32, ticket: u32) {
        let word = self.counter(slot);
        loop {
            let seen = word.load(Ordering::SeqCst);
            if seen >= ticket {
                return;
            }
            futex_wait(word, seen, None);
        }
    }
}

impl Gates {
    /// Like [`Gates::wait`], but gives up after about `timeout`: false if the
    /// permit has not come by then.
    pub fn wait_within(&self, slot: u32, ticket: u32, timeout: std::time::Duration) -> bool {
        let word = self.counter(slot);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let seen = word.load(Ordering::SeqCst);
            if seen >= ticket {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            futex_wait(word, seen, Some(left));
        }
    }
}

// The futex calls are not private (no FUTEX_PRIVATE_FLAG): the word is shared
// between processes. Sleeps while the word is `expected`, for at most
// `timeout` if given.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) {
    let spec = timeout.map(|t| nix::libc::timespec {
        tv_sec: t.as_secs() as nix::libc::time_t,
        tv_nsec: t.subsec_nanos() as nix::libc::c_long,
    });
    let spec_ptr = spec
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const nix::libc::timespec);
    // SAFETY: the address is a valid, aligned u32 in a shared mapping; the
    // timeout, if any, is relative and lives across the call. A spurious or
    // interrupted return is handled by the caller's loop.
    unsafe {
        nix::libc::syscall(
            nix::libc::SYS_futex,
            word.as_ptr(),
            nix::libc::FUTEX_WAIT,
            expected,
            spec_ptr,
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: as above; waking has no effect on memory.
    unsafe {
        nix::libc::syscall(
            nix::libc::SYS_futex,
            word.as_ptr(),
            nix::libc::FUTEX_WAKE,
            i32::MAX,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiter_passes_only_after_its_permit_is_granted() {
        let (gates, _fd) = Gates::create(2).unwrap();
        let gates = Arc::new(gates);
        let (tx, rx) = crossbeam_channel::unbounded();
        let g = gates.clone();
        let waiter = std::thread::spawn(move || {
            g.wait(1, 1);
            tx.send(()).unwrap();
        });
        // The waiter cannot pass before the grant: nothing was granted yet.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(50))
            .is_err());
        gates.grant(0); // another slot's permit does not let it pass
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(50))
            .is_err());
        gates.grant(1);
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        waiter.join().unwrap();
        assert_eq!(gates.granted(1), 1);
    }

    #[test]
    fn the_mode_word_is_shared_by_every_mapping() {
        let (gates, fd) = Gates::create(1).unwrap();
        let again = Gates::map(&fd, 1).unwrap();
        assert!(!again.is_free());
        gates.set_free(true);
        assert!(again.is_free());
        gates.grant(0);
        assert_eq!(again.granted(0), 1);
    }
}
