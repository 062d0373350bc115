//! A number in shared memory: one 64-bit word in a `memfd` page that every
//! process of a run maps (and every thread of a process sees). A read is one
//! load and a write one store of the number; a read-modify-write made of them
//! is not atomic, which is exactly what the race scenario shows.
//!
//! The same word also counts the writes that have landed in it (its high
//! half; the number is the low half, 32 bits, as a C `int` would be): a write
//! stores its value and counts itself in one atomic step, and a read gets
//! both in one load. So whoever reads knows exactly how many writes the
//! value it read comes after, and each write knows its place among them:
//! the measure the race needs to tell a lost update from one in flight. The
//! count changes nothing of the race itself: a write still replaces the
//! number with its own value, whatever was there.

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

    /// One load of the value in memory now, with how many writes had
    /// landed when it was read.
    pub fn read(&self) -> Reading {
        Reading::of(self.word().load(Ordering::SeqCst))
    }

    /// One store: whatever value was there is overwritten; the count of
    /// writes goes up by one in the same atomic step. Returns the write's
    /// place among the writes that landed (1 for the first).
    pub fn write(&self, value: u32) -> u64 {
        let word = self.word();
        let mut old = word.load(Ordering::SeqCst);
        loop {
            let landed = (old >> 32).wrapping_add(1) & 0xFFFF_FFFF;
            // The value does not depend on `old`: a blind store. The loop
            // only retries when another write landed in between, to count
            // this one after it.
            match word.compare_exchange_weak(
                old,
                (landed << 32) | u64::from(value),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return landed,
                Err(now) => old = now,
            }
        }
    }
}

/// What one load of the counter saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub value: u32,
    /// How many writes had landed in the counter.
    pub landed: u64,
}

impl Reading {
    fn of(word: u64) -> Reading {
        Reading {
            value: word as u32,
            landed: word >> 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_see_one_word_and_every_write_is_counted() {
        let fd = SharedCounter::create().unwrap();
        let (a, b) = (
            SharedCounter::open(&fd).unwrap(),
            SharedCounter::open(&fd).unwrap(),
        );
        assert_eq!(
            a.read(),
            Reading {
                value: 0,
                landed: 0
            }
        );
        assert_eq!(a.write(41), 1);
        assert_eq!(
            b.read(),
            Reading {
                value: 41,
                landed: 1
            }
        );
        // A read-modify-write in two steps: a write in between is lost, and
        // the count says so (three writes landed, the value went up by one).
        let seen = a.read().value;
        assert_eq!(b.write(seen + 1), 2);
        assert_eq!(a.write(seen + 1), 3);
        assert_eq!(
            b.read(),
            Reading {
                value: 42,
                landed: 3
            }
        );
        // A stale write goes back down: the store is blind.
        assert_eq!(a.write(7), 4);
        assert_eq!(
            a.read(),
            Reading {
                value: 7,
                landed: 4
            }
        );
    }
}
