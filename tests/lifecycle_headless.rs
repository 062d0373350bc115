//! Headless runs of the lifecycle scenario: every part of a process's life,
//! checked from the `--json` stream of real processes.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use mpviz::engine::{PacerCmd, Run};
use mpviz::protocol::{Body, Event};
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

    /// The exit code each join reported, checked against the exit event of
    /// its target (the waitpid that reaped it): a join returns None in
    /// Python, and what it saw is data beside it.
    fn joins_report_the_real_wait(&self) {
        let joins: Vec<&Value> = self
            .events
            .iter()
            .filter(|e| {
                e["kind"] == "process_call" && e["call"].as_str().unwrap().ends_with(".join()")
            })
            .collect();
        assert!(joins.len() >= 8, "{joins:?}");
        for join in joins {
            assert_eq!(join["result"], Value::Null, "{join}");
            assert_eq!(join["alive"], false, "{join}");
            let target = join["target"].clone();
            let exit = self
                .events
                .iter()
                .find(|e| e["kind"] == "exit" && e["pid"] == target)
                .unwrap_or_else(|| panic!("no exit of {target}"));
            assert_eq!(join["exitcode"], exit["exitcode"], "{join}");
        }
    }
}

/// Whether the event is an instrumented action (as `Event::is_action`
/// says): each gate a child passes lets one through.
fn is_action(e: &Value) -> bool {
    Event::from_json(&e.to_string())
        .unwrap_or_else(|err| panic!("{e}: {err}"))
        .is_action()
}

#[test]
fn every_exit_code_is_what_the_os_reported_and_each_stage_of_life_is_seen() {
    let life = live("semaphore");
    // Distinct real processes, each with its own PID.
    let pids: HashSet<i64> = life.pid.values().copied().collect();
    assert_eq!(pids.len(), life.pid.len());
    // 0 after a normal end, 1 after a failed run(), -15 after terminate(),
    // -9 after kill().
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
    let ran_in: Vec<(i64, i64)> = life
        .events
        .iter()
        .filter(|e| e["kind"] == "process_call" && e["call"] == "os.getpid() in hello")
        .map(|e| (e["pid"].as_i64().unwrap(), e["result"].as_i64().unwrap()))
        .collect();
    assert_eq!(ran_in, vec![(main, main), (hello, hello)]);
    assert!(life.call("os.getpid() in hello").0 < life.call("p.run()").0);
    assert_eq!(hello, life.call("p.start()").1["target"]);
    assert_ne!(hello, main);
    // Values, as data: start() returns None, name is a string.
    assert_eq!(life.call("p.start()").1["result"], Value::Null);
    assert_eq!(life.call("p.name").1["result"], "hello");
    assert_eq!(life.call("p.pid").1["result"], hello);
    // is_alive(), asked of the system while it runs.
    assert_eq!(life.call("p.is_alive()").1["result"], true);
    // exitcode is None while running.
    assert_eq!(life.call("p.exitcode").1["result"], Value::Null);
    // A join whose timeout expired while the child was alive; it ended later.
    let (join_at, join) = life.call("p.join(timeout=0.2)");
    assert_eq!(join["timeout_ms"], 200);
    assert_eq!(join["alive"], true, "{join}");
    assert!(join.get("exitcode").is_none(), "{join}");
    assert!(life.exit_of("hello").0 > join_at);
    life.joins_report_the_real_wait();
    // A zombie: state Z in /proc before its parent reaped it.
    let zombie = life.pid["zombie"];
    let z_at = life.at(|e| e["kind"] == "state" && e["pid"] == zombie && e["state"] == "Z");
    assert!(z_at < life.exit_of("zombie").0);
    assert_eq!(life.summary["zombie_seen"], true);
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
fn a_child_waits_for_its_child_and_only_a_terminated_parent_leaves_an_orphan() {
    let life = live("semaphore");
    let o = life.pid["orphans-parent"];
    let orphan = life.pid["orphan"];
    let server = life.pid["fork server"];
    let spawned = &life.events[life.at(|e| e["kind"] == "spawn" && e["pid"] == orphan)];
    assert_eq!(spawned["ppid"], o);
    // o's run() returned, and o did not end: at exit a Python process joins
    // its non-daemon children. It ended only when main terminated it.
    let returned =
        life.at(|e| e["kind"] == "process_call" && e["pid"] == o && e["call"] == "run()");
    let (terminated, _) = life.call("o.terminate()");
    let (o_exit, code) = life.exit_of("orphans-parent");
    assert!(returned < terminated && terminated < o_exit);
    assert_eq!(code, -15);
    // g read its parent twice: o, then (o dead) the fork server, a subreaper.
    let ppids: Vec<(usize, &Value)> = life
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["kind"] == "process_call" && e["pid"] == orphan)
        .map(|(i, e)| (i, &e["result"]))
        .collect();
    assert_eq!(ppids.len(), 2, "{ppids:?}");
    assert_eq!(*ppids[0].1, o);
    assert!(ppids[0].0 < terminated);
    assert_eq!(*ppids[1].1, server);
    assert!(ppids[1].0 > terminated);
    // Nothing in this run raises an exception, and nothing says one did.
    for e in &life.events {
        assert!(!e.to_string().contains("ValueError"), "{e}");
    }
}

#[test]
fn a_semaphore_held_by_a_terminated_process_is_a_deadlock_named_on_evidence_and_ended() {
    // Paced: a waiter may still be at its gate when the holder dies; it is
    // named only once it is seen asleep on the semaphore in the kernel.
    let life = live_with(&["--lock-kind", "semaphore", "--speed", "200"]);
    let holder = life.pid["holder"];
    let (holder_exit, code) = life.exit_of("holder");
    assert_eq!(code, -15);
    let at = life.at(|e| e["kind"] == "deadlock");
    let deadlock = &life.events[at];
    assert_eq!(deadlock["holder"], holder);
    assert!(holder_exit < at, "named after the holder was reaped");
    let waiters: HashSet<i64> = ["waiter-1", "waiter-2"].map(|w| life.pid[w]).into();
    let named: HashSet<i64> = deadlock["waiters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_i64().unwrap())
        .collect();
    assert_eq!(named, waiters);
    // The evidence: the value, and each waiter as the system showed it,
    // asleep (S) in the futex system call, all on one address.
    assert_eq!(deadlock["value"], 0);
    let seen = deadlock["seen"].as_array().unwrap();
    let seen_pids: HashSet<i64> = seen.iter().map(|s| s["pid"].as_i64().unwrap()).collect();
    assert_eq!(seen_pids, waiters);
    let futex = nix::libc::SYS_futex.to_string();
    let mut addresses = HashSet::new();
    for s in seen {
        assert_eq!(s["state"], "S", "{s}");
        assert!(!s["wchan"].as_str().unwrap().is_empty(), "{s}");
        let syscall: Vec<&str> = s["syscall"].as_str().unwrap().split(' ').collect();
        assert_eq!(syscall[0], futex, "{s}");
        addresses.insert(syscall[1].to_string());
        // It had passed its gate and was inside the wait for the lock.
        let pid = s["pid"].as_i64().unwrap();
        assert!(life.at(|e| e["kind"] == "lock_wait" && e["pid"] == pid) < at);
    }
    assert_eq!(addresses.len(), 1, "one semaphore: {seen:?}");
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

#[test]
fn the_killed_holders_exit_comes_before_a_waiter_takes_its_flock() {
    // At full speed a waiter is woken by the kernel as the holder dies,
    // before main can reap it: cause before effect, whatever the seed.
    for seed in ["1", "2", "3"] {
        let life = live_with(&["--lock-kind", "flock", "--seed", seed]);
        let (holder_exit, _) = life.exit_of("holder");
        let mut holders = 0;
        for e in &life.events[..holder_exit] {
            if e["kind"] == "lock_acquire" {
                holders += 1;
            }
        }
        assert_eq!(
            holders, 1,
            "seed {seed}: two holders before the holder's exit"
        );
    }
}

#[test]
fn each_permit_lets_exactly_one_action_of_its_process_through() {
    // Paced: each ready of a process is followed, before its next ready, by
    // exactly one action of its own: timed joins, calls, sleeps, lock steps
    // and looks at /proc alike. After its last ready, a process either acts
    // once or ends without a word: its function returned (exit 0) or it
    // was ended at its gate by a signal. A run() that failed (exit 1)
    // says so first.
    for kind in ["semaphore", "flock"] {
        let life = live_with(&["--lock-kind", kind, "--speed", "500"]);
        let parent = life.events[0]["parent_pid"].clone();
        // Per process: the action it waits to do, and how many followed.
        let mut since_ready: HashMap<i64, (String, u32)> = HashMap::new();
        let mut exitcode: HashMap<i64, i64> = HashMap::new();
        for e in &life.events {
            if e["pid"] == parent || e["pid"].is_null() {
                continue;
            }
            let pid = e["pid"].as_i64().unwrap();
            if e["kind"] == "ready" {
                let action = e["action"].as_str().unwrap().to_string();
                if let Some((before, n)) = since_ready.insert(pid, (action, 0)) {
                    assert_eq!(n, 1, "{kind}: PID {pid}'s step {before:?} did {n} actions");
                }
            } else if e["kind"] == "exit" {
                exitcode.insert(pid, e["exitcode"].as_i64().unwrap());
            } else if is_action(e) {
                let Some((_, n)) = since_ready.get_mut(&pid) else {
                    panic!("{kind}: an action without a permit: {e}");
                };
                *n += 1;
                assert_eq!(*n, 1, "{kind}: a second action on one permit: {e}");
            }
        }
        for (pid, (last, n)) in &since_ready {
            let code = exitcode[pid];
            assert!(
                *n == 1 || (*n == 0 && code <= 0),
                "{kind}: PID {pid}'s last step {last:?} did {n} actions (exit {code})"
            );
        }
    }
}

/// The kinds of event a paused lifecycle may show: the run's start and
/// pace, the fork server and main (started before any gate), main at its
/// first gate, and the parent's samples of /proc.
const ALLOWED_WHILE_PAUSED: [&str; 5] = ["start", "pace", "spawn", "ready", "state"];

/// A lifecycle run (two waiters) through the engine in this process, as the
/// dashboard runs it, paused at first.
fn paused_run(speed: f64) -> Run {
    let speed = speed.to_string();
    let args = [
        "lifecycle",
        "--waiters",
        "2",
        "--seed",
        "1",
        "--speed",
        &speed,
    ];
    engine_run(&args, true)
}

#[test]
fn paused_from_the_start_no_process_moves() {
    let mut run = paused_run(1000.0);
    let mut events: Vec<Event> = Vec::new();
    // Until main is at its first gate, then a while longer.
    read_until(&run, &mut events, "main at a gate", |e| e.kind() == "ready");
    read_for(&run, &mut events, Duration::from_millis(1500));
    run.stop();
    let main = events
        .iter()
        .find(|e| matches!(&e.body, Body::Spawn { name, .. } if name == "main"))
        .and_then(|e| e.pid)
        .unwrap();
    for e in &events {
        assert!(
            ALLOWED_WHILE_PAUSED.contains(&e.kind()),
            "moved while paused: {e:?}"
        );
        match &e.body {
            Body::Spawn { name, .. } => {
                assert!(name == "main" || name == "fork server", "{e:?}")
            }
            Body::Ready { .. } => assert_eq!(e.pid, Some(main), "{e:?}"),
            Body::Pace { paused, .. } => assert!(*paused, "{e:?}"),
            _ => {}
        }
    }
    let readies = events.iter().filter(|e| e.kind() == "ready").count();
    assert_eq!(readies, 1, "main asks once for its first step");
}

#[test]
fn paused_while_a_child_sleeps_nothing_moves_but_what_was_granted() {
    let mut run = paused_run(50.0);
    run.pace(PacerCmd::Resume);
    let mut events: Vec<Event> = Vec::new();
    // hello has begun its 1.5 s sleep: pause now.
    read_until(&run, &mut events, "hello's sleep", |e| {
        matches!(e.body, Body::Sleep { ms: 1500 })
    });
    let slept_at = events.len();
    run.pace(PacerCmd::Pause);
    let paused = |e: &Event| matches!(e.body, Body::Pace { paused: true, .. });
    let deadline = Instant::now() + PATIENCE;
    while !events[slept_at..].iter().any(paused) {
        assert!(Instant::now() < deadline, "the pause never came");
        read_for(&run, &mut events, Duration::from_millis(100));
    }
    let paused_at = slept_at + events[slept_at..].iter().position(paused).unwrap();
    // Longer than hello's sleep: when it wakes it goes to its next gate.
    read_for(&run, &mut events, Duration::from_millis(2500));
    // Every process alive at the pause still is, as the system says.
    let mut living: HashSet<i32> = HashSet::new();
    for e in &events[..paused_at] {
        match e.body {
            Body::Spawn { .. } => living.insert(e.pid.unwrap()),
            Body::Exit { .. } => living.remove(&e.pid.unwrap()),
            _ => false,
        };
    }
    assert!(living.len() >= 4, "{living:?}");
    for &pid in &living {
        assert!(alive(pid.into()), "PID {pid} ended while paused");
    }
    run.stop();
    // After the pause each process may finish the one action it had been
    // granted, and then nothing: no second action, no process started or
    // ended (hello's return waits for a permit, and so main's join).
    let mut done: HashMap<i32, usize> = HashMap::new();
    for e in &events[paused_at + 1..] {
        assert!(
            !matches!(e.body, Body::Exit { .. } | Body::Spawn { .. }),
            "moved while paused: {e:?}"
        );
        if e.is_action() {
            let n = done.entry(e.pid.unwrap()).or_default();
            *n += 1;
            assert_eq!(*n, 1, "a second action while paused: {e:?}");
        }
    }
}

/// A fork the kernel refuses mid-run (main's first `p.start()`, in a pids
/// cgroup that allows no task more): main reports what failed and exits 1,
/// and the run ends with every process gone. The dashboard's side of it is
/// in tests/dashboard.rs.
#[test]
fn a_fork_the_kernel_refuses_mid_run_ends_the_run_with_the_error_and_nothing_left() {
    let Some(cgroup) = PidsCgroup::new() else {
        eprintln!(
            "SKIPPED a_fork_the_kernel_refuses_mid_run_ends_the_run_with_the_error_and_nothing_left: \
             no pids cgroup can be made here (needs root and cgroup v1's pids)"
        );
        return;
    };
    let mut run = paused_run(1000.0);
    let mut events: Vec<Event> = Vec::new();
    read_until(&run, &mut events, "main at a gate", |e| e.kind() == "ready");
    let main = events
        .iter()
        .find(|e| matches!(&e.body, Body::Spawn { name, .. } if name == "main"))
        .and_then(|e| e.pid)
        .unwrap();
    cgroup.confine(main.into());
    // Main steps until its first fork: before it, it makes its lock and its
    // first Process object, which fork nothing.
    let failed = |e: &Event| matches!(e.body, Body::Error { .. });
    for _ in 0..10 {
        if events.iter().any(failed) {
            break;
        }
        run.pace(PacerCmd::Step);
        let mut step = Vec::new();
        read_until(&run, &mut step, "the step or the error", |e| {
            e.is_action() || failed(e)
        });
        events.extend(step);
    }
    read_until(&run, &mut events, "the end of the run", |e| {
        e.kind() == "end"
    });
    let error = events.iter().find(|e| failed(e)).unwrap();
    let Body::Error { message } = &error.body else {
        unreachable!()
    };
    assert_eq!(error.pid, Some(main), "{error:?}");
    assert!(
        message.contains("Resource temporarily unavailable"),
        "{message}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.pid == Some(main) && matches!(e.body, Body::Exit { exitcode: 1 })),
        "main exits 1: {events:?}"
    );
    let spawned: Vec<i32> = events
        .iter()
        .filter(|e| e.kind() == "spawn")
        .filter_map(|e| e.pid)
        .collect();
    assert_eq!(
        spawned.len(),
        2,
        "the fork server and main only: {events:?}"
    );
    run.stop();
    for pid in spawned {
        assert!(!alive(pid.into()), "PID {pid} outlived the run");
    }
}
