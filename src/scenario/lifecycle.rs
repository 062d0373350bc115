//! The life and death of a process (tutorial sections 2.1 to 2.3).
//!
//! One child, `main`, plays the tutorial's main program: it creates processes
//! with a function and with a type that has its own `run`, calls `run`
//! directly (it runs in main's own PID) and `start` (a new PID), asks `name`,
//! `pid`, `is_alive()` and `exitcode`, joins with a timeout that expires while
//! the child still runs and then for good, sees exit codes 0, 1, -15 after
//! `terminate()` and -9 after `kill()`, leaves a child unreaped long enough
//! to be a zombie (state Z in /proc), lets a child's own child become an
//! orphan (re-parented to the fork server, a subreaper as init would be),
//! and terminates a process that holds a lock. With a semaphore lock (like
//! Python's `Lock`) nobody lets go for the dead holder: the waiters would
//! wait forever, main names the deadlock and ends them. With an `flock` the
//! kernel lets go and the waiters go on. A daemon child, started first, is
//! terminated when main ends, as Python does at exit.
//!
//! Main is the real parent of its children: it forks them, reaps them with
//! `waitpid` and reports their exit codes as the OS gave them.

use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid as NixPid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Scenario, Spec};
use crate::ipc::sem::SharedSemaphore;
use crate::model::Model;
use crate::protocol::{Body, Pid};
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

impl Scenario for Lifecycle {
    fn name(&self) -> &'static str {
        "lifecycle"
    }

    fn spec(&self) -> &Spec {
        &self.spec
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
        s.insert("processes".into(), json!(model.procs.len() - 1));
        s.insert("exit_codes_by_name".into(), Value::Object(codes));
        s.insert(
            "zombie_seen".into(),
            json!(zombie.is_some_and(|z| z.state == Some('Z'))),
        );
        s.insert("deadlocks".into(), json!(model.deadlocks));
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
        let get = |k: &str| s.get(k).map_or_else(String::new, |v| v.to_string());
        format!(
            "lifecycle with a {} lock: exit codes {}; zombie seen {}; deadlocks {}",
            self.params.lock_kind.as_str(),
            get("exit_codes_by_name"),
            get("zombie_seen"),
            get("deadlocks"),
        )
    }

    fn variant(&self) -> String {
        format!("a {} lock", self.params.lock_kind.as_str())
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
                "deadlock",
                if model.locks.values().any(|l| l.deadlocked()) || model.deadlocks > 0 {
                    "yes".into()
                } else {
                    "no".into()
                },
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
    /// Takes it for good (the holder never lets go).
    fn take(&self, ctx: &mut Ctx) -> std::io::Result<Option<crate::worker::HeldLock>> {
        match self.kind {
            LockKind::Semaphore => {
                ctx.lock_semaphore(&self.sem, LOCK)?;
                Ok(None)
            }
            LockKind::Flock => Ok(Some(ctx.lock(LOCK_FILE, LOCK)?)),
        }
    }

    fn give(&self, ctx: &mut Ctx, held: Option<crate::worker::HeldLock>) -> std::io::Result<()> {
        match held {
            Some(held) => ctx.unlock(held),
            None => Ok(ctx.unlock_semaphore(&self.sem, LOCK)?),
        }
    }
}

/// A call on a Process object, reported by the caller.
fn call(ctx: &Ctx, call: &str, target: Option<Pid>, result: impl Into<String>) {
    ctx.emit(Body::ProcessCall {
        call: call.into(),
        target,
        result: result.into(),
        timeout_ms: None,
        alive: None,
    });
}

/// The body of the function `hello`: it says which process runs it.
fn hello_body(ctx: &Ctx) {
    let pid = nix::unistd::getpid().as_raw();
    call(ctx, "os.getpid() in hello", Some(pid), pid.to_string());
}

/// The state letter of `pid` in /proc, if it exists.
fn proc_state(pid: Pid) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

fn pause_a_little() {
    std::thread::sleep(Duration::from_millis(5));
}

/// Works until stopped: a step, a short sleep, again.
fn work_forever(ctx: &mut Ctx, what: &str) -> i32 {
    loop {
        ctx.gate(what);
        ctx.sleep(100);
    }
}

fn signal(pid: Pid, signal: Signal) -> std::io::Result<()> {
    Ok(kill(NixPid::from_raw(pid), signal)?)
}

/// The main program.
fn main(ctx: &mut Ctx, lock: &Lock, waiters: u32) -> std::io::Result<()> {
    let me = ctx.pid;
    ctx.emit(Body::LockMade {
        lock: LOCK.into(),
        lock_kind: lock.kind.as_str().into(),
    });

    // A daemon, started first: it works until main ends.
    ctx.gate("d = Process(daemon=True); d.start()");
    let daemon = ctx.fork_child(DAEMON.0, DAEMON.1, "daemon", |c| {
        work_forever(c, "work (a daemon)")
    })?;
    call(
        ctx,
        "d.start()",
        Some(daemon),
        format!("a new process, PID {daemon}, daemon=True"),
    );

    // A function as the target: run() calls it in this very process,
    // start() in a new one.
    ctx.gate("p = Process(target=hello); p.run()");
    hello_body(ctx);
    call(ctx, "p.run()", None, "returned: hello ran in this process");
    ctx.gate("p.start()");
    let hello = ctx.fork_child(HELLO.0, HELLO.1, "function", |c| {
        c.gate("run hello()");
        hello_body(c);
        c.sleep(1500);
        0
    })?;
    call(
        ctx,
        "p.start()",
        Some(hello),
        format!("hello runs in a new process, PID {hello}"),
    );
    ctx.gate("ask p.name, p.pid, p.is_alive(), p.exitcode");
    call(ctx, "p.name", Some(hello), "'hello'");
    call(ctx, "p.pid", Some(hello), hello.to_string());
    // is_alive() and exitcode poll the child as Python does: waitpid without
    // waiting, which reaps it if it has ended.
    let mut ended = ctx.wait_child(hello, Some(Duration::ZERO));
    ctx.emit(Body::ProcessCall {
        call: "p.is_alive()".into(),
        target: Some(hello),
        result: if ended.is_none() { "True" } else { "False" }.into(),
        timeout_ms: None,
        alive: Some(ended.is_none()),
    });
    call(ctx, "p.exitcode", Some(hello), opt_code(ended));
    if ended.is_none() {
        ctx.gate("p.join(timeout=0.2)");
        ended = ctx.wait_child(hello, Some(Duration::from_millis(200)));
        ctx.emit(Body::ProcessCall {
            call: "p.join(timeout=0.2)".into(),
            target: Some(hello),
            result: match ended {
                None => "returned after 0.2 s; p still runs".into(),
                Some(code) => format!("returned: p ended, exit code {code}"),
            },
            timeout_ms: Some(200),
            alive: Some(ended.is_none()),
        });
    }
    if ended.is_none() {
        ctx.gate("p.join()");
        ended = ctx.wait_child(hello, None);
        call(ctx, "p.join()", Some(hello), "returned: p has ended");
    }
    call(ctx, "p.exitcode", Some(hello), opt_code(ended));

    // A type with its own run(), which raises.
    ctx.gate("q = MyProcess(); q.start()");
    let mine = ctx.fork_child(MY_PROCESS.0, MY_PROCESS.1, "class", |c| {
        c.gate("run(): raise ValueError");
        call(
            c,
            "run()",
            Some(c.pid),
            "raised ValueError: the exit code will be 1",
        );
        1
    })?;
    call(
        ctx,
        "q.start()",
        Some(mine),
        format!("MyProcess.run runs in PID {mine}"),
    );
    ctx.gate("q.join()");
    let code = ctx.wait_child(mine, None);
    call(ctx, "q.exitcode", Some(mine), opt_code(code));

    // terminate() and kill().
    for ((slot, name), sig, how) in [
        (TERMINATED, Signal::SIGTERM, "terminate"),
        (KILLED, Signal::SIGKILL, "kill"),
    ] {
        ctx.gate(format_args!("{name} = Process(); {name}.start()"));
        let pid = ctx.fork_child(slot, name, "worker", |c| work_forever(c, "work"))?;
        call(
            ctx,
            &format!("{name}.start()"),
            Some(pid),
            format!("PID {pid}"),
        );
        ctx.gate(format_args!("{name}.{how}()"));
        signal(pid, sig)?;
        call(
            ctx,
            &format!("{name}.{how}()"),
            Some(pid),
            format!("sent {sig}"),
        );
        let code = ctx.wait_child(pid, None);
        call(ctx, &format!("{name}.exitcode"), Some(pid), opt_code(code));
    }

    // A zombie: ended, not yet reaped.
    ctx.gate("z.start(), and do not join it yet");
    let zombie = ctx.fork_child(ZOMBIE.0, ZOMBIE.1, "worker", |_| 0)?;
    call(
        ctx,
        "z.start()",
        Some(zombie),
        format!("PID {zombie}; it ends at once"),
    );
    while proc_state(zombie).is_some_and(|s| s != 'Z') {
        pause_a_little();
    }
    // Only its parent can reap it, and main has not: it must be a zombie now.
    if proc_state(zombie) == Some('Z') {
        ctx.report_about(zombie, Body::State { state: 'Z' });
        call(
            ctx,
            "(no join yet)",
            Some(zombie),
            "state Z in /proc: ended, but its parent has not reaped it",
        );
    }
    ctx.gate("z.join(): reap the zombie");
    let code = ctx.wait_child(zombie, None);
    call(
        ctx,
        "z.join()",
        Some(zombie),
        format!("reaped, exit code {}", opt_code(code)),
    );

    // An orphan: a child's own child outlives its parent.
    ctx.gate("o.start(): o starts a child of its own");
    let orphans_parent = ctx.fork_child(ORPHANS_PARENT.0, ORPHANS_PARENT.1, "worker", |c| {
        c.gate("start a child of its own");
        let parent = c.pid;
        // The child says when it has seen its parent, so that the parent
        // does not end before that.
        let Ok((seen_rx, seen_tx)) = nix::unistd::pipe() else {
            return 1;
        };
        let (rx, tx) = (seen_rx.as_raw_fd(), seen_tx.as_raw_fd());
        let orphan = c.fork_child(ORPHAN.0, ORPHAN.1, "orphan", |g| {
            // The child's copies of the pipe: it only writes, then closes.
            let _ = nix::unistd::close(rx);
            g.gate("read os.getppid()");
            let first = nix::unistd::getppid().as_raw();
            call(g, "os.getppid()", Some(g.pid), first.to_string());
            let _ = nix::unistd::close(tx);
            while nix::unistd::getppid().as_raw() == parent {
                pause_a_little();
            }
            let now = nix::unistd::getppid().as_raw();
            call(
                g,
                "os.getppid()",
                Some(g.pid),
                format!("{now}: its parent {parent} has ended, it was re-parented"),
            );
            0
        });
        let Ok(orphan) = orphan else { return 1 };
        drop(seen_tx);
        let mut byte = [0u8; 1];
        // End of file: the child has read its parent's PID.
        while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(&seen_rx, &mut byte) {}
        c.gate("exit without joining its child");
        call(
            c,
            "exit without join",
            Some(orphan),
            format!("its child {orphan} lives on"),
        );
        0
    })?;
    call(
        ctx,
        "o.start()",
        Some(orphans_parent),
        format!("PID {orphans_parent}"),
    );
    ctx.gate("o.join()");
    let code = ctx.wait_child(orphans_parent, None);
    call(ctx, "o.exitcode", Some(orphans_parent), opt_code(code));

    // A holder terminated while it holds the lock.
    ctx.gate("h.start(): h takes the lock and works");
    // The holder closes its end of this pipe once it has the lock and has
    // reported it: main terminates it only after that.
    let (has_it_rx, has_it_tx) = nix::unistd::pipe()?;
    let (rx, tx) = (has_it_rx.as_raw_fd(), has_it_tx.as_raw_fd());
    let holder = ctx.fork_child(HOLDER.0, HOLDER.1, "holder", |c| {
        let _ = nix::unistd::close(rx);
        let Ok(_held) = lock.take(c) else { return 1 };
        let _ = nix::unistd::close(tx);
        work_forever(c, "work, holding the lock")
    })?;
    drop(has_it_tx);
    call(ctx, "h.start()", Some(holder), format!("PID {holder}"));
    let mut byte = [0u8; 1];
    // End of file: the holder has the lock (or has ended).
    while let Err(nix::errno::Errno::EINTR) = nix::unistd::read(&has_it_rx, &mut byte) {}
    drop(has_it_rx);
    let mut waiting = Vec::new();
    for w in 0..waiters {
        ctx.gate(format_args!("start waiter-{}", w + 1));
        let name = format!("waiter-{}", w + 1);
        let pid = ctx.fork_child(FIRST_WAITER + w, &name, "waiter", |c| {
            match lock.take(c).and_then(|held| lock.give(c, held)) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })?;
        call(
            ctx,
            &format!("{name}.start()"),
            Some(pid),
            format!("PID {pid}"),
        );
        waiting.push(pid);
    }
    ctx.gate("h.terminate() while it holds the lock");
    signal(holder, Signal::SIGTERM)?;
    call(
        ctx,
        "h.terminate()",
        Some(holder),
        "sent SIGTERM: no cleanup, the lock is not let go by h",
    );
    let code = ctx.wait_child(holder, None);
    call(ctx, "h.exitcode", Some(holder), opt_code(code));
    let mut stuck = Vec::new();
    match lock.kind {
        // The kernel has let go of the dead holder's flock: the waiters go
        // on, at whatever pace the teacher sets.
        LockKind::Flock => {
            ctx.gate("join the waiters");
            for &w in &waiting {
                let code = ctx.wait_child(w, None);
                call(
                    ctx,
                    "w.join()",
                    Some(w),
                    format!("returned, exit code {}", opt_code(code)),
                );
            }
        }
        // Nobody will ever give the semaphore back: whoever has not got it
        // waits forever. A join with a timeout shows it; Python would hang.
        LockKind::Semaphore => {
            ctx.gate("join the waiters (timeout 1 s each)");
            for &w in &waiting {
                let joined = ctx.wait_child(w, Some(Duration::from_secs(1)));
                ctx.emit(Body::ProcessCall {
                    call: "w.join(timeout=1)".into(),
                    target: Some(w),
                    result: match joined {
                        Some(code) => format!("returned, exit code {code}"),
                        None => "returned after 1 s; the waiter never gets the lock".into(),
                    },
                    timeout_ms: Some(1000),
                    alive: Some(joined.is_none()),
                });
                if joined.is_none() {
                    stuck.push(w);
                }
            }
        }
    }
    if !stuck.is_empty() && lock.sem.value() == 0 {
        ctx.report_about(
            me,
            Body::Deadlock {
                lock: LOCK.into(),
                holder,
                waiters: stuck.clone(),
            },
        );
        ctx.gate("end the stuck waiters: terminate them");
        for &w in &stuck {
            signal(w, Signal::SIGTERM)?;
            let code = ctx.wait_child(w, None);
            call(
                ctx,
                "w.terminate()",
                Some(w),
                format!("ended, exit code {}", opt_code(code)),
            );
        }
    }

    // Main ends: as Python does at exit, its daemonic children are terminated.
    ctx.gate("main ends: terminate its daemonic children");
    signal(daemon, Signal::SIGTERM)?;
    let code = ctx.wait_child(daemon, None);
    call(
        ctx,
        "(at exit) d.terminate()",
        Some(daemon),
        format!("the daemon ended with main, exit code {}", opt_code(code)),
    );
    Ok(())
}

fn opt_code(code: Option<i32>) -> String {
    code.map_or_else(|| "None".into(), |c| c.to_string())
}
