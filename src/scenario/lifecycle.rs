//! The life and death of a process (tutorial sections 2.1 to 2.3).
//!
//! One child, `main`, plays the tutorial's main program: it creates processes
//! with a function and with a type that has its own `run`, calls `run`
//! directly (it runs in main's own PID) and `start` (a new PID), asks `name`,
//! `pid`, `is_alive()` and `exitcode`, joins with a timeout that expires while
//! the child still runs and then for good, sees exit codes 0, 1 (a `run` that
//! fails), -15 after `terminate()` and -9 after `kill()`, leaves a child
//! unreaped long enough to be a zombie (state Z in /proc), starts a child
//! that starts one of its own and waits for it at exit as Python's does,
//! until main terminates it and its child is orphaned (re-parented to the
//! fork server, a subreaper as init would be), and terminates a process that
//! holds a lock. With a semaphore lock (like Python's `Lock`) nobody lets go
//! for the dead holder: main names the deadlock once the system shows it
//! (value 0, each waiter asleep on the semaphore) and ends the waiters. With
//! an `flock` the kernel lets go and the waiters go on. A daemon child,
//! started first, is terminated when main ends, as Python does at exit.
//!
//! Main is the real parent of its children: it forks them, reaps them with
//! `waitpid` and reports their exit codes as the OS gave them. Every step of
//! every process is one action behind a gate of its own.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Scenario, Show, Side, Spec};
use crate::engine::sampler::proc_state;
use crate::ipc::sem::SharedSemaphore;
use crate::model::{Model, Moment};
use crate::protocol::{Act, Body, Pid, PyValue, SeenBlocked};
use crate::scenario::texts::summary_value;
use crate::worker::Ctx;

pub const LOCK: &str = "lock";
pub const LOCK_FILE: &str = "lock.flock";

/// How the lock is made.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// A POSIX semaphore, as Python's Lock: nobody lets go for a dead holder
    Semaphore,
    /// An flock: the kernel lets go when its holder dies
    Flock,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Semaphore => "semaphore",
            LockKind::Flock => "flock",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LifecycleParams {
    pub lock_kind: LockKind,
    /// How many processes wait for the lock its holder dies with.
    pub waiters: u32,
}

/// Each process of the run: its slot (its gate), name and role.
const MAIN: (u32, &str) = (0, "main");
const DAEMON: (u32, &str) = (1, "daemon");
const HELLO: (u32, &str) = (2, "hello");
const MY_PROCESS: (u32, &str) = (3, "MyProcess");
const TERMINATED: (u32, &str) = (4, "terminated");
const KILLED: (u32, &str) = (5, "killed");
const ZOMBIE: (u32, &str) = (6, "zombie");
const ORPHANS_PARENT: (u32, &str) = (7, "orphans-parent");
const ORPHAN: (u32, &str) = (8, "orphan");
const HOLDER: (u32, &str) = (9, "holder");
/// The waiters take the slots from here on.
const FIRST_WAITER: u32 = 10;

pub struct Lifecycle {
    params: LifecycleParams,
    spec: Spec,
}

impl Lifecycle {
    pub fn new(params: LifecycleParams) -> anyhow::Result<Lifecycle> {
        Ok(Lifecycle {
            params,
            spec: super::spec("lifecycle")?,
        })
    }
}

/// The headline's deadlock, lit once one is named on evidence.
const DEADLOCK: &str = "deadlock";

impl Scenario for Lifecycle {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        // Main; it starts every other process itself.
        1
    }

    fn gate_slots(&self) -> u32 {
        FIRST_WAITER + self.params.waiters
    }

    fn process_name(&self, _slot: u32) -> (String, &'static str) {
        (MAIN.1.into(), "main")
    }

    fn batches_events(&self) -> bool {
        // Every step is the lesson, in its order.
        false
    }

    fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        if self.params.lock_kind == LockKind::Flock {
            File::create(dir.join(LOCK_FILE))?;
        }
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        Vec::new()
    }

    fn open_ipc(&self) -> anyhow::Result<Vec<OwnedFd>> {
        Ok(vec![SharedSemaphore::create(1)?])
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        let Some(&fd) = ctx.ipc.first() else {
            return 2;
        };
        // SAFETY: the run's descriptors stay open for the child's whole life.
        let Ok(sem) = SharedSemaphore::open(unsafe { BorrowedFd::borrow_raw(fd) }) else {
            return 2;
        };
        let lock = Lock {
            kind: self.params.lock_kind,
            sem,
        };
        match main(ctx, &lock, self.params.waiters) {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("main: {e}"),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let codes: Map<String, Value> = model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver")
            .map(|p| (p.name.clone(), json!(p.exitcode)))
            .collect();
        let zombie = model.procs.iter().find(|p| p.name == ZOMBIE.1);
        let mut s = Map::new();
        s.insert("scenario".into(), json!("lifecycle"));
        s.insert("lock_kind".into(), json!(self.params.lock_kind.as_str()));
        s.insert("waiters".into(), json!(self.params.waiters));
        s.insert("seed".into(), json!(model.seed));
        s.insert(
            "processes".into(),
            json!(model.procs.len().saturating_sub(1)),
        );
        s.insert("exit_codes_by_name".into(), Value::Object(codes));
        s.insert(
            "zombie_seen".into(),
            json!(zombie.is_some_and(|z| z.state == Some('Z'))),
        );
        s.insert("deadlocks".into(), json!(model.locks.deadlocks));
        s.insert(
            "exit_codes".into(),
            super::exit_codes_json(
                model,
                &[
                    "main", "daemon", "function", "class", "worker", "orphan", "holder", "waiter",
                ],
            ),
        );
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        let kind = self.params.lock_kind.as_str();
        texts.say_by("report", |hole| match hole {
            "lock_kind" => Some(kind.to_string()),
            _ => summary_value(texts, &s, hole),
        })
    }

    fn variant(&self) -> String {
        let kind = self.params.lock_kind.as_str();
        self.spec.texts.say("variant", &[("lock_kind", &kind)])
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Lock, Height::Content),
            (Panel::Calls, Height::Rest),
            (Panel::Log, Height::Third),
        ])
        .side(Side::HalfWhenWide)
        .log_under_table()
        .alarms(&[(DEADLOCK, Moment::Deadlock)])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let ended = model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver" && p.exitcode.is_some())
            .count();
        vec![
            ("calls", model.calls.len().to_string()),
            ("ended", ended.to_string()),
            (
                DEADLOCK,
                // Only once named on evidence, not when a holder died.
                self.spec.texts.say(
                    if model.locks.deadlocks > 0 {
                        "word_yes"
                    } else {
                        "word_no"
                    },
                    &[],
                ),
            ),
        ]
    }

    fn intro(&self) -> String {
        let key = match self.params.lock_kind {
            LockKind::Semaphore => "intro_semaphore",
            LockKind::Flock => "intro_flock",
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
    }
}

/// The lock the holder dies with.
struct Lock {
    kind: LockKind,
    sem: SharedSemaphore,
}

impl Lock {
    /// Takes it; with an flock, `before_report` runs once the kernel has
    /// given it, before the acquire is reported.
    fn take(
        &self,
        ctx: &mut Ctx,
        before_report: impl FnOnce(),
    ) -> std::io::Result<Option<crate::worker::HeldLock>> {
        match self.kind {
            LockKind::Semaphore => {
                ctx.lock_semaphore(&self.sem, LOCK)?;
                Ok(None)
            }
            LockKind::Flock => Ok(Some(ctx.lock_then(LOCK_FILE, LOCK, before_report)?)),
        }
    }

    fn give(&self, ctx: &mut Ctx, held: Option<crate::worker::HeldLock>) -> std::io::Result<()> {
        match held {
            Some(held) => ctx.unlock(held),
            None => Ok(ctx.unlock_semaphore(&self.sem, LOCK)?),
        }
    }
}

/// A call on a Process object (or of `os`), reported by the caller with the
/// value it returned.
fn call(ctx: &Ctx, call: &str, target: Option<Pid>, result: PyValue) {
    ctx.emit(Body::ProcessCall {
        call: call.into(),
        target,
        result,
        timeout_ms: None,
        alive: None,
        exitcode: None,
    });
}

/// The processes main has started, and the exit code of each it has reaped:
/// as Python's `Popen` keeps its `returncode`, a child is waited for by the
/// system only until it has been reaped once.
#[derive(Default)]
struct Children {
    reaped: HashMap<Pid, i32>,
}

impl Children {
    /// `waitpid` for `pid`, at most `timeout` (`None`: until it ends); its
    /// exit code, or `None` while it runs.
    fn poll(&mut self, ctx: &Ctx, pid: Pid, timeout: Option<Duration>) -> Option<i32> {
        if let Some(&code) = self.reaped.get(&pid) {
            return Some(code);
        }
        let code = ctx.wait_child(pid, timeout)?;
        self.reaped.insert(pid, code);
        Some(code)
    }

    /// `join()` (or `join(timeout)`): returns None, as Python's does; the
    /// report carries what the wait saw (still running, or the exit code).
    fn join(&mut self, ctx: &Ctx, call: &str, pid: Pid, timeout: Option<Duration>) {
        let code = self.poll(ctx, pid, timeout);
        ctx.emit(Body::ProcessCall {
            call: call.into(),
            target: Some(pid),
            result: PyValue::None,
            timeout_ms: timeout.map(|t| t.as_millis() as u64),
            alive: Some(code.is_none()),
            exitcode: code,
        });
    }
}

fn py_code(code: Option<i32>) -> PyValue {
    code.map_or(PyValue::None, |c| PyValue::Int(c.into()))
}

/// The body of the function `hello`: it says which process runs it.
fn hello_body(ctx: &Ctx) {
    let pid = nix::unistd::getpid().as_raw();
    call(
        ctx,
        "os.getpid() in hello",
        Some(pid),
        PyValue::Int(pid.into()),
    );
}

/// `pid` as the system shows it, if it is asleep in the kernel on a futex
/// inside `futex` (addresses in its memory): state S in /proc/PID/stat, in
/// the `futex` system call on that address (/proc/PID/syscall: its number,
/// then its first argument), and where it sleeps (/proc/PID/wchan).
/// `Ok(None)`: not (yet) so; an error: the system does not show it.
fn asleep_on(pid: Pid, futex: &std::ops::Range<usize>) -> std::io::Result<Option<SeenBlocked>> {
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall"))?;
    let mut fields = syscall.split_whitespace();
    let (Some(number), Some(address)) = (fields.next(), fields.next()) else {
        // "running": in no system call now.
        return Ok(None);
    };
    let on_it = number.parse::<i64>().ok() == Some(nix::libc::SYS_futex)
        && usize::from_str_radix(address.trim_start_matches("0x"), 16)
            .is_ok_and(|a| futex.contains(&a));
    let state = proc_state(pid);
    if !on_it || state != Some('S') {
        return Ok(None);
    }
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan"))?;
    Ok(Some(SeenBlocked {
        pid,
        state: 'S',
        wchan: wchan.trim().to_string(),
        syscall: format!("{number} {address}"),
    }))
}

/// A line of the Python program as the action a process waits to do: code
/// reads the same in every language.
fn py(code: impl Into<String>) -> Act {
    Act::new("py").with("code", code.into())
}

fn pause_a_little() {
    std::thread::sleep(Duration::from_millis(5));
}

/// Works until stopped: a step, a short sleep, again.
fn work_forever(ctx: &mut Ctx, action: &str) -> i32 {
    loop {
        ctx.gate(action);
        ctx.sleep(100);
    }
}

fn signal(pid: Pid, signal: Signal) -> std::io::Result<()> {
    Ok(kill(NixPid::from_raw(pid), signal)?)
}

/// Reads `pipe` until end of file: until every process that had its other
/// end has closed it (or ended).
fn wait_for_eof(pipe: BorrowedFd) {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(pipe, &mut byte) {
            Err(nix::errno::Errno::EINTR) | Ok(1..) => continue,
            _ => return,
        }
    }
}

/// The main program. Every step it or its children take is one instrumented
/// action behind a gate of its own: paused, no process moves (what is
/// already asleep in the kernel, a join or a lock, may still be woken).
fn main(ctx: &mut Ctx, lock: &Lock, waiters: u32) -> std::io::Result<()> {
    let me = ctx.pid;
    let mut kids = Children::default();
    ctx.gate(py("lock = Lock()"));
    ctx.emit(Body::LockMade {
        lock: LOCK.into(),
        lock_kind: lock.kind.as_str().into(),
    });

    // A daemon, started first: it works until main ends.
    ctx.gate(py("d = Process(daemon=True); d.start()"));
    let daemon = ctx.fork_child(DAEMON.0, DAEMON.1, "daemon", |c| {
        work_forever(c, "work_daemon")
    })?;
    call(ctx, "d.start()", Some(daemon), PyValue::None);

    // A function as the target: run() calls it in this very process,
    // start() in a new one.
    ctx.gate(py("p = Process(target=hello); p.run()"));
    hello_body(ctx);
    ctx.gate(("returns", [("call", "p.run()")]));
    call(ctx, "p.run()", None, PyValue::None);
    ctx.gate(py("p.start()"));
    let hello = ctx.fork_child(HELLO.0, HELLO.1, "function", |c| {
        c.gate(("run", [("call", "hello()")]));
        hello_body(c);
        c.gate(py("time.sleep(1.5)"));
        c.sleep(1500);
        c.gate(("returns", [("call", "hello()")]));
        0
    })?;
    call(ctx, "p.start()", Some(hello), PyValue::None);
    ctx.gate(py("p.name"));
    call(ctx, "p.name", Some(hello), PyValue::Str(HELLO.1.into()));
    ctx.gate(py("p.pid"));
    call(ctx, "p.pid", Some(hello), PyValue::Int(hello.into()));
    // is_alive() and exitcode poll the child as Python does: waitpid without
    // waiting, which reaps it if it has ended.
    ctx.gate(py("p.is_alive()"));
    let ended = kids.poll(ctx, hello, Some(Duration::ZERO));
    call(
        ctx,
        "p.is_alive()",
        Some(hello),
        PyValue::Bool(ended.is_none()),
    );
    ctx.gate(py("p.exitcode"));
    let ended = kids.poll(ctx, hello, Some(Duration::ZERO));
    call(ctx, "p.exitcode", Some(hello), py_code(ended));
    ctx.gate(py("p.join(timeout=0.2)"));
    kids.join(
        ctx,
        "p.join(timeout=0.2)",
        hello,
        Some(Duration::from_millis(200)),
    );
    ctx.gate(py("p.join()"));
    kids.join(ctx, "p.join()", hello, None);
    ctx.gate(py("p.exitcode"));
    let ended = kids.poll(ctx, hello, Some(Duration::ZERO));
    call(ctx, "p.exitcode", Some(hello), py_code(ended));

    // A type with its own run(), which fails: the process exits with 1.
    ctx.gate(py("q = MyProcess(); q.start()"));
    let mine = ctx.fork_child(MY_PROCESS.0, MY_PROCESS.1, "class", |c| {
        c.gate(("fails", [("call", "run()")]));
        // As CPython does: _bootstrap() catches what run() raised and
        // returns 1, and the process ends with os._exit(1).
        let code = 1;
        call(c, "_bootstrap()", None, PyValue::Int(code.into()));
        code
    })?;
    call(ctx, "q.start()", Some(mine), PyValue::None);
    ctx.gate(py("q.join()"));
    kids.join(ctx, "q.join()", mine, None);

    // terminate() and kill().
    for ((slot, name), sig, how) in [
        (TERMINATED, Signal::SIGTERM, "terminate"),
        (KILLED, Signal::SIGKILL, "kill"),
    ] {
        ctx.gate(py(format!("{name} = Process(); {name}.start()")));
        let pid = ctx.fork_child(slot, name, "worker", |c| work_forever(c, "work"))?;
        call(ctx, &format!("{name}.start()"), Some(pid), PyValue::None);
        ctx.gate(py(format!("{name}.{how}()")));
        signal(pid, sig)?;
        call(ctx, &format!("{name}.{how}()"), Some(pid), PyValue::None);
        ctx.gate(py(format!("{name}.join()")));
        kids.join(ctx, &format!("{name}.join()"), pid, None);
    }

    // A zombie: ended, not yet reaped.
    ctx.gate(("start_no_join", [("name", "z")]));
    let zombie = ctx.fork_child(ZOMBIE.0, ZOMBIE.1, "worker", |c| {
        c.gate(("returns", [("call", "f()")]));
        0
    })?;
    call(ctx, "z.start()", Some(zombie), PyValue::None);
    ctx.gate(("look_in_proc", [("name", "z")]));
    // Only its parent can reap it, and main has not: once it has ended, it
    // is a zombie.
    while proc_state(zombie).is_some_and(|s| s != 'Z') {
        pause_a_little();
    }
    let state = proc_state(zombie);
    if state == Some('Z') {
        ctx.report_about(zombie, Body::State { state: 'Z' });
    }
    // main's own step: what it read there.
    call(
        ctx,
        &format!("read /proc/{zombie}/stat"),
        Some(zombie),
        state.map_or(PyValue::None, |s| PyValue::Str(s.to_string())),
    );
    ctx.gate(("reap_zombie", [("name", "z")]));
    kids.join(ctx, "z.join()", zombie, None);

    // An orphan: o starts g and returns, but a Python process joins its
    // non-daemon children at exit, so o waits for g; only when o is
    // terminated is g orphaned (re-parented to the fork server, a subreaper).
    ctx.gate(py("o = Process(); o.start()"));
    // g closes its end of this pipe once it has read its first parent's PID,
    // and o once its run() has returned: main terminates o only after both.
    let (seen_rx, seen_tx) = nix::unistd::pipe()?;
    let (rx, tx) = (seen_rx.as_raw_fd(), seen_tx.as_raw_fd());
    let orphans_parent = ctx.fork_child(ORPHANS_PARENT.0, ORPHANS_PARENT.1, "worker", |c| {
        let _ = nix::unistd::close(rx);
        let parent = c.pid;
        c.gate(py("g = Process(); g.start()"));
        let orphan = c.fork_child(ORPHAN.0, ORPHAN.1, "orphan", |g| {
            g.gate(py("os.getppid()"));
            let first = nix::unistd::getppid().as_raw();
            call(g, "os.getppid()", None, PyValue::Int(first.into()));
            let _ = nix::unistd::close(tx);
            // Re-parented once its parent has died.
            while nix::unistd::getppid().as_raw() == parent {
                pause_a_little();
            }
            g.gate(py("os.getppid()"));
            let now = nix::unistd::getppid().as_raw();
            call(g, "os.getppid()", None, PyValue::Int(now.into()));
            g.gate(("function_returns", [("name", "g")]));
            0
        });
        let Ok(orphan) = orphan else { return 1 };
        call(c, "g.start()", Some(orphan), PyValue::None);
        c.gate(("returns", [("call", "run()")]));
        call(c, "run()", None, PyValue::None);
        // o has returned from run(): main may terminate it now.
        let _ = nix::unistd::close(tx);
        // At exit, as multiprocessing's `_exit_function` does: join every
        // non-daemon child. o is terminated while it waits here.
        match c.wait_child(orphan, None) {
            Some(_) => 0,
            None => 1,
        }
    })?;
    drop(seen_tx);
    call(ctx, "o.start()", Some(orphans_parent), PyValue::None);
    wait_for_eof(seen_rx.as_fd());
    drop(seen_rx);
    ctx.gate(py("o.terminate()"));
    signal(orphans_parent, Signal::SIGTERM)?;
    call(ctx, "o.terminate()", Some(orphans_parent), PyValue::None);
    ctx.gate(py("o.join()"));
    kids.join(ctx, "o.join()", orphans_parent, None);

    // A holder terminated while it holds the lock.
    ctx.gate(("start_holder", [("name", "h")]));
    // The holder closes its end of this pipe once it has the lock and has
    // reported it: main terminates it only after that.
    let (has_it_rx, has_it_tx) = nix::unistd::pipe()?;
    let (rx, tx) = (has_it_rx.as_raw_fd(), has_it_tx.as_raw_fd());
    let holder = ctx.fork_child(HOLDER.0, HOLDER.1, "holder", |c| {
        let _ = nix::unistd::close(rx);
        let Ok(_held) = lock.take(c, || ()) else {
            return 1;
        };
        let _ = nix::unistd::close(tx);
        work_forever(c, "work_holding_lock")
    })?;
    drop(has_it_tx);
    call(ctx, "h.start()", Some(holder), PyValue::None);
    // End of file: the holder has the lock (or has ended).
    wait_for_eof(has_it_rx.as_fd());
    drop(has_it_rx);
    // The kernel lets go of a dead holder's flock as the holder dies, before
    // its parent can reap it: a waiter may hold the lock before main has
    // seen the death. A waiter that got the lock reports it only once main
    // has reported the holder's exit (main closes this pipe then), so that
    // the cause comes before the effect in the stream.
    let (reaped_rx, reaped_tx) = nix::unistd::pipe()?;
    let (rx, tx) = (reaped_rx.as_raw_fd(), reaped_tx.as_raw_fd());
    let mut waiting = Vec::new();
    for w in 0..waiters {
        let name = format!("waiter-{}", w + 1);
        ctx.gate(py(format!("{name}.start()")));
        let pid = ctx.fork_child(FIRST_WAITER + w, &name, "waiter", |c| {
            let _ = nix::unistd::close(tx);
            // SAFETY: the pipe's read end stays open in this process.
            let after_the_death = || wait_for_eof(unsafe { BorrowedFd::borrow_raw(rx) });
            match lock
                .take(c, after_the_death)
                .and_then(|held| lock.give(c, held))
            {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })?;
        call(ctx, &format!("{name}.start()"), Some(pid), PyValue::None);
        waiting.push((name, pid));
    }
    drop(reaped_rx);
    ctx.gate(("terminate_holder", [("name", "h")]));
    signal(holder, Signal::SIGTERM)?;
    call(ctx, "h.terminate()", Some(holder), PyValue::None);
    ctx.gate(py("h.join()"));
    kids.join(ctx, "h.join()", holder, None);
    drop(reaped_tx);
    if lock.kind == LockKind::Semaphore {
        // Nobody will ever give the semaphore back. A join with a timeout
        // returns while the waiter still waits; Python's join() would hang.
        for (name, w) in &waiting {
            ctx.gate(py(format!("{name}.join(timeout=1)")));
            kids.join(
                ctx,
                &format!("{name}.join(timeout=1)"),
                *w,
                Some(Duration::from_secs(1)),
            );
        }
        ctx.gate("look_at_lock");
        let stuck: Vec<Pid> = waiting
            .iter()
            .map(|&(_, w)| w)
            .filter(|w| !kids.reaped.contains_key(w))
            .collect();
        // The holder is dead: main reaped it above.
        let holder_dead = kids.reaped.contains_key(&holder);
        if let Some((value, seen)) = deadlock_evidence(&lock.sem, &stuck).filter(|_| holder_dead) {
            ctx.report_about(
                me,
                Body::Deadlock {
                    lock: LOCK.into(),
                    holder,
                    waiters: stuck.clone(),
                    value,
                    seen,
                },
            );
        }
        // Whether or not the system showed it, they would wait forever: main
        // ends them.
        for (name, w) in waiting.iter().filter(|(_, w)| stuck.contains(w)) {
            ctx.gate(py(format!("{name}.terminate()")));
            signal(*w, Signal::SIGTERM)?;
            call(ctx, &format!("{name}.terminate()"), Some(*w), PyValue::None);
            ctx.gate(py(format!("{name}.join()")));
            kids.join(ctx, &format!("{name}.join()"), *w, None);
        }
    }
    // With an flock the kernel lets go for the dead holder, and the waiters
    // go on, at whatever pace the teacher sets; with a semaphore they were
    // ended above, and these joins only read what was reaped.
    if lock.kind == LockKind::Flock {
        for (name, w) in &waiting {
            ctx.gate(py(format!("{name}.join()")));
            kids.join(ctx, &format!("{name}.join()"), *w, None);
        }
    }

    // Main ends: as Python does at exit, its daemonic children are
    // terminated, then joined.
    ctx.gate(("exit_terminate", [("name", "d")]));
    signal(daemon, Signal::SIGTERM)?;
    call(ctx, "(at exit) d.terminate()", Some(daemon), PyValue::None);
    ctx.gate(("exit_join", [("name", "d")]));
    kids.join(ctx, "(at exit) d.join()", daemon, None);
    Ok(())
}

/// The evidence of a deadlock on `sem`, read from the system: its value is
/// 0 (`sem_getvalue`) and each of `waiters` is asleep in the kernel on it.
/// Waits while a waiter has not got there yet (it may still be at its
/// gate); `None` if the value is not 0, a waiter has ended, or the system
/// does not show where they sleep.
fn deadlock_evidence(sem: &SharedSemaphore, waiters: &[Pid]) -> Option<(i32, Vec<SeenBlocked>)> {
    if waiters.is_empty() {
        return None;
    }
    let on = sem.address_range();
    loop {
        let value = sem.value();
        if value != 0 {
            return None;
        }
        let mut seen = Vec::new();
        for &w in waiters {
            match proc_state(w) {
                None | Some('Z') => return None,
                Some(_) => {}
            }
            match asleep_on(w, &on) {
                Ok(Some(blocked)) => seen.push(blocked),
                Ok(None) => break,
                Err(_) => return None,
            }
        }
        if seen.len() == waiters.len() {
            return Some((value, seen));
        }
        pause_a_little();
    }
}
