//! Headless runs of the lifecycle scenario: every part of a process's life,
//! checked from the `--json` stream of real processes.

mod support;

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use support::*;

struct Life {
    events: Vec<Value>,
    summary: Value,
    /// PID by name, from the spawn events.
    pid: HashMap<String, i64>,
}

fn live(lock_kind: &str) -> Life {
    live_with(&["--lock-kind", lock_kind])
}

fn live_with(args: &[&str]) -> Life {
    let run = run_json_of("lifecycle", args);
    let pid = run
        .of_kind("spawn")
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["pid"].as_i64().unwrap(),
            )
        })
        .collect();
    Life {
        events: run.events,
        summary: run.summary,
        pid,
    }
}

impl Life {
    fn at(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.events
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no such event"))
    }

    fn exit_of(&self, name: &str) -> (usize, i64) {
        let pid = self.pid[name];
        let at = self.at(|e| e["kind"] == "exit" && e["pid"] == pid);
        (at, self.events[at]["exitcode"].as_i64().unwrap())
    }

    fn call(&self, call: &str) -> (usize, &Value) {
        let at = self.at(|e| e["kind"] == "process_call" && e["call"] == call);
        (at, &self.events[at])
    }
}

#[test]
fn every_exit_code_is_what_the_os_reported_and_each_stage_of_life_is_seen() {
    let life = live("semaphore");
    // Distinct real processes, each with its own PID.
    let pids: HashSet<i64> = life.pid.values().copied().collect();
    assert_eq!(pids.len(), life.pid.len());
    // 0 after a normal end, 1 after an error, -15 after terminate(), -9 after kill().
    for (name, code) in [
        ("hello", 0),
        ("MyProcess", 1),
        ("terminated", -15),
        ("killed", -9),
        ("zombie", 0),
        ("main", 0),
    ] {
        assert_eq!(life.exit_of(name).1, code, "{name}");
        assert_eq!(life.summary["exit_codes_by_name"][name], code, "{name}");
    }
    // run() runs hello in the caller's own PID; start() in a new one. hello
    // itself says where it runs (os.getpid()).
    let main = life.pid["main"];
    let hello = life.pid["hello"];
    let ran_in: Vec<(i64, String)> = life
        .events
        .iter()
        .filter(|e| e["kind"] == "process_call" && e["call"] == "os.getpid() in hello")
        .map(|e| {
            (
                e["pid"].as_i64().unwrap(),
                e["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ran_in,
        vec![(main, main.to_string()), (hello, hello.to_string())]
    );
    assert!(life.call("os.getpid() in hello").0 < life.call("p.run()").0);
    assert_eq!(hello, life.call("p.start()").1["target"]);
    assert_ne!(hello, main);
    // is_alive(), asked of the system while it runs.
    assert_eq!(life.call("p.is_alive()").1["alive"], true);
    // exitcode is None while running.
    assert!(life.call("p.exitcode").1["result"]
        .as_str()
        .unwrap()
        .starts_with("None"));
    // A join whose timeout expired while the child was alive; it ended later.
    let (join_at, join) = life.call("p.join(timeout=0.2)");
    assert_eq!(join["timeout_ms"], 200);
    assert_eq!(join["alive"], true, "{join}");
    assert!(life.exit_of("hello").0 > join_at);
    // A zombie: state Z in /proc before its parent reaped it.
    let zombie = life.pid["zombie"];
    let z_at = life.at(|e| e["kind"] == "state" && e["pid"] == zombie && e["state"] == "Z");
    assert!(z_at < life.exit_of("zombie").0);
    assert_eq!(life.summary["zombie_seen"], true);
    // An orphan, re-parented to the fork server when its parent ended.
    let orphan = life.pid["orphan"];
    let server = life.pid["fork server"];
    let spawned = &life.events[life.at(|e| e["kind"] == "spawn" && e["pid"] == orphan)];
    assert_eq!(spawned["ppid"], life.pid["orphans-parent"]);
    let reparented = life
        .events
        .iter()
        .rfind(|e| e["kind"] == "process_call" && e["pid"] == orphan)
        .unwrap();
    assert!(
        reparented["result"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{server}:")),
        "{reparented}"
    );
    // Before: its parent was the orphans-parent.
    let first = life.at(|e| e["kind"] == "process_call" && e["pid"] == orphan);
    assert_eq!(
        life.events[first]["result"],
        life.pid["orphans-parent"].to_string()
    );
    // A daemon ends when its parent ends.
    assert_eq!(life.exit_of("daemon").1, -15);
    let daemon_end = life.exit_of("daemon").0;
    assert!(
        daemon_end > life.exit_of("waiter-2").0,
        "it lived until main's end"
    );
    assert!(daemon_end < life.exit_of("main").0);
}

#[test]
fn a_semaphore_held_by_a_terminated_process_is_a_deadlock_named_and_ended() {
    let life = live("semaphore");
    let holder = life.pid["holder"];
    let (holder_exit, code) = life.exit_of("holder");
    assert_eq!(code, -15);
    let at = life.at(|e| e["kind"] == "deadlock");
    let deadlock = &life.events[at];
    assert_eq!(deadlock["holder"], holder);
    assert!(holder_exit < at, "named after the holder died");
    let waiters: HashSet<i64> = ["waiter-1", "waiter-2"].map(|w| life.pid[w]).into();
    let named: HashSet<i64> = deadlock["waiters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_i64().unwrap())
        .collect();
    assert_eq!(named, waiters);
    // Nobody ever got the lock after the holder: the waiters never acquired.
    assert!(!life
        .events
        .iter()
        .any(|e| e["kind"] == "lock_acquire" && waiters.contains(&e["pid"].as_i64().unwrap())));
    // And the run still ended cleanly: the waiters were ended, main exited 0.
    for w in ["waiter-1", "waiter-2"] {
        assert_eq!(life.exit_of(w).1, -15);
    }
    assert_eq!(life.summary["deadlocks"], 1);
    assert_eq!(life.events.last().unwrap()["kind"], "end");
}

#[test]
fn an_flock_held_by_a_terminated_process_is_let_go_by_the_kernel() {
    // Paced, as in the dashboard: the waiters go on however slowly.
    let life = live_with(&["--lock-kind", "flock", "--speed", "60"]);
    let holder = life.pid["holder"];
    assert_eq!(life.exit_of("holder").1, -15);
    assert!(!life.events.iter().any(|e| e["kind"] == "deadlock"));
    // The holder took the lock and never let it go itself ...
    let held = life.at(|e| e["kind"] == "lock_acquire" && e["pid"] == holder);
    assert!(!life
        .events
        .iter()
        .any(|e| e["kind"] == "lock_release" && e["pid"] == holder));
    // ... yet each waiter got it: the kernel let go of the dead holder's flock.
    for w in ["waiter-1", "waiter-2"] {
        let pid = life.pid[w];
        let acquired = life.at(|e| e["kind"] == "lock_acquire" && e["pid"] == pid);
        assert!(acquired > held);
        assert_eq!(life.exit_of(w).1, 0);
    }
    assert_eq!(life.summary["deadlocks"], 0);
    // main waits for them as long as they take: no join gives up on them.
    assert!(!life
        .events
        .iter()
        .any(|e| e["kind"] == "process_call" && e["timeout_ms"] == 1000));
}
