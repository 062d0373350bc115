//! Leave nothing behind: no process and no file after SIGTERM, Ctrl-C, or
//! even SIGKILL of mpviz itself.

mod support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::*;

/// Starts a long run and returns it once every buyer has started.
fn started(buyers: usize) -> (LiveRun, Vec<i64>) {
    let n = buyers.to_string();
    let mut live = LiveRun::start(&[
        "ticket",
        "--json",
        "--buyers",
        &n,
        "--tickets",
        &n,
        // Paced at one action a second: the run outlives the test's signal.
        "--speed",
        "1",
    ]);
    let mut pids = Vec::new();
    live.read_until(|e: &Value| {
        if e["kind"] == "spawn" {
            pids.push(e["pid"].as_i64().unwrap());
        }
        pids.len() == buyers + 1
    });
    assert!(alive(pids[0]), "the fork server runs");
    (live, pids)
}

fn ends_cleanly_on(signal: Signal, expected_code: Option<i32>) {
    let (mut live, pids) = started(10);
    kill(Pid::from_raw(live.child.id() as i32), signal).unwrap();
    let status = live.child.wait().unwrap();
    if let Some(code) = expected_code {
        assert_eq!(status.code(), Some(code));
    }
    wait_until("every process of the run is gone", || {
        pids.iter().all(|&p| !alive(p))
    });
    wait_until("the run's directory is removed", || {
        std::fs::read_dir(live.tmp.path()).unwrap().next().is_none()
    });
}

#[test]
fn sigterm_kills_every_process_and_removes_the_files() {
    ends_cleanly_on(Signal::SIGTERM, Some(143));
}

#[test]
fn ctrl_c_kills_every_process_and_removes_the_files() {
    ends_cleanly_on(Signal::SIGINT, Some(130));
}

#[test]
fn even_sigkill_of_mpviz_takes_its_children_and_files_with_it() {
    ends_cleanly_on(Signal::SIGKILL, None);
}

#[test]
fn a_fork_that_fails_mid_run_stops_the_run_with_one_clear_line_and_nothing_left() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(
        tmp.path(),
        &[
            "ticket",
            "--json",
            "--buyers",
            "10",
            "--tickets",
            "5",
            "--delay-ms",
            "0",
        ],
    )
    .env("MPVIZ_TEST_FAIL_FORK_AT", "4")
    .stdin(std::process::Stdio::null())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("mpviz: error: could not start buyer-4 (5 of 10): fork failed"),
        "{stderr}"
    );
    // The stream still ends properly: the error, then the end, then the summary.
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|e| e["kind"] == "error"));
    assert_eq!(lines[lines.len() - 2]["kind"], "end");
    assert_eq!(lines[lines.len() - 1]["kind"], "summary");
    let pids: Vec<i64> = lines
        .iter()
        .filter(|e| e["kind"] == "spawn")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert!(pids.len() <= 5, "no buyer after the failed fork: {pids:?}");
    wait_until("every started process is gone", || {
        pids.iter().all(|&p| !alive(p))
    });
    assert_dir_empty(tmp.path());
}
