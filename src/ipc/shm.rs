//! Shared memory for a run: a `memfd` (no name in the file system, gone
//! with the last process that maps it, so nothing is left behind) and its
//! shared mappings. The gates, the queue, the semaphore and the counter are
//! each a few typed words laid over one of these.

use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// Creates `bytes` of zeroed shared memory named `name` (for `/proc/PID/fd`
/// only) and returns its descriptor, for every process of the run to map.
pub fn create(name: &CStr, bytes: usize) -> nix::Result<OwnedFd> {
    let fd = nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)?;
    nix::unistd::ftruncate(&fd, bytes as i64)?;
    Ok(fd)
}

/// One shared mapping of a `memfd`, unmapped when dropped.
pub struct Mapping {
    base: NonNull<u8>,
    bytes: usize,
}

impl Mapping {
    /// Maps the first `bytes` of `fd`, readable and writable, shared with
    /// every other process that maps it. The start is page-aligned.
    pub fn new(fd: impl AsFd, bytes: usize) -> nix::Result<Mapping> {
        let len = NonZeroUsize::new(bytes).ok_or(Errno::EINVAL)?;
        // SAFETY: a new mapping of a descriptor the caller holds open; it is
        // used only through the typed views its owners lay over it.
        let base = unsafe {
            mmap(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )?
        };
        Ok(Mapping {
            base: base.cast(),
            bytes,
        })
    }

    /// The start of the mapping, as a `T` (page-aligned, so any `T` fits).
    pub fn start<T>(&self) -> NonNull<T> {
        self.base.cast()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping this mapping, which nothing uses after its owner.
        unsafe {
            let _ = munmap(self.base.cast(), self.bytes);
        }
    }
}
