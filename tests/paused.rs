//! Paused means no process moves, in every scenario: started `--paused`, a
//! run shows its processes arriving at their first gate, the parent's own
//! samples, and nothing else, however long it waits.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::{assert_dir_empty, mpviz, PATIENCE};

/// What a paused run may show: the run's start and pace, processes being
/// started and arriving at a gate (`ready`), and what the parent itself
/// samples (`/proc` states, files, a queue's depth). Anything else is a
/// process doing something.
const STILL: &[&str] = &[
    "start",
    "pace",
    "spawn",
    "ready",
    "state",
    "file",
    "queue_depth",
];

/// Starts `args` paused with `--json`, waits until a process is at its gate,
/// then a while longer, and returns everything the run reported.
fn paused_stream(args: &[&str]) -> Vec<Value> {
    let tmp = tempfile::tempdir().unwrap();
    let mut all = args.to_vec();
    all.extend(["--json", "--paused", "--speed", "1000"]);
    let mut child = mpviz(tmp.path(), &all)
        .env("MPVIZ_TEST_PAUSED_JSON", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = crossbeam_channel::unbounded();
    let reader = std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str::<Value>(&line).unwrap());
        }
    });
    let mut events = Vec::new();
    while !events.iter().any(|e: &Value| e["kind"] == "ready") {
        match rx.recv_timeout(PATIENCE) {
            Ok(event) => events.push(event),
            Err(_) => panic!("{args:?}: no process came to a gate; read {events:?}"),
        }
    }
    // Sleeping is the test here: whatever happens meanwhile is a move.
    std::thread::sleep(Duration::from_millis(1500));
    // Ended as a user would end it: SIGTERM, after which nothing is left.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let _ = child.wait();
    reader.join().unwrap();
    events.extend(rx.try_iter());
    assert_dir_empty(tmp.path());
    events
}

fn assert_nothing_moves(args: &[&str]) {
    let events = paused_stream(args);
    let moved: Vec<&Value> = events
        .iter()
        .filter(|e| !STILL.contains(&e["kind"].as_str().unwrap()))
        .collect();
    assert!(moved.is_empty(), "{args:?} moved while paused: {moved:?}");
}

#[test]
fn a_paused_ticket_run_does_not_move() {
    assert_nothing_moves(&["ticket", "--buyers", "5"]);
}

#[test]
fn a_paused_ticket_run_without_the_lock_does_not_move() {
    assert_nothing_moves(&["ticket", "--buyers", "5", "--no-lock"]);
}

#[test]
fn a_paused_race_does_not_move() {
    assert_nothing_moves(&["race", "--workers", "3"]);
}

#[test]
fn a_paused_race_of_threads_does_not_move() {
    assert_nothing_moves(&["race", "--workers", "3", "--threads"]);
}

#[test]
fn a_paused_append_does_not_move() {
    assert_nothing_moves(&["append", "--writers", "3"]);
}

#[test]
fn a_paused_pool_does_not_move_not_even_its_main_process() {
    assert_nothing_moves(&["pool", "--workers", "2", "--tasks", "4"]);
}

#[test]
fn a_paused_queue_does_not_move() {
    assert_nothing_moves(&["queue"]);
}

#[test]
fn a_paused_manager_does_not_move() {
    assert_nothing_moves(&["manager", "--workers", "3"]);
}
