//! Helpers shared by the integration tests: run the real binary, read its
//! JSON Lines, look at processes in /proc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mpviz::engine::Run;
use mpviz::protocol::Event;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_mpviz");

/// Generous: the tests must pass on a loaded two-core machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A command for the binary with its own fresh temporary directory, so that
/// a test can check that the run left no file behind.
pub fn mpviz(tmp: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    // English unless a test asks otherwise: the machine's locale does not
    // choose the words the tests look for.
    cmd.args(args)
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .env("LC_ALL", "C");
    cmd
}

/// Runs mpviz with `args` to the end, in a fresh temporary directory that
/// it must leave empty; its output, whatever its exit code.
pub fn run_to_end(args: &[&str]) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_in(tmp.path(), args);
    assert_dir_empty(tmp.path());
    out
}

/// Runs mpviz with `args` to the end with `TMPDIR` set to `tmp`; its
/// output, whatever its exit code (what it leaves in `tmp` is the
/// caller's to check).
pub fn run_in(tmp: &Path, args: &[&str]) -> Output {
    let child = mpviz(tmp, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watchdog = Watchdog::new(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.fired(), "mpviz {args:?} did not end");
    out
}

pub struct JsonRun {
    pub events: Vec<Value>,
    pub summary: Value,
    pub output: Output,
}

/// Runs the ticket scenario to the end with `--json`.
pub fn run_json(args: &[&str]) -> JsonRun {
    run_json_of("ticket", args)
}

/// Runs `scenario` to the end with `--json`, checks that it succeeded and
/// left no file behind, and splits the events from the summary.
pub fn run_json_of(scenario: &str, args: &[&str]) -> JsonRun {
    let tmp = tempfile::tempdir().unwrap();
    let mut all = vec![scenario, "--json"];
    all.extend_from_slice(args);
    let child = mpviz(tmp.path(), &all)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watchdog = Watchdog::new(child.id());
    let output = child.wait_with_output().unwrap();
    assert!(
        !watchdog.fired(),
        "mpviz {all:?} did not end in {:?}; its last lines:\n{}",
        Watchdog::LIMIT,
        tail(&output.stdout)
    );
    assert!(
        output.status.success(),
        "mpviz {all:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_dir_empty(tmp.path());
    let mut events: Vec<Value> = String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let summary = events.pop().expect("no output");
    assert_eq!(summary["kind"], "summary", "the last line is the summary");
    JsonRun {
        events,
        summary,
        output,
    }
}

/// The last few lines of an output, for a failure message.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Kills a run that has not ended long after any test could need, so that a
/// run that hangs fails its test with what it said, instead of hanging CI.
pub struct Watchdog {
    _stop: std::sync::mpsc::Sender<()>,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    pub const LIMIT: Duration = Duration::from_secs(300);

    pub fn new(pid: u32) -> Watchdog {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = fired.clone();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(Self::LIMIT)
            {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        Watchdog { _stop: stop, fired }
    }

    pub fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl JsonRun {
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["kind"] == kind)
    }

    /// The PIDs of the processes with this role, from their spawn events.
    pub fn pids(&self, role: &str) -> Vec<i64> {
        self.of_kind("spawn")
            .filter(|e| e["role"] == role)
            .map(|e| e["pid"].as_i64().unwrap())
            .collect()
    }
}

pub fn assert_dir_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A live mpviz whose JSON lines are read as they come.
pub struct LiveRun {
    pub child: Child,
    pub lines: Box<dyn Iterator<Item = Value> + Send>,
    pub tmp: tempfile::TempDir,
    watchdog: Watchdog,
}

impl LiveRun {
    pub fn start(args: &[&str]) -> LiveRun {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = mpviz(tmp.path(), args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let lines = out
            .lines()
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<Value>(&l).unwrap());
        LiveRun {
            watchdog: Watchdog::new(child.id()),
            child,
            lines: Box::new(lines),
            tmp,
        }
    }

    /// Reads events until `pred` holds for one, and returns everything read.
    pub fn read_until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for event in self.lines.by_ref() {
            let stop = pred(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
        let why = if self.watchdog.fired() {
            format!("the run did not end in {:?}", Watchdog::LIMIT)
        } else {
            "the stream ended".to_string()
        };
        panic!("{why} before the awaited event; read {seen:?}");
    }
}

impl Drop for LiveRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn alive(pid: i64) -> bool {
    // A zombie is dead but not yet reaped: it no longer runs.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// The parent PID from /proc, if the process exists.
pub fn ppid(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live processes (zombies aside) started with `TMPDIR` set to `tmp`:
/// every process of a test's mpviz (the parent, its helpers, the children),
/// and no other test's, since each has its own `tmp`.
pub fn processes_with_tmpdir(tmp: &Path) -> Vec<i64> {
    let mut needle = b"TMPDIR=".to_vec();
    needle.extend_from_slice(tmp.as_os_str().as_encoded_bytes());
    needle.push(0);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split_inclusive(|&b| b == 0)
                    .any(|var| var == needle.as_slice())
            }) && alive(pid)
        })
        .collect()
}

/// Waits until no process of the test's mpviz is left and its temporary
/// directory is empty.
pub fn wait_until_nothing_left(what: &str, tmp: &Path) {
    wait_until(what, || {
        processes_with_tmpdir(tmp).is_empty()
            && std::fs::read_dir(tmp).is_ok_and(|mut d| d.next().is_none())
    });
}

/// What a run that ran out of memory (and exited 1) said: mpviz's one line.
/// Where the C library or the Rust runtime gives up by itself (a thread's
/// first thread-local) it prints its own line before mpviz ends with exit
/// 1, and a thread of mpviz that ran out at the same moment may have said
/// so too: then two lines, both about the memory, and never more.
pub fn assert_ended_for_memory(stderr: &str, what: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    // The C library's line, or the Rust runtime's where it allocates
    // outside mpviz's allocator (a thread's thread-locals); either aborts,
    // and mpviz then exits 1.
    let glibc = |l: &&str| {
        (l.starts_with("Fatal glibc error: ") && l.contains("out of memory"))
            || (l.starts_with("memory allocation of ") && l.ends_with(" bytes failed"))
    };
    let ours = |l: &&str| {
        l.starts_with("mpviz: error: out of memory")
            || (lines.len() == 1 && l.starts_with("mpviz: error: "))
    };
    assert!(
        lines.len() == 1 || (lines.len() == 2 && lines.iter().any(glibc)),
        "{what}: {stderr}"
    );
    assert!(
        lines.iter().all(|l| ours(l) || glibc(l)),
        "{what}: {stderr}"
    );
}

/// A run through the engine in the test's own process, as the dashboard
/// runs it: the command line `args` resolved as mpviz resolves it (its
/// defaults, its checks), started paused or not, with the built binary as
/// its helper processes (the fork server, the keeper), and the parent's
/// `/proc` sampled every 20 ms. Stopping it (`Run::stop`, or dropping it)
/// ends every process of it.
pub fn engine_run(args: &[&str], paused: bool) -> Run {
    let mut all = args.to_vec();
    // Without a terminal: resolved as a run that needs none.
    all.push("--json");
    let launch =
        mpviz::app::launch_from_args(&all).unwrap_or_else(|e| panic!("mpviz {all:?} refused: {e}"));
    let mut options = launch.options;
    options.paused = paused;
    options.helper = BIN.into();
    options.sample_every = Duration::from_millis(20);
    Run::start(launch.scenario, options).unwrap()
}

/// Reads `run`'s events into `events` until `pred` holds for one of them.
pub fn read_until(run: &Run, events: &mut Vec<Event>, what: &str, pred: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !events.iter().any(&pred) {
        let batch = run
            .events()
            .recv_deadline(deadline)
            .unwrap_or_else(|_| panic!("never saw {what}; read {events:?}"));
        events.extend(batch);
    }
}

/// Reads `run`'s events into `events` for `time`: for a test where the wait
/// is the point, as nothing may happen in it.
pub fn read_for(run: &Run, events: &mut Vec<Event>, time: Duration) {
    let until = Instant::now() + time;
    while let Ok(batch) = run.events().recv_deadline(until) {
        events.extend(batch);
    }
}

/// A pids cgroup (v1) of the test's own; `None` where none can be made (not
/// root, no pids hierarchy mounted). Dropped — at the test's end or while
/// it panics — it moves every process still in it back to the test's own
/// pids cgroup and removes itself, so that a failed test leaves no cgroup
/// holding a process.
pub struct PidsCgroup {
    dir: std::path::PathBuf,
    /// The test's own pids cgroup, where the processes go back.
    home: std::path::PathBuf,
}

impl PidsCgroup {
    const ROOT: &'static str = "/sys/fs/cgroup/pids";

    pub fn new() -> Option<PidsCgroup> {
        // This process's place in the pids hierarchy: "N:pids:/PATH".
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = own.lines().find_map(|l| {
            let mut fields = l.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            controllers
                .split(',')
                .any(|c| c == "pids")
                .then(|| path.trim_start_matches('/').to_string())
        })?;
        let home = std::path::Path::new(Self::ROOT).join(path);
        // One per test: several may run at once in one test binary.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = home.join(format!("mpviz-test-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(PidsCgroup { dir, home })
    }

    /// Moves `pid` in, then allows no task more than are in it now: the
    /// kernel refuses its next fork.
    pub fn confine(&self, pid: i64) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
        let current = std::fs::read_to_string(self.dir.join("pids.current")).unwrap();
        std::fs::write(self.dir.join("pids.max"), current.trim()).unwrap();
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("pids.max"), "max");
        // A process forking meanwhile may add one: try until it is empty.
        for _ in 0..100 {
            let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = std::fs::write(self.home.join("cgroup.procs"), pid);
            }
            match std::fs::remove_dir(&self.dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => return,
            }
        }
        eprintln!("could not remove the test's cgroup {}", self.dir.display());
    }
}
