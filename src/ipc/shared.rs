//! A number in shared memory: one 64-bit word in a `memfd` page that every
//! process of a run maps (and every thread of a process sees). Reads and
//! writes are single loads and stores; a read-modify-write made of them is
//! not atomic, which is exactly what the race scenario shows.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use super::shm::{self, Mapping};

const BYTES: usize = std::mem::size_of::<AtomicU64>();

pub struct SharedCounter {
    memory: Mapping,
}

// The mapping is shared memory used only through an atomic word.
unsafe impl Send for SharedCounter {}
unsafe impl Sync for SharedCounter {}

impl SharedCounter {
    /// Creates a counter holding 0 and returns its descriptor, for every
    /// process of the run to map with [`SharedCounter::open`].
    pub fn create() -> anyhow::Result<OwnedFd> {
        Ok(shm::create(c"mpviz-counter", BYTES)?)
    }

    pub fn open(fd: impl AsFd) -> anyhow::Result<SharedCounter> {
        Ok(SharedCounter {
            memory: Mapping::new(fd, BYTES)?,
        })
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping holds one word and lives as long as self.
        unsafe { self.memory.start::<AtomicU64>().as_ref() }
    }

    /// One load of the value in memory now.
    pub fn read(&self) -> u64 {
        self.word().load(Ordering::SeqCst)
    }

    /// One store: whatever was there is overwritten.
    pub fn write(&self, value: u64) {
        self.word().store(value, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_see_one_word() {
        let fd = SharedCounter::create().unwrap();
        let (a, b) = (
            SharedCounter::open(&fd).unwrap(),
            SharedCounter::open(&fd).unwrap(),
        );
        assert_eq!(a.read(), 0);
        a.write(41);
        assert_eq!(b.read(), 41);
        // A read-modify-write in two steps: a write in between is lost.
        let seen = a.read();
        b.write(seen + 1);
        a.write(seen + 1);
        assert_eq!(b.read(), 42, "two increments, one counted");
    }
}
