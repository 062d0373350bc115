//! Adversarial runs: signals at random moments, outputs that block or fail.
//! Whatever happens, nothing of the run is left behind (no process, no
//! file), and a failure says so in one line with a non-zero exit.

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::*;

/// Waits for `child` to exit, failing the test if it does not in time.
fn exit_of(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mpviz did not exit after {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_in_the_first_milliseconds_leaves_no_directory_and_no_process() {
    killed_in_the_first_milliseconds(&[Signal::SIGKILL], 30);
}

#[test]
fn any_ending_signal_in_the_first_milliseconds_leaves_nothing() {
    killed_in_the_first_milliseconds(
        &[
            Signal::SIGKILL,
            Signal::SIGQUIT,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
        ],
        30,
    );
}

/// Sends one of `signals`, picked at random, at a random moment of mpviz's
/// start, `rounds` times: each time mpviz ends by it (handled: exit 128 +
/// its number; or, before mpviz listens, killed by it) and nothing is left.
fn killed_in_the_first_milliseconds(signals: &[Signal], rounds: u32) {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..rounds {
        let signal = signals[fastrand::usize(..signals.len())];
        let delay = Duration::from_micros(fastrand::u64(0..=30_000));
        let mut cmd = mpviz(
            tmp.path(),
            &["ticket", "--json", "--buyers", "5", "--speed", "1"],
        );
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only setrlimit between fork and exec: no core file from
        // a SIGQUIT that comes before mpviz listens for it.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn().unwrap();
        // Within mpviz's start: before, while and after it makes its
        // directory and starts the processes that clean up after it.
        std::thread::sleep(delay);
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = exit_of(&mut child, &format!("{signal}"));
        let what = format!("round {round}: {signal} after {delay:?}");
        assert!(
            status.code() == Some(128 + signal as i32) || status.signal() == Some(signal as i32),
            "{what}: {status}"
        );
        wait_until_nothing_left(&format!("{what}: nothing is left"), tmp.path());
    }
}

/// The threads of `pid` blocked writing to a pipe (a full one).
fn blocked_on_a_pipe(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).any(|t| {
        std::fs::read_to_string(t.path().join("wchan")).is_ok_and(|w| w.contains("pipe_write"))
    })
}

#[test]
fn a_signal_ends_a_json_run_at_once_while_nobody_reads_its_output() {
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let tmp = tempfile::tempdir().unwrap();
        // Hundreds of buyers' events fill the pipe long before the run,
        // paced at one action a second, could end.
        let mut child = mpviz(
            tmp.path(),
            &[
                "ticket",
                "--json",
                "--buyers",
                "400",
                "--tickets",
                "400",
                "--speed",
                "1",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let _unread = child.stdout.take();
        wait_until("mpviz blocks writing to its full output", || {
            blocked_on_a_pipe(child.id())
        });
        kill(Pid::from_raw(child.id() as i32), signal).unwrap();
        let status = exit_of(&mut child, &format!("{signal}"));
        assert_eq!(status.code(), Some(128 + signal as i32), "{signal}");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{signal}: {stderr}");
        assert!(stderr.starts_with("mpviz: stopped by"), "{stderr}");
        wait_until_nothing_left(&format!("{signal}: nothing is left"), tmp.path());
    }
}

/// A run paced to last far longer than the watchdog allows any test: at one
/// action every four seconds, a hundred buyers take over half an hour.
const LONGER_THAN_THE_WATCHDOG: [&str; 6] =
    ["--buyers", "100", "--tickets", "100", "--speed", "0.25"];

/// Runs `args` with standard output on /dev/full, and checks that the run
/// ended before the watchdog had to end it.
fn into_a_full_disk(args: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let child = mpviz(tmp.path(), args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let watchdog = Watchdog::new(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        !watchdog.fired(),
        "{args:?} did not notice the full output; it ran until the watchdog ended it"
    );
    (out, tmp)
}

fn failed_in_one_line(out: &std::process::Output, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("mpviz: error: ") && stderr.contains(says),
        "{stderr}"
    );
}

#[test]
fn json_into_a_full_disk_fails_at_the_first_write_in_one_line() {
    // Paced to outlast the watchdog: it is the first failed write that
    // ends it.
    let mut args = vec!["ticket", "--json"];
    args.extend(LONGER_THAN_THE_WATCHDOG);
    let (out, tmp) = into_a_full_disk(&args);
    failed_in_one_line(&out, "No space left on device");
    wait_until_nothing_left("nothing is left", tmp.path());
}

#[test]
fn headless_into_a_full_disk_fails_at_its_first_line_in_one_line() {
    // `--headless` says what runs as it starts: a full output is noticed
    // then, not after a run paced to outlast the watchdog.
    let mut args = vec!["ticket", "--headless"];
    args.extend(LONGER_THAN_THE_WATCHDOG);
    let (out, tmp) = into_a_full_disk(&args);
    failed_in_one_line(&out, "No space left on device");
    wait_until_nothing_left("nothing is left", tmp.path());
}

/// Runs `mpviz ARGS` under `ulimit -v KIB`, set in the test's own child.
fn under_memory_limit(tmp: &std::path::Path, kib: u64, args: &str) -> (Option<i32>, String) {
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec {BIN} {args}"))
        .env("TMPDIR", tmp)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = exit_of(&mut child, &format!("ulimit -v {kib}"));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_tiny_memory_limit_ends_a_run_in_one_line_with_nothing_left() {
    let tmp = tempfile::tempdir().unwrap();
    // The least limit under which the binary is mapped at all (below it the
    // loader fails before any of mpviz runs), found for this build.
    let floor = (4_000..200_000)
        .step_by(500)
        .find(|&kib| under_memory_limit(tmp.path(), kib, "list").0 == Some(0))
        .expect("mpviz list never ran");
    // From there up, each of mpviz's threads, pipes and children in turn
    // is what the memory runs out for.
    for kib in (floor..floor + 16_000).step_by(1_000) {
        let (code, stderr) = under_memory_limit(
            tmp.path(),
            kib,
            "ticket --json --buyers 20 --tickets 20 --delay-ms 0",
        );
        match code {
            Some(0) => {}
            Some(1) => assert_ended_for_memory(&stderr, &format!("ulimit -v {kib}")),
            other => panic!("ulimit -v {kib}: exit {other:?}: {stderr}"),
        }
        wait_until_nothing_left(&format!("ulimit -v {kib}: nothing is left"), tmp.path());
    }
}
