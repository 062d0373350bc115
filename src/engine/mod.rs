//! The engine: starts a run's processes, paces them, watches them, and merges
//! everything into one ordered stream of [`Event`]s.
//!
//! Threads of the parent during a run:
//! - the *reader* reads the event pipe (every child and the fork server write
//!   to it), keeps each child's events after its `spawn`, reads the scenario's
//!   files after each write, and sends everything to the stream;
//! - the *pacer* ([`pacer`]) hands out permits;
//! - the *sampler* reads `/proc/PID/stat` of the live children and reports
//!   state changes.
//!
//! The engine knows nothing of the screen: the TUI, `--headless`, `--json` and
//! the tests all read the same [`Run::events`].

mod deadlock;
pub mod forkserver;
pub mod limits;
pub mod pacer;
mod reader;
pub(crate) mod sampler;
pub mod schedule;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use crossbeam_channel::{Receiver, Sender};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid as NixPid;

use crate::cleanup;
use crate::ipc::{Gates, RunClock};
use crate::protocol::{Body, Event, Pid};
use crate::scenario::{Parent, ParentSide, Scenario};

use pacer::{Pacer, PacerInput};
pub use pacer::{PacerCmd, Speed};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    pub speed: Speed,
    pub paused: bool,
    /// How often the sampler reads `/proc` while events flow.
    pub sample_every: Duration,
    /// The mpviz binary, started as the run's helper processes (the fork
    /// server, the keeper): mpviz passes its own executable; a test that
    /// runs the engine in its own process passes the built binary.
    pub helper: PathBuf,
    /// A rerun: the permits to grant, in a recording's order.
    pub plan: Option<Arc<schedule::Schedule>>,
    /// Pause once the plan is done (a challenge's undo replays the moves
    /// but the last, then waits for the learner).
    pub pause_after_plan: bool,
}

/// One run of a scenario: its processes, its directory, its threads.
/// Dropping it kills every process of the run and removes its directory.
pub struct Run {
    events: Receiver<Vec<Event>>,
    pacer: Sender<PacerInput>,
    pgid: Pid,
    dir: Option<PathBuf>,
    threads: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    clock: RunClock,
    wake_sampler: Sender<()>,
    group_alive: Arc<Mutex<bool>>,
    /// The processes of the run alive as far as the stream says.
    live: Arc<Mutex<Vec<Pid>>>,
    /// Whether a stop asks the processes to end before it kills them
    /// ([`Scenario::stops_gracefully`]).
    graceful: bool,
}

impl Run {
    /// Starts `scenario`. Must be called from a thread that outlives the run
    /// (the main thread): the fork server's parent-death signal is tied to
    /// the thread that started it.
    pub fn start(scenario: Arc<dyn Scenario>, opts: RunOptions) -> anyhow::Result<Run> {
        let clock = RunClock::start();
        // Orphans of this run (children of a fork server that was killed) are
        // re-parented to mpviz instead of init, so that `stop` can reap them
        // and return only once every process of the run is gone.
        let _ = nix::sys::prctl::set_child_subreaper(true);
        // Made by the process that removes it if mpviz dies (see `cleanup`).
        let dir = cleanup::make_run_dir(&opts.helper)?;
        // Removes it if the start fails below.
        let mut guard = StartGuard {
            dir: Some(dir.clone()),
            pgid: None,
        };
        scenario
            .prepare(&dir)
            .with_context(|| format!("could not prepare the run in {}", dir.display()))?;

        // One gate for each paced child, and the last for the main process.
        let slots = scenario.gate_slots() as usize;
        let (gates, gates_fd) =
            Gates::create(slots + 1).context("could not create the shared gates")?;
        let gates = Arc::new(gates);
        let parent_slot = slots as u32;
        // The pacer puts the gates in the run's mode as it is made, before any
        // child can look: a child of a free run never waits at its first gate.
        let (tx, rx) = crossbeam_channel::unbounded();
        let pacer = Pacer::new(
            gates.clone(),
            tx.clone(),
            clock,
            opts.seed,
            opts.speed,
            opts.paused,
            scenario.actors_at_start(),
        )
        .following(opts.plan.clone())
        .pausing_after_plan(opts.pause_after_plan)
        .idle_after(scenario.waits_unseen().then_some(Duration::from_millis(20)));
        let (pipe_read, pipe_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).context("could not create the event pipe")?;
        let ipc = scenario.open_ipc()?;

        let plan = forkserver::Plan {
            scenario: scenario.name().to_string(),
            params: scenario.params(),
            seed: opts.seed,
            run_dir: dir.clone(),
            clock,
            events_fd: pipe_write.as_raw_fd(),
            gates_fd: gates_fd.as_raw_fd(),
            ipc_fds: ipc.iter().map(|fd| fd.as_raw_fd()).collect(),
        };
        let mut inherited = vec![pipe_write.as_raw_fd(), gates_fd.as_raw_fd()];
        inherited.extend(ipc.iter().map(|fd| fd.as_raw_fd()));
        let mut cmd = Command::new(&opts.helper);
        cmd.arg(forkserver::ARG)
            .env(forkserver::PLAN_VAR, serde_json::to_string(&plan)?)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: only async-signal-safe calls (fcntl, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &inherited {
                    let borrowed = std::os::fd::BorrowedFd::borrow_raw(fd);
                    fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::empty()))?;
                }
                nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
                Ok(())
            });
        }
        let server = cmd.spawn().context("could not start the fork server")?;
        let pgid = server.id() as Pid;
        cleanup::register_group(pgid);
        guard.pgid = Some(pgid);
        drop(pipe_write);
        drop(gates_fd);
        let parent_side = scenario.parent_side(&ipc)?;
        drop(ipc);

        let me = std::process::id() as Pid;
        let _ = tx.send(vec![Event::new(
            0,
            None,
            Body::Start {
                scenario: scenario.name().to_string(),
                seed: opts.seed,
                parent_pid: me,
                params: scenario.params(),
            },
        )]);
        let _ = tx.send(vec![Event::new(
            clock.now(),
            Some(pgid),
            Body::Spawn {
                name: "fork server".into(),
                role: "forkserver".into(),
                slot: 0,
                ppid: me,
            },
        )]);

        let stopping = Arc::new(AtomicBool::new(false));
        let group_alive = Arc::new(Mutex::new(true));
        let processes_gone = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(vec![pgid]));
        let activity = Arc::new(AtomicU64::new(0));
        let (pacer_tx, pacer_rx) = crossbeam_channel::unbounded();
        let (wake_sampler, wake_rx) = crossbeam_channel::bounded(1);

        let mut threads = Vec::new();
        let (to_parent, from_parent) = match parent_side {
            Some(side) => {
                let wants = side.wants();
                let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
                let (copy_tx, copy_rx) = crossbeam_channel::unbounded();
                let (report_tx, report_rx) = crossbeam_channel::unbounded();
                let stopping = stopping.clone();
                let gone = processes_gone.clone();
                threads.push(spawn_thread("mpviz-main", move || {
                    let parent =
                        Parent::new(clock, report_tx, stopping, gone).with_gate(gates, parent_slot);
                    run_parent_side(side, copy_rx, parent, done_tx)
                })?);
                (Some((copy_tx, wants)), Some((report_rx, done_rx)))
            }
            None => (None, None),
        };
        let (from_parent, parent_done) = match from_parent {
            Some((reports, done)) => (Some(reports), Some(done)),
            None => (None, None),
        };
        threads.push(spawn_thread("mpviz-pacer", move || pacer.run(pacer_rx))?);
        let reader = reader::Reader {
            lines: reader::spawn_pipe_reader(pipe_read, clock)
                .context("could not start the mpviz-pipe thread")?,
            out: tx.clone(),
            outgoing: Vec::new(),
            pacer_news: Vec::new(),
            pacer: pacer_tx.clone(),
            clock,
            dir: dir.clone(),
            files: scenario.watched_files(),
            server,
            stopping: stopping.clone(),
            live: live.clone(),
            activity: activity.clone(),
            wake_sampler: wake_sampler.clone(),
            group_alive: group_alive.clone(),
            from_parent,
            parent_done,
            processes_gone,
            to_parent,
            parent_pid: me,
            parent_slot,
            order: scenario.show().order,
        };
        threads.push(spawn_thread("mpviz-reader", move || reader.run())?);
        let sampler = sampler::Sampler {
            out: tx,
            clock,
            live: live.clone(),
            activity,
            stopping: stopping.clone(),
            every: opts.sample_every,
            wake: wake_rx,
        };
        threads.push(spawn_thread("mpviz-sampler", move || sampler.run())?);
        guard.dir = None;
        guard.pgid = None;

        Ok(Run {
            events: rx,
            pacer: pacer_tx,
            pgid,
            dir: Some(dir),
            threads,
            stopping,
            clock,
            wake_sampler,
            group_alive,
            live,
            graceful: scenario.stops_gracefully(),
        })
    }

    /// The merged stream, in batches (in order within and across them). It
    /// ends with an `end` event once every process of the run has exited.
    pub fn events(&self) -> &Receiver<Vec<Event>> {
        &self.events
    }

    pub fn pace(&self, cmd: PacerCmd) {
        let _ = self.pacer.send(PacerInput::Cmd(cmd));
    }

    pub fn clock(&self) -> RunClock {
        self.clock
    }

    /// The fork server's PID, which is also the run's process group.
    pub fn group(&self) -> Pid {
        self.pgid
    }

    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// Stops (`true`) or continues every process of the run (SIGSTOP,
    /// SIGCONT to its group), as long as the group is still the run's.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        if let Ok(alive) = self.group_alive.lock() {
            if *alive {
                let _ = killpg(NixPid::from_raw(self.pgid), signal);
            }
        }
    }

    /// Kills every process of the run, waits for the threads, and removes the
    /// run's directory. Safe to call more than once.
    pub fn stop(&mut self) {
        if std::mem::take(&mut self.graceful) {
            if let Ok(alive) = self.group_alive.lock() {
                if *alive {
                    cleanup::interrupt_descendants(self.pgid, GRACE);
                }
            }
        }
        self.stopping.store(true, Ordering::SeqCst);
        // Once the reader has reaped the fork server, the group's number may
        // belong to someone else: signal it only while it is still ours.
        if let Ok(alive) = self.group_alive.lock() {
            if *alive {
                // Those that left the group (a program's setsid()) too:
                // they are still in the fork server's tree.
                cleanup::kill_descendants(self.pgid);
                let _ = killpg(NixPid::from_raw(self.pgid), Signal::SIGKILL);
            }
        }
        // And any process of the run the fork server no longer holds (its
        // orphans, which mpviz, a subreaper, adopted when it died).
        if let Ok(live) = self.live.lock() {
            for &pid in live.iter() {
                let _ = nix::sys::signal::kill(NixPid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.pacer.send(PacerInput::Stop);
        let _ = self.wake_sampler.try_send(());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        // The reader has reaped the fork server; its killed children were
        // re-parented to us: reap them until none of the group is left.
        let group = NixPid::from_raw(-self.pgid);
        while nix::sys::wait::waitpid(group, Some(nix::sys::wait::WaitPidFlag::__WALL)).is_ok() {}
        cleanup::unregister_group(self.pgid);
        if let Some(dir) = self.dir.take() {
            cleanup::remove_run_dir(&dir);
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long a stop waits for a user's program to end on its SIGINT before
/// it kills what is left.
pub const GRACE: Duration = Duration::from_secs(2);

/// Undoes a start that failed halfway (a thread or a pipe could not be
/// made): kills the fork server's group and removes the directory, so that
/// the error leaves nothing behind. The threads already started end when
/// their channels close.
struct StartGuard {
    dir: Option<PathBuf>,
    pgid: Option<Pid>,
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let _ = killpg(NixPid::from_raw(pgid), Signal::SIGKILL);
            let group = NixPid::from_raw(-pgid);
            while nix::sys::wait::waitpid(group, Some(nix::sys::wait::WaitPidFlag::__WALL)).is_ok()
            {
            }
            cleanup::unregister_group(pgid);
        }
        if let Some(dir) = self.dir.take() {
            cleanup::remove_run_dir(&dir);
        }
    }
}

/// The scenario's parent side: fed every event of the stream, ticked between.
/// `_done` is dropped on return, which tells the reader the parent side has
/// nothing more to report.
fn run_parent_side(
    mut side: Box<dyn ParentSide>,
    events: Receiver<Event>,
    parent: Parent,
    _done: Sender<()>,
) {
    // When the processes are all gone the reader still hands over what they
    // said last (the channel ends after it): the main process sees every
    // event, such as the last exit after which it reads the final value.
    // Only a stop asked for cuts it short.
    loop {
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => side.on_event(&event, &parent),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => side.tick(&parent),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                side.tick(&parent);
                return;
            }
        }
        if parent.stop_requested() {
            return;
        }
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .with_context(|| format!("could not start the {name} thread"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the PID of every event it is given.
    struct Recording(Sender<Pid>);

    impl ParentSide for Recording {
        fn on_event(&mut self, event: &Event, _parent: &Parent) {
            let _ = self.0.send(event.pid.unwrap_or_default());
        }
    }

    /// The PIDs of the exits the main process is handed when three processes
    /// exited and the pipe closed, with the run's two flags as given.
    fn seen_by_the_main_process(stopping: bool, gone: bool) -> Vec<Pid> {
        let (tx, events) = crossbeam_channel::unbounded();
        for pid in [11, 12, 13] {
            tx.send(Event::new(0, Some(pid), Body::Exit { exitcode: 0 }))
                .unwrap();
        }
        drop(tx); // the pipe has closed
        let (out, _) = crossbeam_channel::unbounded();
        let flag = |on: bool| Arc::new(AtomicBool::new(on));
        let parent = Parent::new(RunClock::start(), out, flag(stopping), flag(gone));
        let (seen_tx, seen) = crossbeam_channel::unbounded();
        let (done, _) = crossbeam_channel::unbounded();
        run_parent_side(Box::new(Recording(seen_tx)), events, parent, done);
        seen.try_iter().collect()
    }

    #[test]
    fn the_main_process_sees_the_last_events_even_after_every_process_is_gone() {
        assert_eq!(seen_by_the_main_process(false, true), [11, 12, 13]);
    }

    #[test]
    fn a_stop_asked_for_cuts_the_main_process_short() {
        assert_eq!(seen_by_the_main_process(true, false), [11]);
    }
}
