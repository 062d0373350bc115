//! A bounded queue between processes: a buffer guarded by a lock, a
//! semaphore that counts free slots (a put on a full queue blocks on it) and
//! one that counts items (a get on an empty queue blocks on it).
//!
//! Python's `multiprocessing.Queue` is built otherwise: a pipe fed by a
//! feeder thread of the putting process, a bounded semaphore of `maxsize`
//! (the free slots), a read lock and a write lock, and no item semaphore (a
//! get blocks reading the pipe); its `qsize()` is `maxsize` minus the
//! semaphore's value and its `empty()` polls the pipe. See the README.
//!
//! Here the buffer is a ring of item numbers in shared memory (a `memfd`, no
//! name in the file system, gone with the last process that maps it) and the
//! lock and the two counters are process-shared POSIX semaphores in the same
//! page. A blocked process sleeps in the kernel on the semaphore's futex; an
//! uncontended put or get makes no system call at all. The depth is the
//! number of items really in the ring, kept under the lock: a put or a get
//! reports the depth it left behind, and [`Queue::depth`] reads it at any
//! moment with one atomic load.

use std::cell::UnsafeCell;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;

use super::shm::{self, Mapping};

use super::sem::{give, take, Wait};

/// The most items a queue may hold: 8 MiB of ring.
pub const MAX_SIZE: u32 = 1 << 20;

/// How a timed operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed<T> {
    Done(T),
    TimedOut,
}

#[repr(C)]
struct Header {
    lock: UnsafeCell<libc::sem_t>,
    free: UnsafeCell<libc::sem_t>,
    items: UnsafeCell<libc::sem_t>,
    maxsize: AtomicU32,
    depth: AtomicU32,
    /// The next item to get and the next slot to fill, counted from the
    /// start; both change only under `lock`.
    head: AtomicU64,
    tail: AtomicU64,
}

fn bytes_for(maxsize: u32) -> usize {
    std::mem::size_of::<Header>() + maxsize as usize * std::mem::size_of::<AtomicU64>()
}

/// A queue mapped into this process.
pub struct Queue {
    memory: Mapping,
}

// The mapping is shared memory used only through atomics and process-shared
// semaphores, which are made for concurrent use.
unsafe impl Send for Queue {}
unsafe impl Sync for Queue {}

/// Creates a queue of at most `maxsize` items and returns its descriptor, for
/// every process of the run to map with [`Queue::open`].
pub fn create(maxsize: u32) -> anyhow::Result<OwnedFd> {
    anyhow::ensure!(
        (1..=MAX_SIZE).contains(&maxsize),
        "a queue holds 1 to {MAX_SIZE} items, not {maxsize}"
    );
    let fd = shm::create(c"mpviz-queue", bytes_for(maxsize))?;
    let memory = Mapping::new(&fd, bytes_for(maxsize))?;
    // SAFETY: a fresh, zeroed mapping of the right size that nobody else
    // maps yet; each semaphore is initialised once, shared between processes.
    let ok = unsafe {
        let header = memory.start::<Header>().as_ref();
        header.maxsize.store(maxsize, Ordering::Relaxed);
        libc::sem_init(header.lock.get(), 1, 1) == 0
            && libc::sem_init(header.free.get(), 1, maxsize) == 0
            && libc::sem_init(header.items.get(), 1, 0) == 0
    };
    let err = Errno::last();
    anyhow::ensure!(
        ok,
        "could not set up the queue's semaphores: {}",
        err.desc()
    );
    Ok(fd)
}

impl Queue {
    /// Maps the queue created by [`create`].
    pub fn open(fd: impl AsFd) -> anyhow::Result<Queue> {
        let size = nix::sys::stat::fstat(fd.as_fd())?.st_size as usize;
        anyhow::ensure!(
            size >= std::mem::size_of::<Header>(),
            "not a queue: {size} bytes"
        );
        let queue = Queue {
            memory: Mapping::new(&fd, size)?,
        };
        anyhow::ensure!(
            bytes_for(queue.maxsize()) == size,
            "not a queue of {} items",
            queue.maxsize()
        );
        Ok(queue)
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping lives as long as self and starts with a Header.
        unsafe { self.memory.start::<Header>().as_ref() }
    }

    fn slot(&self, index: u64) -> &AtomicU64 {
        let maxsize = u64::from(self.maxsize());
        // SAFETY: the ring of `maxsize` words follows the header, inside the
        // mapping; the index is taken modulo its length.
        unsafe {
            &*self
                .memory
                .start::<Header>()
                .as_ptr()
                .add(1)
                .cast::<AtomicU64>()
                .add((index % maxsize) as usize)
        }
    }

    /// The number of items in the queue right now.
    pub fn depth(&self) -> u32 {
        self.header().depth.load(Ordering::SeqCst)
    }

    pub fn maxsize(&self) -> u32 {
        self.header().maxsize.load(Ordering::Relaxed)
    }

    /// Runs `f` holding the queue's lock.
    fn locked<T>(&self, f: impl FnOnce(&Header) -> T) -> nix::Result<T> {
        let header = self.header();
        take(&header.lock, &Wait::Forever)?;
        let out = f(header);
        give(&header.lock)?;
        Ok(out)
    }

    fn put_waiting(&self, item: u64, wait: &Wait) -> nix::Result<Timed<u32>> {
        if !take(&self.header().free, wait)? {
            return Ok(Timed::TimedOut);
        }
        let depth = self.locked(|h| {
            let tail = h.tail.load(Ordering::Relaxed);
            self.slot(tail).store(item, Ordering::Relaxed);
            h.tail.store(tail + 1, Ordering::Relaxed);
            h.depth.fetch_add(1, Ordering::SeqCst) + 1
        })?;
        give(&self.header().items)?;
        Ok(Timed::Done(depth))
    }

    fn get_waiting(&self, wait: &Wait) -> nix::Result<Timed<(u64, u32)>> {
        if !take(&self.header().items, wait)? {
            return Ok(Timed::TimedOut);
        }
        let got = self.locked(|h| {
            let head = h.head.load(Ordering::Relaxed);
            let item = self.slot(head).load(Ordering::Relaxed);
            h.head.store(head + 1, Ordering::Relaxed);
            (item, h.depth.fetch_sub(1, Ordering::SeqCst) - 1)
        })?;
        give(&self.header().free)?;
        Ok(Timed::Done(got))
    }

    /// Puts `item`, waiting at most `wait` (`None`: do not wait at all) for a
    /// free slot; on success, the depth the put left.
    pub fn put_within(&self, item: u64, wait: Option<Duration>) -> nix::Result<Timed<u32>> {
        self.put_waiting(item, &Wait::within(wait))
    }

    /// Puts `item`, blocking while the queue is full; the depth it left.
    pub fn put(&self, item: u64) -> nix::Result<u32> {
        match self.put_waiting(item, &Wait::Forever)? {
            Timed::Done(depth) => Ok(depth),
            Timed::TimedOut => Err(Errno::EAGAIN),
        }
    }

    /// Gets an item, waiting at most `wait` (`None`: do not wait at all); on
    /// success the item and the depth the get left.
    pub fn get_within(&self, wait: Option<Duration>) -> nix::Result<Timed<(u64, u32)>> {
        self.get_waiting(&Wait::within(wait))
    }

    /// Gets an item, blocking while the queue is empty.
    pub fn get(&self) -> nix::Result<(u64, u32)> {
        match self.get_waiting(&Wait::Forever)? {
            Timed::Done(got) => Ok(got),
            Timed::TimedOut => Err(Errno::EAGAIN),
        }
    }
}

/// How long a put or get waits before it counts as a long wait.
const MOMENT: Duration = Duration::from_millis(2);

impl Queue {
    /// Puts `item`, waiting at most `timeout` (`None`: as long as it takes).
    /// If the wait outlasts a moment, `on_long_wait` runs once first (a
    /// child sends the reports it kept back: most waits in a busy run are
    /// over in microseconds, and a write for each would cost more than the
    /// wait); without one (nothing kept back), it waits once.
    pub fn put_patiently(
        &self,
        item: u64,
        timeout: Option<Duration>,
        on_long_wait: Option<impl FnOnce()>,
    ) -> nix::Result<Timed<u32>> {
        patiently(timeout, on_long_wait, |wait| self.put_waiting(item, wait))
    }

    /// Gets an item, as [`Queue::put_patiently`] puts one.
    pub fn get_patiently(
        &self,
        timeout: Option<Duration>,
        on_long_wait: Option<impl FnOnce()>,
    ) -> nix::Result<Timed<(u64, u32)>> {
        patiently(timeout, on_long_wait, |wait| self.get_waiting(wait))
    }
}

fn patiently<T>(
    timeout: Option<Duration>,
    on_long_wait: Option<impl FnOnce()>,
    op: impl Fn(&Wait) -> nix::Result<Timed<T>>,
) -> nix::Result<Timed<T>> {
    let Some(on_long_wait) = on_long_wait else {
        // Nothing kept back: one wait, in the kernel's line of waiters from
        // the start (a second wait would join the line again at its end).
        return op(&timeout.map_or(Wait::Forever, |t| Wait::within(Some(t))));
    };
    let first = timeout.map_or(MOMENT, |t| t.min(MOMENT));
    if let Timed::Done(done) = op(&Wait::within(Some(first)))? {
        return Ok(Timed::Done(done));
    }
    let rest = match timeout {
        Some(t) if t <= MOMENT => return Ok(Timed::TimedOut),
        Some(t) => Wait::within(Some(t - MOMENT)),
        None => Wait::Forever,
    };
    on_long_wait();
    op(&rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_bounded_fifo_and_knows_its_depth() {
        let q = Queue::open(create(2).unwrap()).unwrap();
        assert_eq!((q.depth(), q.maxsize()), (0, 2));
        assert_eq!(q.get_within(None).unwrap(), Timed::TimedOut, "empty: Empty");
        assert_eq!(q.put(7).unwrap(), 1);
        assert_eq!(q.put(8).unwrap(), 2);
        assert_eq!(q.depth(), 2);
        assert_eq!(
            q.put_within(9, None).unwrap(),
            Timed::TimedOut,
            "full: Full"
        );
        assert_eq!(
            q.put_within(9, Some(Duration::from_millis(20))).unwrap(),
            Timed::TimedOut,
            "a timed put on a full queue gives up"
        );
        assert_eq!(q.get().unwrap(), (7, 1));
        assert_eq!(
            q.get_within(Some(Duration::from_millis(20))).unwrap(),
            Timed::Done((8, 0))
        );
        // Round the ring more than once.
        for i in 0..5 {
            assert_eq!(q.put(i).unwrap(), 1);
            assert_eq!(q.get().unwrap(), (i, 0));
        }
    }

    #[test]
    fn a_blocked_get_wakes_when_another_process_puts() {
        let fd = create(1).unwrap();
        let q = Queue::open(&fd).unwrap();
        // SAFETY: the test child only touches the queue and then _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = match Queue::open(&fd).and_then(|q| Ok(q.get()?)) {
                    Ok((42, 0)) => 0,
                    _ => 1,
                };
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                q.put(42).unwrap();
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
                assert_eq!(q.depth(), 0);
            }
        }
    }

    #[test]
    fn a_patient_wait_says_when_it_is_long_and_keeps_its_timeout() {
        let q = Queue::open(create(1).unwrap()).unwrap();
        let mut long = 0;
        // Room at once: no long wait.
        let put = q.put_patiently(1, None, Some(|| long += 1)).unwrap();
        assert_eq!((put, long), (Timed::Done(1), 0));
        // Full for longer than a moment: one long wait, then Full.
        let put = q
            .put_patiently(2, Some(Duration::from_millis(30)), Some(|| long += 1))
            .unwrap();
        assert_eq!((put, long), (Timed::TimedOut, 1));
        // A timeout shorter than a moment gives up without a long wait.
        let put = q
            .put_patiently(2, Some(Duration::from_millis(1)), Some(|| long += 1))
            .unwrap();
        assert_eq!((put, long), (Timed::TimedOut, 1));
        assert_eq!(
            q.get_patiently(None, Some(|| long += 1)).unwrap(),
            Timed::Done((1, 0))
        );
        let got = q
            .get_patiently(Some(Duration::from_millis(30)), Some(|| long += 1))
            .unwrap();
        assert_eq!((got, long), (Timed::TimedOut, 2));
    }

    #[test]
    fn sizes_out_of_range_are_refused() {
        assert!(create(0).is_err());
        assert!(create(MAX_SIZE + 1).is_err());
    }
}
