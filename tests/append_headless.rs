//! Headless runs of the append scenario: invariants from `--json`.

mod support;

use std::collections::HashSet;

use serde_json::Value;
use support::*;

fn run_append(args: &[&str]) -> (Vec<Value>, Value) {
    let run = run_json_of("append", args);
    (run.events, run.summary)
}

fn final_file(events: &[Value]) -> String {
    events
        .iter()
        .rfind(|e| e["kind"] == "file")
        .map(|e| e["content"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn with_the_lock_every_line_is_whole_and_written_exactly_once() {
    // Paced: the pacer's random picks interleave the writers' steps.
    let (events, s) = run_append(&[
        "--writers",
        "25",
        "--chunks",
        "3",
        "--lock",
        "--speed",
        "3000",
    ]);
    assert_eq!(s["torn_lines"], 0);
    assert_eq!(s["lines"], 25);
    let mut order: Vec<u64> = s["write_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    order.sort();
    assert_eq!(
        order,
        (0..25).collect::<Vec<_>>(),
        "every writer's line exactly once"
    );
    assert_eq!(s["start_order"].as_array().unwrap().len(), 25);
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 25}));
    // The summary speaks of the real file the parent read last.
    let file = final_file(&events);
    assert_eq!(file.lines().count(), 25);
    assert!(file.lines().all(|l| l.starts_with("writer ")));
}

#[test]
fn without_the_lock_parts_of_lines_mix_but_no_byte_is_lost() {
    let (events, s) = run_append(&[
        "--writers",
        "30",
        "--chunks",
        "4",
        "--speed",
        "3000",
        "--seed",
        "3",
    ]);
    // O_APPEND never overwrites: the file holds every byte every writer wrote.
    let written: usize = events
        .iter()
        .filter(|e| e["kind"] == "write")
        .map(|e| e["bytes"].as_str().unwrap().len())
        .sum();
    let file = final_file(&events);
    assert_eq!(file.len(), written);
    assert_eq!(file.matches('\n').count(), 30);
    let torn = s["torn_lines"].as_u64().unwrap();
    let whole = s["write_order"].as_array().unwrap().len() as u64;
    assert_eq!(torn + whole, s["lines"].as_u64().unwrap());
    // 30 writers, 4 parts each, granted in random order: lines get torn.
    assert!(torn > 0, "no torn line in {s}");
    let distinct: HashSet<_> = s["write_order"].as_array().unwrap().iter().collect();
    assert_eq!(distinct.len() as u64, whole, "a whole line appears once");
}

#[test]
fn each_writer_is_a_distinct_real_process_and_lines_land_in_write_order_not_start_order() {
    // Paced with a seed: the pacer, not the start order, decides who writes
    // when, and the same seed repeats its picks.
    let (events, s) = run_append(&["--writers", "12", "--speed", "3000", "--seed", "4"]);
    let spawns: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "writer")
        .collect();
    let pids: HashSet<i64> = spawns.iter().map(|e| e["pid"].as_i64().unwrap()).collect();
    assert_eq!(pids.len(), 12);
    let slot_of = |pid: &Value| {
        spawns
            .iter()
            .find(|e| &e["pid"] == pid)
            .map(|e| e["slot"].clone())
            .unwrap()
    };
    let started: Vec<Value> = spawns.iter().map(|e| e["slot"].clone()).collect();
    // The file, as the parent read it last, holds the lines in the order the
    // writes were reported (each just before it was made)...
    let written: Vec<Value> = events
        .iter()
        .filter(|e| e["kind"] == "write")
        .map(|e| slot_of(&e["pid"]))
        .collect();
    assert_eq!(s["write_order"], Value::Array(written.clone()));
    // ...which is not the order in which the writers were started.
    assert_ne!(
        written, started,
        "the writers wrote in the order they started"
    );
    let exits = events
        .iter()
        .filter(|e| e["kind"] == "exit" && pids.contains(&e["pid"].as_i64().unwrap()));
    assert_eq!(exits.count(), 12);
}
