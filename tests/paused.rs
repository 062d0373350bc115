//! Paused means no process moves, in every scenario: started paused, a run
//! shows its processes arriving at their first gate, the parent's own
//! samples, and nothing else, however long it waits. The runs go through
//! the engine in the test's own process, as the dashboard runs them (a
//! headless run refuses `--paused`: nobody would resume it).

mod support;

use std::time::Duration;

use mpviz::protocol::Event;
use support::{engine_run, read_for, read_until};

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

/// Starts `args` paused, waits until a process is at its gate, then a while
/// longer, stops the run and returns everything it reported.
fn paused_stream(args: &[&str]) -> Vec<Event> {
    let mut all = args.to_vec();
    all.extend(["--speed", "1000"]);
    let mut run = engine_run(&all, true);
    let mut events = Vec::new();
    read_until(&run, &mut events, "a process at its gate", |e| {
        e.kind() == "ready"
    });
    // Waiting is the test here: whatever happens meanwhile is a move.
    read_for(&run, &mut events, Duration::from_millis(1500));
    run.stop();
    events
}

fn assert_nothing_moves(args: &[&str]) {
    let events = paused_stream(args);
    let moved: Vec<&Event> = events
        .iter()
        .filter(|e| !STILL.contains(&e.kind()))
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
