//! Headless runs of the manager scenario: shared state through a real server
//! process, checked from the `--json` stream.

mod support;

use std::collections::{BTreeSet, VecDeque};

use serde_json::{json, Value};
use support::*;

fn pids_of(events: &[Value], role: &str) -> BTreeSet<i64> {
    events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == role)
        .map(|e| e["pid"].as_i64().unwrap())
        .collect()
}

#[test]
fn the_managed_dict_holds_one_entry_per_worker_and_the_main_plain_dict_none() {
    for speed in ["max", "2000"] {
        let run = run_json_of("manager", &["--workers", "10", "--speed", speed]);
        let s = &run.summary;
        let workers = pids_of(&run.events, "worker");
        assert_eq!(workers.len(), 10);
        let server = pids_of(&run.events, "manager");
        assert_eq!(server.len(), 1);
        assert_eq!(s["server_pid"], *server.iter().next().unwrap());
        assert!(!workers.contains(&s["server_pid"].as_i64().unwrap()));
        // What the main process read back through the server.
        let dict: Vec<(i64, i64)> = serde_json::from_value(s["managed_dict"].clone()).unwrap();
        assert_eq!(s["managed_dict_len"], 10);
        assert!(dict.iter().all(|(k, v)| k == v), "d[pid] = pid: {dict:?}");
        assert_eq!(
            dict.iter().map(|(k, _)| *k).collect::<BTreeSet<_>>(),
            workers
        );
        let list: Vec<i64> = serde_json::from_value(s["managed_list"].clone()).unwrap();
        assert_eq!(list.iter().copied().collect::<BTreeSet<_>>(), workers);
        assert_eq!(s["managed_list_len"], 10);
        // Each worker's copy of the main process's plain dict got the
        // worker's key; main's own is still empty.
        assert_eq!(s["plain_dict_len"], 0);
        assert_eq!(s["worker_plain_lens"], json!(vec![1; 10]));
        assert_eq!(s["exit_codes"], json!({"0": 11}));
    }
}

#[test]
fn every_request_is_served_for_the_process_the_kernel_names_and_after_it() {
    let run = run_json_of("manager", &["--workers", "6"]);
    let parent = run.events[0]["parent_pid"].as_i64().unwrap();
    let server = pids_of(&run.events, "manager");
    let mut waiting: VecDeque<(i64, String)> = VecDeque::new();
    let mut served = 0;
    for e in &run.events {
        match e["kind"].as_str().unwrap() {
            "request" => waiting.push_back((e["pid"].as_i64().unwrap(), e["op"].to_string())),
            "served" => {
                assert!(server.contains(&e["pid"].as_i64().unwrap()), "{e}");
                let asked = (e["client"].as_i64().unwrap(), e["op"].to_string());
                let at = waiting
                    .iter()
                    .position(|w| *w == asked)
                    .unwrap_or_else(|| panic!("served before it was asked: {e}"));
                waiting.remove(at);
                served += 1;
            }
            _ => {}
        }
    }
    assert!(waiting.is_empty(), "never served: {waiting:?}");
    // Two requests per worker, then the main process's read and shutdown.
    assert_eq!(served, 6 * 2 + 2);
    let from_main: Vec<&Value> = run
        .of_kind("request")
        .filter(|e| e["pid"] == parent)
        .collect();
    assert_eq!(from_main.len(), 2);
    assert_eq!(from_main[0]["op"], "read");
    assert_eq!(from_main[1]["op"], "shutdown");
    // The read-back follows the server's answer to it.
    let position = |kind: &str, op: &str| {
        run.events
            .iter()
            .position(|e| e["kind"] == kind && (op.is_empty() || e["op"] == op))
            .unwrap()
    };
    assert!(position("served", "read") < position("reply", ""));
}
