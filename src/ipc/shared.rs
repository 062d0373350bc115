//! A number in shared memory: one 64-bit word in a `memfd` page that every
//! process of a run maps (and every thread of a process sees). Reads and
//! writes are single loads and stores; a read-modify-write made of them is
//! not atomic, which is exactly what the race scenario shows.

use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

const BYTES: usize = std::mem::size_of::<AtomicU64>();

pub struct SharedCounter {
    word: NonNull<AtomicU64>,
}

// The mapping is shared memory used only through an atomic word.
unsafe impl Send for SharedCounter {}
unsafe impl Sync for SharedCounter {}

impl SharedCounter {
    /// Creates a counter holding 0 and returns its descriptor, for every
    /// process of the run to map with [`SharedCounter::open`].
    pub fn create() -> anyhow::Result<OwnedFd> {
        let fd = nix::sys::memfd::memfd_create(
            c"mpviz-counter",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )?;
        nix::unistd::ftruncate(&fd, BYTES as i64)?;
        Ok(fd)
    }

    pub fn open(fd: impl AsFd) -> anyhow::Result<SharedCounter> {
        let len = NonZeroUsize::new(BYTES).expect("a word is not empty");
        // SAFETY: a new shared mapping of a descriptor the caller holds open;
        // a mapping is page-aligned, enough for an AtomicU64.
        let ptr = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )?
        };
        Ok(SharedCounter { word: ptr.cast() })
    }

    fn word(&self) -> &AtomicU64 {
        // SAFETY: the mapping lives as long as self.
        unsafe { self.word.as_ref() }
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

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: unmapping this counter's own mapping, used by nothing after.
        unsafe {
            let _ = munmap(self.word.cast(), BYTES);
        }
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
