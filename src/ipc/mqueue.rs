//! A POSIX message queue: a bounded queue that lives in the kernel. Its depth
//! is the kernel's count of messages (`mq_curmsgs`), a put on a full queue
//! and a get on an empty one block in the kernel, and a timed put or get gives
//! up when its deadline passes.
//!
//! The queue is unlinked right after it is created: it has no name in
//! `/dev/mqueue`, only descriptors, and disappears with the last of them.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{mq_getattr, mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;

/// Every message is one item number.
const MESSAGE: usize = 8;

/// How a timed operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed<T> {
    Done(T),
    TimedOut,
}

/// Creates a queue of at most `maxsize` items and returns its descriptor.
pub fn create(maxsize: u32) -> anyhow::Result<OwnedFd> {
    create_as(
        &format!("/mpviz-{}-{}", std::process::id(), fastrand::u64(..)),
        maxsize,
    )
}

fn create_as(name: &str, maxsize: u32) -> anyhow::Result<OwnedFd> {
    let attr = MqAttr::new(0, i64::from(maxsize), MESSAGE as i64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR | MQ_OFlag::O_CLOEXEC;
    let mq = mq_open(name, flags, Mode::S_IRUSR | Mode::S_IWUSR, Some(&attr)).map_err(|e| {
        anyhow::anyhow!(
            "could not create a message queue of {maxsize} items: {}",
            e.desc()
        )
    })?;
    // No name left behind, whatever happens next.
    let _ = mq_unlink(name);
    // SAFETY: mq_open returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(mq.into_raw_fd()) })
}

/// Whether this system lets a queue hold `maxsize` items, asked the only
/// reliable way: by creating one (and dropping it at once). The limit is
/// `/proc/sys/fs/mqueue/msg_max` unless the process may exceed it.
pub fn fits(maxsize: u32) -> Result<(), String> {
    create(maxsize).map(drop).map_err(|_| {
        let msg_max = std::fs::read_to_string("/proc/sys/fs/mqueue/msg_max")
            .map_or_else(|_| "?".to_string(), |s| s.trim().to_string());
        format!(
            "--maxsize {maxsize} is more than this system lets a queue hold (msg_max is {msg_max}; see /proc/sys/fs/mqueue/msg_max)"
        )
    })
}

/// A borrowed queue descriptor (a child's or the parent's).
pub struct Queue {
    fd: RawFd,
}

fn as_mqd(fd: RawFd) -> std::mem::ManuallyDrop<MqdT> {
    // SAFETY: fd is an open queue descriptor for as long as the Queue lives;
    // ManuallyDrop keeps MqdT from closing it.
    std::mem::ManuallyDrop::new(unsafe { MqdT::from_raw_fd(fd) })
}

/// An absolute CLOCK_REALTIME deadline, as mq_timedsend wants; `None` is a
/// deadline already passed (try once, do not wait).
fn deadline(wait: Option<Duration>) -> TimeSpec {
    match wait {
        None => TimeSpec::new(0, 0),
        Some(wait) => {
            let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
                .unwrap_or_else(|_| TimeSpec::new(0, 0));
            now + TimeSpec::from_duration(wait)
        }
    }
}

impl Queue {
    pub fn new(fd: RawFd) -> Queue {
        Queue { fd }
    }

    pub fn borrowed(fd: BorrowedFd<'_>) -> Queue {
        Queue { fd: fd.as_raw_fd() }
    }

    /// The kernel's count of items in the queue, right now.
    pub fn depth(&self) -> u32 {
        mq_getattr(&as_mqd(self.fd)).map_or(0, |a| a.curmsgs() as u32)
    }

    pub fn maxsize(&self) -> u32 {
        mq_getattr(&as_mqd(self.fd)).map_or(0, |a| a.maxmsg() as u32)
    }

    /// Puts `item`, waiting at most `wait` (`None`: do not wait at all).
    pub fn put_within(&self, item: u64, wait: Option<Duration>) -> nix::Result<Timed<()>> {
        let abs = deadline(wait);
        let bytes = item.to_le_bytes();
        loop {
            // SAFETY: a valid descriptor, a buffer of MESSAGE bytes, a valid timespec.
            let rc = unsafe {
                nix::libc::mq_timedsend(self.fd, bytes.as_ptr().cast(), MESSAGE, 0, abs.as_ref())
            };
            match Errno::result(rc) {
                Ok(_) => return Ok(Timed::Done(())),
                Err(Errno::ETIMEDOUT) | Err(Errno::EAGAIN) => return Ok(Timed::TimedOut),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Puts `item`, blocking while the queue is full.
    pub fn put(&self, item: u64) -> nix::Result<()> {
        loop {
            match mq_send(&as_mqd(self.fd), &item.to_le_bytes(), 0) {
                Err(Errno::EINTR) => continue,
                other => return other,
            }
        }
    }

    /// Gets an item, waiting at most `wait` (`None`: do not wait at all).
    pub fn get_within(&self, wait: Option<Duration>) -> nix::Result<Timed<u64>> {
        let abs = deadline(wait);
        let mut buf = [0u8; MESSAGE];
        let mut prio = 0;
        loop {
            match nix::mqueue::mq_timedreceive(&as_mqd(self.fd), &mut buf, &mut prio, &abs) {
                Ok(_) => return Ok(Timed::Done(u64::from_le_bytes(buf))),
                Err(Errno::ETIMEDOUT) | Err(Errno::EAGAIN) => return Ok(Timed::TimedOut),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Gets an item, blocking while the queue is empty.
    pub fn get(&self) -> nix::Result<u64> {
        let mut buf = [0u8; MESSAGE];
        let mut prio = 0;
        loop {
            match mq_receive(&as_mqd(self.fd), &mut buf, &mut prio) {
                Ok(_) => return Ok(u64::from_le_bytes(buf)),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_queue_is_bounded_fifo_and_measures_its_depth() {
        let fd = create(2).unwrap();
        let q = Queue::borrowed(fd.as_fd());
        assert_eq!((q.depth(), q.maxsize()), (0, 2));
        assert_eq!(q.get_within(None).unwrap(), Timed::TimedOut, "empty: Empty");
        q.put(7).unwrap();
        q.put(8).unwrap();
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
        assert_eq!(q.get().unwrap(), 7);
        assert_eq!(
            q.get_within(Some(Duration::from_millis(20))).unwrap(),
            Timed::Done(8)
        );
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn a_queue_has_no_name_left_once_created() {
        let name = format!("/mpviz-test-{}", std::process::id());
        let fd = create_as(&name, 1).unwrap();
        let reopened = mq_open(name.as_str(), MQ_OFlag::O_RDWR, Mode::empty(), None);
        assert_eq!(reopened.err(), Some(Errno::ENOENT));
        // The queue itself lives on through its descriptor.
        Queue::borrowed(fd.as_fd()).put(1).unwrap();
    }
}
