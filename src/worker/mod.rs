//! The child side: what a process of a run has in hand while it runs its
//! scenario's code. A child knows its slot, the run directory, the event pipe
//! and the gates, and nothing of the screen.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::ipc::{EventSink, Gates};
use crate::protocol::{Act, Body, Name, Pid};

/// The role of a thread started by [`Ctx::run_threads`]: its id is a
/// thread id (TID), not a PID.
pub const THREAD_ROLE: &str = "thread";

/// The role of a child that plays a tutorial's main program and starts the
/// other processes itself ([`Ctx::fork_child`]).
pub const MAIN_ROLE: &str = "main";

pub struct Ctx<'a> {
    pub pid: Pid,
    pub slot: u32,
    pub dir: &'a Path,
    /// Seeded from the run's seed and the slot: the same seed gives every
    /// child the same choices.
    pub rng: fastrand::Rng,
    /// The scenario's own kernel objects ([`crate::scenario::Scenario::open_ipc`]).
    pub ipc: &'a [std::os::fd::RawFd],
    sink: &'a EventSink,
    gates: &'a Gates,
    permits_used: u32,
    seed: u64,
    /// Whether reports may be batched while the run is not paced.
    batch: bool,
}

impl<'a> Ctx<'a> {
    pub fn new(
        pid: Pid,
        slot: u32,
        seed: u64,
        dir: &'a Path,
        sink: &'a EventSink,
        gates: &'a Gates,
        ipc: &'a [std::os::fd::RawFd],
    ) -> Self {
        Ctx {
            pid,
            slot,
            dir,
            ipc,
            rng: fastrand::Rng::with_seed(child_seed(seed, slot)),
            sink,
            gates,
            permits_used: gates.granted(slot),
            seed,
            batch: true,
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Reports what this process did. If the parent is gone there is nobody
    /// to tell, and the process ends. A free-running run batches the reports
    /// (see [`crate::ipc::sink`]): call [`Ctx::flush`] before anything that
    /// may wait.
    pub fn emit(&self, body: Body) {
        let sent = if self.batch && self.gates.is_free() {
            self.sink.emit_batched(Some(self.pid), body)
        } else {
            self.sink.emit(Some(self.pid), body)
        };
        if sent.is_err() {
            exit_now(3);
        }
    }

    /// Sends every report at once, even at full speed (see
    /// [`crate::scenario::Scenario::batches_events`]).
    pub fn never_batch(&mut self) {
        self.batch = false;
    }

    /// Whether reports are being kept back (batched): then a wait sends them
    /// first ([`Ctx::flush`]) if it lasts.
    pub fn keeps_back(&self) -> bool {
        self.batch && self.gates.is_free()
    }

    /// Sends the reports kept back: before this process may wait on anything,
    /// and before it ends.
    pub fn flush(&self) {
        if self.sink.flush().is_err() {
            exit_now(3);
        }
    }

    /// Sleeps, reported first.
    pub fn sleep(&self, ms: u64) {
        self.emit(Body::Sleep { ms });
        self.flush();
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    /// Waits for the pacer's permit before the next instrumented action.
    /// When the run is not paced the gate is open and costs one atomic load.
    /// The action (a key and its values, see [`Act`]) is only made when the
    /// gate is closed.
    pub fn gate(&mut self, action: impl Into<Act>) {
        if self.gates.is_free() {
            return;
        }
        self.wait_for_permit(action);
    }

    /// Announces the action and sleeps until the pacer grants it. The `ready`
    /// is sent at once, never kept back, even if the run went free since the
    /// gate looked: a `ready` the pacer never sees is a permit never granted.
    fn wait_for_permit(&mut self, action: impl Into<Act>) {
        self.permits_used += 1;
        let ready = Body::Ready {
            action: action.into(),
        };
        if self.sink.emit(Some(self.pid), ready).is_err() {
            exit_now(3);
        }
        self.gates.wait(self.slot, self.permits_used);
    }
}

impl Ctx<'_> {
    /// Runs `body` on `n` threads of this process, in slots `first_slot..`.
    /// Each thread reports as itself: its kernel thread id (a real task,
    /// `/proc/PID/task/TID`) is its pid on screen, it has a gate of its own,
    /// it announces itself with a `spawn` (role `thread`), and when `join`
    /// returns for it this process reports it `joined` (a thread has no exit
    /// status). Returns what `body` returned, in thread order.
    pub fn run_threads(
        &self,
        first_slot: u32,
        n: u32,
        body: impl Fn(&mut Ctx) -> i32 + Sync,
    ) -> Vec<i32> {
        let (gates, dir, ipc, seed, process) =
            (self.gates, self.dir, self.ipc, self.seed, self.pid);
        let batch = self.batch;
        let clock = self.sink.clock();
        let body = &body;
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..n)
                .map(|i| {
                    let fd = self.sink.fd().try_clone_to_owned();
                    let name = format!("thread-{i}");
                    std::thread::Builder::new()
                        .name(name.clone())
                        .spawn_scoped(scope, move || {
                            let tid = nix::unistd::gettid().as_raw();
                            let Ok(fd) = fd else {
                                return (tid, 1);
                            };
                            let sink = EventSink::new(fd, clock);
                            let slot = first_slot + i;
                            let mut ctx = Ctx::new(tid, slot, seed, dir, &sink, gates, ipc);
                            ctx.batch = batch;
                            ctx.emit(Body::Spawn {
                                name,
                                role: THREAD_ROLE.into(),
                                slot,
                                ppid: process,
                            });
                            let code = body(&mut ctx);
                            ctx.flush();
                            (tid, code)
                        })
                })
                .collect();
            threads
                .into_iter()
                .map(|thread| match thread.map(|t| t.join()) {
                    Ok(Ok((tid, code))) => {
                        if self.sink.emit(Some(tid), Body::Joined).is_err() {
                            exit_now(3);
                        }
                        code
                    }
                    _ => 1,
                })
                .collect()
        })
    }
}

impl Ctx<'_> {
    /// Reports something this process saw of another process `pid` (its
    /// child's state, say), at once.
    pub fn report_about(&self, pid: Pid, body: Body) {
        if self.sink.emit(Some(pid), body).is_err() {
            exit_now(3);
        }
    }

    /// Forks a child of this process, which is its real parent and must reap
    /// it ([`Ctx::wait_child`]). The child runs `body` with a context of its
    /// own (slot `slot`: its own gate) and ends with the code `body` returns.
    /// This process reports the child's `spawn`, as the fork server does.
    pub fn fork_child(
        &mut self,
        slot: u32,
        name: &str,
        role: &str,
        body: impl FnOnce(&mut Ctx) -> i32,
    ) -> nix::Result<Pid> {
        self.flush();
        // A child of a run is single-threaded (threads are only started by
        // `run_threads`, which joins them before it returns): it may fork.
        let announce = |child: Pid| {
            self.report_about(
                child,
                Body::Spawn {
                    name: name.into(),
                    role: role.into(),
                    slot,
                    ppid: self.pid,
                },
            )
        };
        match fork_announced(announce)? {
            Forked::Child => {
                if let Ok(cname) = std::ffi::CString::new(name.chars().take(15).collect::<String>())
                {
                    let _ = nix::sys::prctl::set_name(&cname);
                }
                let pid = nix::unistd::getpid().as_raw();
                let mut ctx = Ctx::new(
                    pid, slot, self.seed, self.dir, self.sink, self.gates, self.ipc,
                );
                ctx.batch = self.batch;
                let code = body(&mut ctx);
                ctx.flush();
                exit_now(code)
            }
            Forked::Parent(child) => Ok(child),
        }
    }

    /// Waits for the child `pid` to end, at most `timeout` (`None`: as long
    /// as it takes), reaps it and reports its exit code as the OS gave it
    /// (Python-style: minus the signal number). `None` if it still runs.
    pub fn wait_child(&self, pid: Pid, timeout: Option<std::time::Duration>) -> Option<i32> {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let target = nix::unistd::Pid::from_raw(pid);
        loop {
            let flags = deadline.map(|_| WaitPidFlag::WNOHANG);
            let code = match waitpid(target, flags) {
                Ok(WaitStatus::Exited(_, code)) => code,
                Ok(WaitStatus::Signaled(_, signal, _)) => -(signal as i32),
                Ok(WaitStatus::StillAlive) => {
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        return None;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return None,
            };
            self.report_about(pid, Body::Exit { exitcode: code });
            return Some(code);
        }
    }

    /// Takes the semaphore `sem` as the lock `name`, as one instrumented
    /// action (`lock_wait`, then `lock_acquire` once it is taken).
    pub fn lock_semaphore(
        &mut self,
        sem: &crate::ipc::sem::SharedSemaphore,
        name: &str,
    ) -> nix::Result<()> {
        self.gate("take_lock");
        self.emit(Body::LockWait { lock: name.into() });
        self.flush();
        sem.acquire(None)?;
        self.emit(Body::LockAcquire { lock: name.into() });
        self.flush();
        Ok(())
    }

    /// Gives the semaphore back, as one instrumented action.
    pub fn unlock_semaphore(
        &mut self,
        sem: &crate::ipc::sem::SharedSemaphore,
        name: &str,
    ) -> nix::Result<()> {
        self.gate("release_lock");
        self.emit(Body::LockRelease { lock: name.into() });
        self.flush();
        sem.release()
    }
}

/// A `flock` this process holds; give it back with [`Ctx::unlock`].
pub struct HeldLock {
    name: Name,
    held: Flock<File>,
}

impl<'a> Ctx<'a> {
    /// Takes the lock `name` on the run's file `file`, as one instrumented
    /// action: `lock_wait` before it may block, `lock_acquire` once the kernel
    /// has given it.
    pub fn lock(&mut self, file: &str, name: &str) -> std::io::Result<HeldLock> {
        self.lock_then(file, name, || ())
    }

    /// [`Ctx::lock`], running `before_report` once the kernel has given the
    /// lock and before the acquire is reported: a process that must not say
    /// it holds the lock before the cause is in the stream (the death of the
    /// holder the kernel took it from) waits there.
    pub fn lock_then(
        &mut self,
        file: &str,
        name: &str,
        before_report: impl FnOnce(),
    ) -> std::io::Result<HeldLock> {
        self.gate("take_lock");
        // Each process opens the lock file itself: flock belongs to an open
        // file, so a descriptor inherited from the parent would be shared.
        let file = File::open(self.path(file))?;
        self.emit(Body::LockWait { lock: name.into() });
        self.flush();
        let held =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
        before_report();
        // Stamped after the lock is held, and shown at once.
        self.emit(Body::LockAcquire { lock: name.into() });
        self.flush();
        Ok(HeldLock {
            name: name.into(),
            held,
        })
    }

    /// Lets go of a lock, as one instrumented action.
    pub fn unlock(&mut self, lock: HeldLock) -> std::io::Result<()> {
        self.gate("release_lock");
        // Stamped and sent before the unlock, so that hold intervals never
        // overlap: the next holder's acquire comes after it in the pipe.
        self.emit(Body::LockRelease { lock: lock.name });
        self.flush();
        drop(
            lock.held
                .unlock()
                .map_err(|(_, e)| std::io::Error::from(e))?,
        );
        Ok(())
    }
}

/// What [`fork_announced`] returns in each process.
pub enum Forked {
    /// In the new process: free to run, its spawn already reported.
    Child,
    /// In the parent: the new process's PID.
    Parent(Pid),
}

/// Forks, and holds the new process back until the parent has run
/// `announce` with its PID (and reported its `spawn` there): a child's first
/// report then always follows its spawn in the pipe, so nothing of it has
/// to be held back and reordered around what others did meanwhile.
pub fn fork_announced(announce: impl FnOnce(Pid)) -> nix::Result<Forked> {
    let (wait, go) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: the callers fork from a single-threaded process (the fork
    // server, or a child of a run); the new process only reads a pipe here.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            drop(go);
            let mut byte = [0u8; 1];
            // Returns at end of file: once the parent has closed its end.
            while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(&wait, &mut byte) {}
            drop(wait);
            Ok(Forked::Child)
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(wait);
            announce(child.as_raw());
            drop(go);
            Ok(Forked::Parent(child.as_raw()))
        }
    }
}

/// Mixes the run's seed with a child's slot (SplitMix64's finalizer), so that
/// neighbouring slots get unrelated streams.
pub fn child_seed(seed: u64, slot: u32) -> u64 {
    let mut z = seed ^ (u64::from(slot) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Ends a forked child at once, without running the parent's exit handlers or
/// flushing buffers it inherited.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { nix::libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::RunClock;
    use crate::protocol::Event;
    use nix::fcntl::OFlag;
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;

    /// Reads frames until `n` events have come or 30 s have passed.
    fn read_events(fd: &std::os::fd::OwnedFd, n: usize) -> Vec<Event> {
        let (mut bytes, mut events) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 4096];
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        while events.len() < n && poll(&mut fds, PollTimeout::from(30_000u16)) == Ok(1) {
            let got = nix::unistd::read(fd, &mut buf).unwrap();
            bytes.extend_from_slice(&buf[..got]);
            while let Some((event, len)) = Event::decode(&bytes) {
                events.push(event.unwrap());
                bytes.drain(..len);
            }
        }
        events
    }

    #[test]
    fn a_ready_is_sent_at_once_even_when_the_run_went_free_before_it() {
        // The run turned free between a child's look at its gate and its
        // `ready`: the `ready` must still reach the pacer (after what the
        // child kept back), or the child would wait for a permit forever.
        let (gates, _fd) = Gates::create(1).unwrap();
        gates.set_free(true);
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
        let dir = std::env::temp_dir();
        let (passed_tx, passed_rx) = crossbeam_channel::unbounded();
        std::thread::scope(|scope| {
            let (gates, dir) = (&gates, dir.as_path());
            scope.spawn(move || {
                let sink = EventSink::new(write, RunClock::start());
                let mut ctx = Ctx::new(7, 0, 1, dir, &sink, gates, &[]);
                ctx.emit(Body::Sleep { ms: 1 }); // kept back: the run is free
                ctx.wait_for_permit("buy");
                passed_tx.send(()).unwrap();
            });
            let events = read_events(&read, 2);
            let passed_early = passed_rx.try_recv().is_ok();
            gates.grant(0); // lets the child end whatever came
            let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
            assert_eq!(kinds, ["sleep", "ready"]);
            assert!(matches!(&events[1].body, Body::Ready { action } if action.action == "buy"));
            assert!(!passed_early, "passed without a permit");
        });
        assert!(passed_rx.recv().is_ok());
    }
}
