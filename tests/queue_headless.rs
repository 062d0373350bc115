//! Headless runs of the queue scenario: invariants from `--json`.

mod support;

use std::collections::HashMap;

use serde_json::Value;
use support::*;

fn run_queue(args: &[&str]) -> (Vec<Value>, Value) {
    let run = run_json_of("queue", args);
    (run.events, run.summary)
}

fn check_every_item_once_and_depth_bounded(events: &[Value], s: &Value, items: u64, maxsize: u64) {
    let mut got: HashMap<u64, u32> = HashMap::new();
    for e in events.iter().filter(|e| e["kind"] == "get") {
        let item = e["item"].as_u64().unwrap();
        if item < items {
            *got.entry(item).or_default() += 1;
        }
    }
    assert_eq!(got.len() as u64, items, "every item was consumed");
    assert!(got.values().all(|&n| n == 1), "no item was consumed twice");
    for e in events
        .iter()
        .filter(|e| ["put", "get", "queue_depth"].contains(&e["kind"].as_str().unwrap()))
    {
        assert!(
            e["depth"].as_u64().unwrap() <= maxsize,
            "depth above maxsize: {e}"
        );
    }
    assert_eq!(s["produced"], items);
    assert_eq!(s["consumed"], items);
    assert_eq!(s["lost"], 0);
    assert_eq!(s["duplicated"], 0);
    assert!(s["max_depth"].as_u64().unwrap() <= maxsize);
}

#[test]
fn every_item_is_consumed_exactly_once_and_the_depth_never_exceeds_maxsize() {
    let (events, s) = run_queue(&[
        "--producers",
        "3",
        "--consumers",
        "2",
        "--maxsize",
        "4",
        "--items",
        "300",
    ]);
    check_every_item_once_and_depth_bounded(&events, &s, 300, 4);
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 5}));
    // A get is never reported before the put of its item.
    let mut put = std::collections::HashSet::new();
    for e in &events {
        match e["kind"].as_str().unwrap() {
            "put" => {
                put.insert(e["item"].as_u64().unwrap());
            }
            "get" => assert!(
                put.contains(&e["item"].as_u64().unwrap()),
                "get before put: {e}"
            ),
            _ => {}
        }
    }
}

/// A paced run with one slot: counts the blocks of each kind. The pacer's
/// random grants make a block near certain on the side that outnumbers the
/// other: after a put the slot is full and another producer's turn blocks;
/// after a get it is empty and another consumer's turn blocks.
fn blocks_with(producers: &str, consumers: &str) -> (usize, usize) {
    let (events, s) = run_queue(&[
        "--producers",
        producers,
        "--consumers",
        consumers,
        "--maxsize",
        "1",
        "--items",
        "40",
        "--speed",
        "1000",
    ]);
    check_every_item_once_and_depth_bounded(&events, &s, 40, 1);
    let blocked = |op: &str| {
        events
            .iter()
            .filter(|e| e["kind"] == "blocked" && e["op"] == op)
            .count()
    };
    (blocked("put"), blocked("get"))
}

#[test]
fn a_full_queue_blocks_producers() {
    let (puts, _) = blocks_with("2", "1");
    assert!(puts > 0, "no producer ever found the queue full");
}

#[test]
fn an_empty_queue_blocks_consumers() {
    let (_, gets) = blocks_with("1", "2");
    assert!(gets > 0, "no consumer ever found the queue empty");
}

#[test]
fn timeouts_give_up_with_full_and_empty_and_are_counted() {
    let (events, s) = run_queue(&[
        "--producers",
        "1",
        "--consumers",
        "3",
        "--maxsize",
        "1",
        "--items",
        "12",
        "--timeout-ms",
        "1",
        // A grant every 5 ms: a consumer given "get" while the one slot is
        // empty gives up after 1 ms, long before the producer's next put.
        "--speed",
        "200",
    ]);
    check_every_item_once_and_depth_bounded(&events, &s, 12, 1);
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count() as u64;
    assert_eq!(s["full_timeouts"], count("full"));
    assert_eq!(s["empty_timeouts"], count("empty"));
    // Three consumers on one producer: consumers wait on an empty queue.
    assert!(count("empty") > 0, "{s}");
}

#[test]
fn the_parent_puts_one_stop_signal_per_consumer_after_every_producer_exits() {
    let (events, s) = run_queue(&["--producers", "2", "--consumers", "3", "--items", "10"]);
    let parent = events[0]["parent_pid"].as_i64().unwrap();
    let producers: Vec<i64> = events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "producer")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    let stops: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["kind"] == "put" && e["pid"] == parent)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(stops.len(), 3);
    let last_producer_exit = events
        .iter()
        .rposition(|e| e["kind"] == "exit" && producers.contains(&e["pid"].as_i64().unwrap()))
        .unwrap();
    assert!(stops.iter().all(|&i| i > last_producer_exit));
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 5}));
}
