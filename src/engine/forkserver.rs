//! The fork server: a small single-threaded process that starts a run's children.
//!
//! The mpviz parent has threads (the screen, the pacer, the readers), and a
//! fork of a multi-threaded process may copy a lock some other thread held.
//! So the parent starts this server once per run by re-executing its own binary
//! (`mpviz __forkserver`); the server has one thread and forks every child
//! directly, which is about five times faster than a fork and exec per child.
//! It is the children's real parent: it reaps them with `waitpid` and reports
//! each exit code or signal as the OS gave it.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, getppid, Pid as NixPid};
use serde::{Deserialize, Serialize};

use crate::ipc::{EventSink, Gates, RunClock};
use crate::protocol::Pid;
use crate::protocol::{Body, Event};
use crate::scenario;
use crate::worker::{exit_now, fork_announced, Ctx, Forked};

/// The first argument that turns the mpviz binary into a fork server.
pub const ARG: &str = "__forkserver";
/// The environment variable that carries the [`Plan`].
pub const PLAN_VAR: &str = "MPVIZ_FORKSERVER_PLAN";
/// For tests only: the fork of this slot fails with EAGAIN, as it would when
/// the system runs out of processes. A real limit cannot pick the slot: the
/// server forks every slot as soon as it starts, while mpviz's own threads,
/// started at the same moment, draw on the same limit (a pids cgroup's or
/// `ulimit -u`), so which of them is refused is the scheduler's choice. The
/// forks a scenario's process makes step by step (lifecycle's main) are
/// refused for real in tests (a pids cgroup: tests/lifecycle_headless.rs,
/// tests/dashboard.rs).
pub const FAIL_FORK_VAR: &str = "MPVIZ_TEST_FAIL_FORK_AT";

/// Everything the server needs, passed as JSON in its environment.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub scenario: String,
    pub params: serde_json::Value,
    pub seed: u64,
    pub run_dir: PathBuf,
    pub clock: RunClock,
    pub events_fd: RawFd,
    pub gates_fd: RawFd,
    /// The scenario's own kernel objects, inherited by every child.
    pub ipc_fds: Vec<RawFd>,
}

static PARENT_GONE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_parent_death(_: nix::libc::c_int) {
    PARENT_GONE.store(true, Ordering::SeqCst);
}

/// Entry point of `mpviz __forkserver`.
pub fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpviz fork server: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn serve() -> anyhow::Result<()> {
    let plan: Plan = serde_json::from_str(&std::env::var(PLAN_VAR)?)?;
    // The parent asked the kernel for SIGTERM when it dies (even by SIGKILL).
    // Catch it, so that the server can clean up below (see
    // `wait_for_every_child`).
    let action = signal::SigAction::new(
        SigHandler::Handler(on_parent_death),
        signal::SaFlags::empty(),
        signal::SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic.
    unsafe { signal::sigaction(Signal::SIGTERM, &action)? };

    let scenario = scenario::from_params(&plan.scenario, &plan.params)?;
    // A child's orphans (its children that outlive it) come to this server,
    // as they would to init: it reaps them and reports their exits too.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // SAFETY: the parent cleared FD_CLOEXEC on exactly these two descriptors
    // for us and passed their numbers; nothing else in this process owns them.
    let sink = EventSink::new(unsafe { OwnedFd::from_raw_fd(plan.events_fd) }, plan.clock);
    let gates = Gates::map(
        unsafe { BorrowedFd::borrow_raw(plan.gates_fd) },
        scenario.gate_slots() as usize,
    )?;
    let slots = scenario.processes();
    // The gates' descriptor stays open for the run: a Python process of
    // `mpviz run` maps the gates through /proc/THIS/fd/N.

    let me = getpid();
    let fail_at: Option<u32> = std::env::var(FAIL_FORK_VAR)
        .ok()
        .and_then(|v| v.parse().ok());
    for slot in 0..slots {
        if PARENT_GONE.load(Ordering::SeqCst) {
            break;
        }
        let (name, role) = scenario.process_name(slot);
        let t_ns = plan.clock.now();
        let announce = |child: Pid| {
            let spawn = Body::Spawn {
                name: name.clone(),
                role: role.to_string(),
                slot: scenario.gate_slot(slot, child),
                ppid: me.as_raw(),
            };
            let _ = sink.send(&Event::new(t_ns, Some(child), spawn));
        };
        // This process is single-threaded: it may fork.
        let forked = if fail_at == Some(slot) {
            Err(Errno::EAGAIN)
        } else {
            fork_announced(announce)
        };
        match forked {
            Ok(Forked::Child) => {
                child(&plan, &*scenario, slot, &name, me, &sink, &gates);
            }
            Ok(Forked::Parent(_)) => {
                // Reap whoever is done already, so that finished children do not
                // linger as zombies while the rest are still being started.
                reap(&sink);
            }
            Err(e) => {
                let message = format!(
                    "could not start {name} ({} of {slots}): fork failed: {}",
                    slot + 1,
                    e.desc()
                );
                let _ = sink.emit(None, Body::Error { message });
                break;
            }
        }
    }
    wait_for_every_child(&sink)?;
    if PARENT_GONE.load(Ordering::SeqCst) {
        // The parent died without cleaning up: do it for it, then take the
        // whole process group (the children and this server) down.
        // A user's program is asked to end first, as a Ctrl-C would.
        if scenario.stops_gracefully() {
            crate::cleanup::interrupt_descendants(getpid().as_raw(), super::GRACE);
        }
        let _ = std::fs::remove_dir_all(&plan.run_dir);
        // Those that left the group (a program's setsid()) too.
        crate::cleanup::kill_descendants(getpid().as_raw());
        let _ = signal::kill(NixPid::from_raw(0), Signal::SIGKILL);
    }
    Ok(())
}

extern "C" fn on_child_exit(_: nix::libc::c_int) {}

/// Reaps until no child is left, adopted orphans included, or until the
/// parent is gone. SIGCHLD and SIGTERM are blocked but while the server
/// sleeps in `sigsuspend`, which lets them in and sleeps in one step: a
/// signal that comes just after a look at the flag is not missed (it would
/// be by a plain blocking `waitpid`, which could then wait forever).
fn wait_for_every_child(sink: &EventSink) -> anyhow::Result<()> {
    let action = signal::SigAction::new(
        SigHandler::Handler(on_child_exit),
        signal::SaFlags::empty(),
        signal::SigSet::empty(),
    );
    // SAFETY: the handler does nothing; it exists so that SIGCHLD wakes
    // sigsuspend (its default disposition is to be discarded).
    unsafe { signal::sigaction(Signal::SIGCHLD, &action)? };
    let mut watched = signal::SigSet::empty();
    watched.add(Signal::SIGCHLD);
    watched.add(Signal::SIGTERM);
    let open = watched.thread_swap_mask(signal::SigmaskHow::SIG_BLOCK)?;
    while !PARENT_GONE.load(Ordering::SeqCst) && !reap(sink) {
        open.suspend()?;
    }
    Ok(())
}

/// Reaps the children that have exited and reports each exit as the OS gave
/// it. Returns whether the server has no children left.
fn reap(sink: &EventSink) -> bool {
    loop {
        let (pid, exitcode) = match waitpid(None, Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL))
        {
            Ok(WaitStatus::Exited(pid, code)) => (pid, code),
            Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, -(sig as i32)),
            Ok(WaitStatus::StillAlive) => return false,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        };
        let _ = sink.emit(Some(pid.as_raw()), Body::Exit { exitcode });
    }
}

fn child(
    plan: &Plan,
    scenario: &dyn scenario::Scenario,
    slot: u32,
    name: &str,
    server: NixPid,
    sink: &EventSink,
    gates: &Gates,
) -> ! {
    // Die with the server; and if it died before this line, do not run at all.
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != server {
        exit_now(137);
    }
    // The server's SIGTERM handler must not survive into the child: terminate
    // should end a child as the OS does (exit code -15).
    // SAFETY: restoring the default disposition.
    // Nor may anything the server blocks or catches while it waits for its
    // children (it forks none then; this holds if that ever changes).
    unsafe {
        let _ = signal::signal(Signal::SIGTERM, SigHandler::SigDfl);
        let _ = signal::signal(Signal::SIGCHLD, SigHandler::SigDfl);
        // Python sets its Ctrl-C handler only where SIGINT is not ignored.
        let _ = signal::signal(Signal::SIGINT, SigHandler::SigDfl);
    }
    let _ = signal::SigSet::empty().thread_set_mask();
    if let Ok(cname) = std::ffi::CString::new(name.chars().take(15).collect::<String>()) {
        let _ = nix::sys::prctl::set_name(&cname);
    }
    let mut ctx = Ctx::new(
        getpid().as_raw(),
        slot,
        plan.seed,
        &plan.run_dir,
        sink,
        gates,
        &plan.ipc_fds,
    );
    if !scenario.batches_events() {
        ctx.never_batch();
    }
    let code = scenario.run_child(&mut ctx);
    ctx.flush();
    exit_now(code)
}
