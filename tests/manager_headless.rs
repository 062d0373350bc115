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
fn the_managed_dict_holds_one_entry_per_worker_and_main_s_plain_dict_only_its_own() {
    for speed in ["max", "2000"] {
        let run = run_json_of("manager", &["--workers", "10", "--speed", speed]);
        let s = &run.summary;
        let workers = pids_of(&run.events, "worker");
        assert_eq!(workers.len(), 10);
        let server = pids_of(&run.events, "manager");
        assert_eq!(server.len(), 1);
        assert_eq!(s["server_pid"], *server.iter().next().unwrap());
        assert!(!workers.contains(&s["server_pid"].as_i64().unwrap()));
        // Main is a real process, named, and the parent of the server and
        // of every worker: they are forks of its memory.
        let main: Vec<&Value> = run
            .of_kind("spawn")
            .filter(|e| e["role"] == "main")
            .collect();
        assert_eq!(main.len(), 1);
        assert_eq!(main[0]["name"], "main");
        let main = main[0]["pid"].as_i64().unwrap();
        assert_eq!(s["main_pid"], main);
        assert!(run
            .of_kind("spawn")
            .filter(|e| e["role"] == "worker" || e["role"] == "manager")
            .all(|e| e["ppid"] == main));
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
        // Main put its own key in its plain dict before it forked: each
        // worker's copy held it, and then the worker's key too. Main's own
        // dict, read at the end, holds its key alone: had the workers
        // written to memory main sees, it would hold theirs as well.
        let sets: Vec<&Value> = run.of_kind("plain_set").collect();
        assert_eq!(sets[0]["pid"], main);
        assert_eq!(sets[0]["key"], main);
        assert_eq!(sets[0]["len"], 1);
        for set in &sets[1..] {
            assert!(workers.contains(&set["pid"].as_i64().unwrap()), "{set}");
            assert_eq!(set["key"], set["pid"]);
        }
        assert_eq!(s["worker_plain_lens"], json!(vec![2; 10]));
        let read: Vec<&Value> = run.of_kind("plain_read").collect();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0]["pid"], main);
        assert_eq!(s["plain_dict_len"], 1);
        assert_eq!(s["exit_codes"], json!({"0": 12}));
    }
}

#[test]
fn every_request_is_served_for_the_process_the_kernel_names_and_after_it() {
    let run = run_json_of("manager", &["--workers", "6"]);
    let main = *pids_of(&run.events, "main").iter().next().unwrap();
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
        .filter(|e| e["pid"] == main)
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

#[test]
fn a_server_out_of_descriptors_ends_the_run_with_one_line_and_exit_1() {
    // The machine's limit, set in the test's own child: the server dies of
    // "Too many open files" while workers still wait to be served. Paced,
    // so that every worker connects (which needs no permit) long before it
    // is done: the server then has fifty connections at once, whatever the
    // machine's load.
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("ulimit -n 16; exec {BIN} manager --json --workers 50 --speed 500"),
        ])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let watchdog = Watchdog::new(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.fired(), "the run hung");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Too many open files"), "{stderr}");
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for pid in events
        .iter()
        .filter(|e| e["kind"] == "spawn")
        .map(|e| e["pid"].as_i64().unwrap())
    {
        assert!(!alive(pid), "PID {pid} outlived the run");
    }
    assert_dir_empty(tmp.path());
}
