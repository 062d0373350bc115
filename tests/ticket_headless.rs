//! Headless runs of the ticket scenario: the invariants a class relies on,
//! checked from the `--json` event stream of real processes.

mod support;

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use support::*;

fn count_in(content: &str) -> Option<i64> {
    serde_json::from_str::<Value>(content).ok()?["count"].as_i64()
}

/// Every (acquire, release) interval of the lock, per the stream's stamps.
fn holds(run: &JsonRun) -> Vec<(u64, u64, i64)> {
    let mut open: HashMap<i64, u64> = HashMap::new();
    let mut holds = Vec::new();
    for e in &run.events {
        let pid = e["pid"].as_i64().unwrap_or(0);
        let t = e["t_ns"].as_u64().unwrap();
        match e["kind"].as_str().unwrap() {
            "lock_acquire" => assert!(open.insert(pid, t).is_none(), "{pid} acquired twice"),
            "lock_release" => {
                holds.push((open.remove(&pid).expect("release without acquire"), t, pid))
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "holds never released: {open:?}");
    holds.sort();
    holds
}

#[test]
fn with_the_lock_holds_never_overlap_and_exactly_min_of_buyers_and_tickets_are_sold() {
    for (buyers, tickets) in [(60, 25), (8, 20)] {
        let run = run_json(&[
            "--buyers",
            &buyers.to_string(),
            "--tickets",
            &tickets.to_string(),
            "--delay-ms",
            "1",
        ]);
        let holds = holds(&run);
        assert_eq!(holds.len(), buyers, "every buyer held the lock once");
        for pair in holds.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "PID {} acquired at {} before PID {} released at {}",
                pair[1].2,
                pair[1].0,
                pair[0].2,
                pair[0].1
            );
        }
        let s = &run.summary;
        let sold = buyers.min(tickets) as i64;
        assert_eq!(s["sold"], sold);
        assert_eq!(s["failed"], buyers as i64 - sold);
        assert_eq!(s["remaining"], tickets as i64 - sold);
        assert_eq!(s["oversold"], 0);
        assert_eq!(s["lost_updates"], 0);
        assert_eq!(s["torn_reads"], 0);
        // Every read happened under the lock, so every read saw a whole file.
        assert!(run.of_kind("read").all(|e| e["value"].is_i64()));
    }
}

#[test]
fn every_pid_is_a_distinct_real_child_and_every_exit_is_what_waitpid_reported() {
    // Paced at 10 actions a second: no buyer can finish its six actions in
    // less than half a second, so the test sees them alive whatever the load.
    let mut live = LiveRun::start(&[
        "ticket",
        "--json",
        "--buyers",
        "4",
        "--tickets",
        "4",
        "--delay-ms",
        "0",
        "--speed",
        "10",
    ]);
    let mpviz_pid = live.child.id() as i64;
    // While the run goes on, each buyer is a real process whose parent is the
    // fork server, itself a child of mpviz.
    let mut server = None;
    let mut checked_alive = 0;
    let mut events = live.read_until(|e| {
        if e["kind"] == "spawn" {
            let pid = e["pid"].as_i64().unwrap();
            if e["role"] == "forkserver" {
                server = Some(pid);
                assert_eq!(e["ppid"], mpviz_pid);
            } else if let Some(parent) = ppid(pid) {
                if alive(pid) {
                    assert_eq!(Some(parent), server, "buyer {pid}'s parent in /proc");
                    checked_alive += 1;
                }
            }
        }
        e["kind"] == "end"
    });
    events.extend(live.lines.by_ref());
    assert!(live.child.wait().unwrap().success());
    assert!(checked_alive >= 1, "no buyer was seen alive in /proc");

    let server = server.expect("no fork server");
    let buyers: Vec<i64> = events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "buyer")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    let distinct: HashSet<_> = buyers.iter().collect();
    assert_eq!(distinct.len(), 4, "four distinct buyer PIDs");
    assert!(!distinct.contains(&mpviz_pid) && !distinct.contains(&server));
    for e in events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "buyer")
    {
        assert_eq!(e["ppid"], server);
    }
    // Each buyer was reaped exactly once, and is gone now.
    let exits: Vec<i64> = events
        .iter()
        .filter(|e| e["kind"] == "exit" && e["pid"] != server)
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(exits.len(), 4);
    assert_eq!(exits.iter().collect::<HashSet<_>>(), distinct);
    assert!(buyers.iter().all(|&p| !alive(p)));
    let summary = events.last().unwrap();
    assert_eq!(summary["distinct_pids"], 4);
    assert_eq!(summary["exit_codes"], serde_json::json!({"0": 4}));
}

#[test]
fn without_the_lock_lost_updates_oversold_and_torn_reads_are_counted_from_the_real_file() {
    let run = run_json(&[
        "--no-lock",
        "--buyers",
        "150",
        "--tickets",
        "40",
        "--delay-ms",
        "5",
    ]);
    let s = &run.summary;
    let count = |result: &str| {
        run.of_kind("outcome")
            .filter(|e| e["result"] == result)
            .count() as i64
    };
    let (sold, failed) = (count("success"), count("fail"));
    let resets = run.of_kind("read").filter(|e| e["reset"] == 100).count() as i64;
    assert_eq!(s["sold"], sold);
    assert_eq!(s["failed"], failed);
    assert_eq!(s["resets"], resets);
    assert_eq!(sold + failed, 150, "every buyer ended one way");
    assert_eq!(s["oversold"], (sold - 40).max(0));
    // `remaining` is what the parent last read from the real file. Two
    // writes that overlap can leave it torn for good: then nobody knows.
    // A reset puts 100 back: then the count says nothing of the sales.
    let last_file = run
        .of_kind("file")
        .last()
        .expect("the parent read the file");
    let remaining = count_in(last_file["content"].as_str().unwrap());
    assert_eq!(s["remaining"], serde_json::to_value(remaining).unwrap());
    match remaining {
        Some(remaining) if resets == 0 => {
            assert_eq!(s["lost_updates"], sold - (40 - remaining));
        }
        _ => assert_eq!(s["lost_updates"], Value::Null),
    }
    // 150 buyers reading, sleeping and writing with no lock: updates are
    // lost, as two buyers that read the same count both sell.
    let mut read_by_sellers = HashSet::new();
    let sellers: HashSet<i64> = run
        .of_kind("outcome")
        .filter(|e| e["result"] == "success")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    let sold_twice = run
        .of_kind("read")
        .filter(|e| sellers.contains(&e["pid"].as_i64().unwrap()))
        .filter_map(|e| e["value"].as_i64())
        .filter(|&value| !read_by_sellers.insert(value))
        .count();
    assert!(sold_twice > 0, "no lost update in {s}");
    // Every buyer exits with 0, as Python's do, whatever it read.
    assert_eq!(s["exit_codes"], json!({"0": 150}));
    assert!(run.of_kind("exit").all(|e| e["exitcode"] == 0));
}

#[test]
fn a_torn_read_is_reset_to_100_by_the_bare_except_and_the_buyer_sells_from_it() {
    // Paced at random, a buyer often reads the file between another's
    // truncate and its write (the four steps of a sale are four permits).
    let run = run_json(&[
        "--no-lock",
        "--buyers",
        "30",
        "--tickets",
        "10",
        "--delay-ms",
        "0",
        "--speed",
        "3000",
    ]);
    let s = &run.summary;
    let mut reset_buyers = HashSet::new();
    for e in run.of_kind("read") {
        let pid = e["pid"].as_i64().unwrap();
        match count_in(e["text"].as_str().unwrap()) {
            // A whole file: its count, no reset.
            Some(n) => {
                assert_eq!(e["value"], n, "{e}");
                assert!(e.get("reset").is_none(), "{e}");
            }
            // A torn one: json.loads fails, the except: takes 100.
            None => {
                assert_eq!(e["value"], Value::Null, "{e}");
                assert_eq!(e["reset"], 100, "{e}");
                reset_buyers.insert(pid);
            }
        }
    }
    assert!(!reset_buyers.is_empty(), "no torn read in 30 buyers: {s}");
    assert_eq!(s["resets"], reset_buyers.len());
    assert_eq!(s["torn_reads"], reset_buyers.len());
    // Each of them "sells" from 100: it writes 99 and succeeds.
    for &pid in &reset_buyers {
        let of = |kind: &'static str| {
            run.of_kind(kind)
                .filter(|e| e["pid"] == pid)
                .collect::<Vec<&Value>>()
        };
        let writes = of("write");
        assert_eq!(writes.len(), 1, "PID {pid}");
        assert_eq!(writes[0]["value"], 99, "PID {pid}");
        assert_eq!(of("outcome")[0]["result"], "success", "PID {pid}");
        assert_eq!(of("exit")[0]["exitcode"], 0, "PID {pid}");
    }
    assert_eq!(s["lost_updates"], Value::Null);
    assert_eq!(s["exit_codes"], json!({"0": 30}));
}

#[test]
fn the_same_seed_gives_every_buyer_the_same_delay() {
    let delays = |seed: &str| -> Vec<(i64, i64)> {
        let run = run_json(&[
            "--buyers",
            "6",
            "--tickets",
            "6",
            "--delay-ms",
            "20",
            "--seed",
            seed,
        ]);
        let slot_of: HashMap<i64, i64> = run
            .of_kind("spawn")
            .map(|e| (e["pid"].as_i64().unwrap(), e["slot"].as_i64().unwrap()))
            .collect();
        let mut d: Vec<(i64, i64)> = run
            .of_kind("sleep")
            .map(|e| {
                (
                    slot_of[&e["pid"].as_i64().unwrap()],
                    e["ms"].as_i64().unwrap(),
                )
            })
            .collect();
        d.sort();
        d
    };
    let first = delays("42");
    assert_eq!(first.len(), 6);
    assert_eq!(first, delays("42"));
    assert_ne!(first, delays("43"));
}

#[test]
fn a_child_killed_while_holding_the_lock_is_reported_with_its_signal_and_the_others_go_on() {
    // Paced at 3 actions a second: the holder needs four more permits (read,
    // delay, truncate, write) before it can let go, so it still holds the
    // lock when the test kills it, a second or more later.
    let mut live = LiveRun::start(&[
        "ticket",
        "--json",
        "--buyers",
        "4",
        "--tickets",
        "4",
        "--delay-ms",
        "0",
        "--speed",
        "3",
    ]);
    let first = live.read_until(|e| e["kind"] == "lock_acquire");
    let victim = first.last().unwrap()["pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("the holder was still there to kill");
    let mut rest: Vec<Value> = live.lines.by_ref().collect();
    assert!(live.child.wait().unwrap().success());
    let summary = rest.pop().unwrap();
    let exit = rest
        .iter()
        .find(|e| e["kind"] == "exit" && e["pid"] == victim)
        .expect("the victim's exit");
    assert_eq!(exit["exitcode"], -9);
    // flock is released by the kernel when its holder dies: the other three buyers got it.
    assert_eq!(
        rest.iter().filter(|e| e["kind"] == "lock_acquire").count(),
        3
    );
    assert_eq!(summary["exit_codes"], serde_json::json!({"-9": 1, "0": 3}));
    assert_eq!(summary["sold"], 3);
}

#[test]
fn headless_prints_a_short_human_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(
        tmp.path(),
        &[
            "ticket",
            "--headless",
            "--buyers",
            "3",
            "--tickets",
            "2",
            "--delay-ms",
            "0",
            "--seed",
            "9",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    // First what runs and its seed, then the summary.
    assert!(
        lines[0].starts_with("ticket: 3 buyers, 2 tickets") && lines[0].contains("seed 9"),
        "{text}"
    );
    assert!(lines[1].contains("sold 2, failed 1"), "{text}");
    assert!(lines[1].contains("seed 9"), "{text}");
    assert_dir_empty(tmp.path());
}
