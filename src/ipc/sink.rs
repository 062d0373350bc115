//! The child side of the event pipe.
//!
//! Every process of a run writes its events into one pipe. A write of at most
//! `PIPE_BUF` bytes is atomic, so each event arrives whole even with a thousand
//! writers, and the order in the pipe is the order in which the writes happened.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::ipc::RunClock;
use crate::protocol::{Body, Event, Pid};

/// The largest write the kernel keeps atomic on a pipe (Linux: 4096).
pub const PIPE_BUF: usize = 4096;

pub struct EventSink {
    fd: OwnedFd,
    clock: RunClock,
}

impl EventSink {
    pub fn new(fd: OwnedFd, clock: RunClock) -> Self {
        EventSink { fd, clock }
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Stamps `body` now and sends it. A failed write means the parent is gone;
    /// the child then has nobody to report to and the error is returned.
    pub fn emit(&self, pid: Option<Pid>, body: Body) -> nix::Result<()> {
        self.send(&Event::new(self.clock.now(), pid, body))
    }

    pub fn send(&self, event: &Event) -> nix::Result<()> {
        let mut line = event.to_json();
        if line.len() >= PIPE_BUF {
            // Only free text can make an event this long; cut it rather than
            // let two processes' bytes interleave.
            line = Event::new(
                event.t_ns,
                event.pid,
                Body::Error {
                    message: format!("an event of kind {} was too long to send", event.kind()),
                },
            )
            .to_json();
        }
        line.push('\n');
        let bytes = line.as_bytes();
        loop {
            match nix::unistd::write(&self.fd, bytes) {
                Ok(n) if n == bytes.len() => return Ok(()),
                // A pipe write below PIPE_BUF is all or nothing; a short count
                // cannot happen, but never loop on it.
                Ok(_) => return Err(nix::errno::Errno::EIO),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
