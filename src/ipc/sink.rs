//! The child side of the event pipe.
//!
//! Every process of a run writes its events into one pipe, each as a frame
//! of a few bytes ([`Event::encode`]). A write of at most `PIPE_BUF` bytes is
//! atomic, so each event arrives whole even with a thousand writers, and the
//! order in the pipe is the order in which the writes happened.
//!
//! When nobody watches step by step (a free-running run), a child keeps its
//! events back and writes up to `PIPE_BUF` bytes of them at once; it flushes
//! before anything that may make it wait, and before it lets go of a lock, so
//! what others do after that point is always reported after it.

use std::cell::RefCell;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::ipc::RunClock;
use crate::protocol::{Body, Event, Pid};

/// The largest write the kernel keeps atomic on a pipe (Linux: 4096).
pub const PIPE_BUF: usize = 4096;

pub struct EventSink {
    fd: OwnedFd,
    clock: RunClock,
    /// Events kept back by [`EventSink::emit_batched`], written as one.
    pending: RefCell<Vec<u8>>,
}

impl EventSink {
    pub fn new(fd: OwnedFd, clock: RunClock) -> Self {
        EventSink {
            fd,
            clock,
            pending: RefCell::new(Vec::with_capacity(PIPE_BUF)),
        }
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Stamps `body` now and sends it at once (after anything kept back).
    /// A failed write means the parent is gone; the child then has nobody to
    /// report to and the error is returned.
    pub fn emit(&self, pid: Option<Pid>, body: Body) -> nix::Result<()> {
        self.send(&Event::new(self.clock.now(), pid, body))
    }

    pub fn send(&self, event: &Event) -> nix::Result<()> {
        self.keep(event)?;
        self.flush()
    }

    /// Stamps `body` now and keeps it back until the batch is full or
    /// [`EventSink::flush`] is called: one write for many events when nobody
    /// watches step by step. Order within the process is kept.
    pub fn emit_batched(&self, pid: Option<Pid>, body: Body) -> nix::Result<()> {
        self.keep(&Event::new(self.clock.now(), pid, body))
    }

    fn keep(&self, event: &Event) -> nix::Result<()> {
        let mut pending = self.pending.borrow_mut();
        let start = pending.len();
        event.encode(&mut pending);
        if pending.len() - start > PIPE_BUF {
            // Only free text can make an event this long; cut it rather than
            // let two processes' bytes interleave.
            pending.truncate(start);
            Event::new(
                event.t_ns,
                event.pid,
                Body::Error {
                    message: format!("an event of kind {} was too long to send", event.kind()),
                },
            )
            .encode(&mut pending);
        }
        if pending.len() > PIPE_BUF {
            // The batch is full: send what came before this event.
            let result = write_whole(&self.fd, &pending[..start]);
            pending.drain(..start);
            result?;
        }
        Ok(())
    }

    /// Writes what was kept back, in one atomic write.
    pub fn flush(&self) -> nix::Result<()> {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return Ok(());
        }
        let result = write_whole(&self.fd, &pending);
        pending.clear();
        result
    }
}

fn write_whole(fd: &OwnedFd, bytes: &[u8]) -> nix::Result<()> {
    loop {
        match nix::unistd::write(fd, bytes) {
            Ok(n) if n == bytes.len() => return Ok(()),
            // A pipe write of at most PIPE_BUF is all or nothing; a short
            // count cannot happen, but never loop on it.
            Ok(_) => return Err(nix::errno::Errno::EIO),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::OFlag;

    fn read_all_now(fd: &OwnedFd) -> Vec<Event> {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1 << 16];
        while let Ok(n) = nix::unistd::read(fd, &mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        let mut events = Vec::new();
        let mut at = 0;
        while let Some((event, len)) = Event::decode(&bytes[at..]) {
            events.push(event.unwrap());
            at += len;
        }
        assert_eq!(at, bytes.len(), "only whole frames");
        events
    }

    fn sleep_of(event: &Event) -> u64 {
        match event.body {
            Body::Sleep { ms } => ms,
            _ => panic!("not a sleep: {event:?}"),
        }
    }

    #[test]
    fn batched_events_wait_for_a_flush_and_keep_their_order() {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).unwrap();
        let sink = EventSink::new(write, RunClock::start());
        for ms in 0..3 {
            sink.emit_batched(Some(1), Body::Sleep { ms }).unwrap();
        }
        assert!(
            read_all_now(&read).is_empty(),
            "nothing written before a flush"
        );
        // A direct event sends what was kept back first.
        sink.emit(Some(1), Body::Sleep { ms: 3 }).unwrap();
        let got: Vec<u64> = read_all_now(&read).iter().map(sleep_of).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_full_batch_is_written_without_waiting_for_a_flush() {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).unwrap();
        let sink = EventSink::new(write, RunClock::start());
        for ms in 0..1000 {
            sink.emit_batched(Some(1), Body::Sleep { ms }).unwrap();
        }
        let early = read_all_now(&read);
        assert!(!early.is_empty(), "full batches went out");
        assert!(early.len() < 1000, "the last batch waits");
        sink.flush().unwrap();
        let all: Vec<u64> = early
            .iter()
            .chain(&read_all_now(&read))
            .map(sleep_of)
            .collect();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
