//! Headless runs of the race scenario: the lost update, from the `--json`
//! stream of real processes (and real threads) adding to shared memory.

mod support;

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use support::*;

fn run_race(args: &[&str]) -> JsonRun {
    run_json_of("race", args)
}

fn values(events: &[Value], kind: &str) -> Vec<(i64, i64)> {
    events
        .iter()
        .filter(|e| e["kind"] == kind && e["file"] == "counter")
        .map(|e| (e["pid"].as_i64().unwrap(), e["value"].as_i64().unwrap()))
        .collect()
}

/// The counter as the parent last read it from shared memory.
fn last_reading(events: &[Value]) -> u64 {
    events
        .iter()
        .rfind(|e| e["kind"] == "file" && e["file"] == "counter")
        .expect("the parent read the counter")["content"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Each write is what its writer last read, plus one; returns how many.
fn check_every_write_adds_one_to_its_read(events: &[Value]) -> usize {
    let mut last_read: HashMap<i64, i64> = HashMap::new();
    let mut writes = 0;
    for e in events.iter().filter(|e| e["file"] == "counter") {
        let (pid, value) = (e["pid"].as_i64().unwrap(), e["value"].as_i64());
        match e["kind"].as_str().unwrap() {
            "read" => {
                last_read.insert(pid, value.unwrap());
            }
            "write" => {
                assert_eq!(Some(last_read[&pid] + 1), value, "{e}");
                writes += 1;
            }
            _ => {}
        }
    }
    writes
}

#[test]
fn with_the_lock_the_counter_is_exact_and_every_read_sees_the_last_write() {
    for threads in [false, true] {
        let mut args = vec!["--lock", "--workers", "4", "--increments", "30"];
        if threads {
            args.push("--threads");
        }
        let run = run_race(&args);
        let s = &run.summary;
        assert_eq!(s["expected"], 120);
        assert_eq!(s["final"], 120, "{s}");
        assert_eq!(s["lost_updates"], 0);
        assert_eq!(s["overtaken_writes"], 0);
        assert_eq!(
            last_reading(&run.events),
            120,
            "the memory itself holds 120"
        );
        // One after another: the reads see 0, 1, 2, … and the writes follow.
        let reads: Vec<i64> = values(&run.events, "read").iter().map(|r| r.1).collect();
        let writes: Vec<i64> = values(&run.events, "write").iter().map(|w| w.1).collect();
        assert_eq!(reads, (0..120).collect::<Vec<_>>());
        assert_eq!(writes, (1..=120).collect::<Vec<_>>());
        if threads {
            // The one exit code is the process's; threads are joined.
            assert_eq!(s["exit_codes"], json!({"0": 1}));
            assert_eq!(s["threads_joined"], 4);
        } else {
            assert_eq!(s["exit_codes"], json!({"0": 4}));
        }
    }
}

#[test]
fn without_the_lock_updates_are_lost_and_the_loss_is_what_memory_says() {
    // Paced, so that the pacer's random grants interleave the workers.
    let run = run_race(&["--workers", "3", "--increments", "20", "--speed", "3000"]);
    let s = &run.summary;
    let last = last_reading(&run.events);
    assert_eq!(
        s["final"], last,
        "the summary's final is the memory's value"
    );
    assert!(last < 60, "no update lost in {s}");
    assert_eq!(s["lost_updates"], 60 - last);
    assert_eq!(check_every_write_adds_one_to_its_read(&run.events), 60);
    assert!(
        s["overtaken_writes"].as_u64().unwrap() > 0,
        "the stream shows no write over another: {s}"
    );
    // The last value written is what memory holds at the end.
    assert_eq!(values(&run.events, "write").last().unwrap().1 as u64, last);
    assert_eq!(s["distinct_pids"], 3);
    assert_eq!(s["exit_codes"], json!({"0": 3}));
}

#[test]
fn at_full_speed_the_counter_never_exceeds_what_was_added() {
    let run = run_race(&["--workers", "6", "--increments", "2000"]);
    let s = &run.summary;
    let last = last_reading(&run.events);
    assert!(last <= 12_000);
    assert_eq!(s["final"], last);
    assert_eq!(s["lost_updates"], 12_000 - last);
    assert_eq!(check_every_write_adds_one_to_its_read(&run.events), 12_000);
    let pids: HashSet<i64> = run.pids("worker").into_iter().collect();
    assert_eq!(pids.len(), 6);
}

#[test]
fn threads_are_real_tasks_of_one_process_and_lose_updates_too() {
    let mut live = LiveRun::start(&[
        "race",
        "--json",
        "--threads",
        "--workers",
        "3",
        "--increments",
        "20",
        "--speed",
        "300",
    ]);
    // While they run (120 paced actions: at least 0.4 s, long after the
    // spawns are read), each thread is a task of the one worker process.
    let mut process = None;
    let mut seen_in_proc = 0;
    let mut events = live.read_until(|e| {
        if e["kind"] == "spawn" && e["role"] == "process" {
            process = e["pid"].as_i64();
        }
        if e["kind"] == "spawn" && e["role"] == "thread" {
            let (tid, ppid) = (e["pid"].as_i64().unwrap(), e["ppid"].as_i64().unwrap());
            assert_eq!(Some(ppid), process, "a thread of the worker process");
            assert_ne!(tid, ppid, "a thread has its own id");
            if std::path::Path::new(&format!("/proc/{ppid}/task/{tid}")).exists() {
                seen_in_proc += 1;
            }
        }
        e["kind"] == "end"
    });
    events.extend(live.lines.by_ref());
    assert!(live.child.wait().unwrap().success());
    assert!(seen_in_proc >= 1, "no thread was seen in /proc/PID/task");

    let s = events.pop().unwrap();
    assert_eq!(s["kind"], "summary");
    let tids: HashSet<i64> = events
        .iter()
        .filter(|e| e["kind"] == "spawn" && e["role"] == "thread")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(tids.len(), 3);
    assert_eq!(s["threads"], true);
    assert_eq!(s["distinct_pids"], 3);
    let last = last_reading(&events);
    assert!(last < 60, "threads lost no update: {s}");
    assert_eq!(s["lost_updates"], 60 - last);
    // Every thread's end was reported when its join returned, before the
    // process exited (as waitpid reported). A thread has no exit status:
    // the one exit code is the process's.
    assert_eq!(s["exit_codes"], json!({"0": 1}));
    assert_eq!(s["threads_joined"], 3);
    let position = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred).unwrap();
    let process_exit = position(&|e| e["kind"] == "exit" && e["pid"] == process.unwrap());
    for tid in tids {
        assert!(position(&|e| e["kind"] == "joined" && e["pid"] == tid) < process_exit);
        let ends = events
            .iter()
            .filter(|e| e["pid"] == tid && e["kind"] == "exit");
        assert_eq!(ends.count(), 0, "TID {tid} got an exit code");
    }
}

/// Folds the run's stream one event at a time (every prefix, as the screen
/// sees it) and returns the "lost" the header showed after each event,
/// checking that the counter panel showed the same, that the header's
/// counter is lit exactly when it shows a loss, and that nothing on screen
/// claims a loss (a row or log line marked as a lost update, the counter
/// panel's newest lost update) while the header still shows none.
fn lost_at_every_prefix(run: &JsonRun) -> Vec<u64> {
    use mpviz::model::{Model, Moment};
    use mpviz::protocol::Event;
    let start = &run.events[0];
    assert_eq!(start["kind"], "start");
    let race = mpviz::scenario::from_params("race", &start["params"]).unwrap();
    let show = race.show();
    let mut model = Model::new();
    let mut shown = Vec::new();
    for e in &run.events {
        model.apply(&serde_json::from_value::<Event>(e.clone()).unwrap());
        let headline = race.headline(&model);
        let lost = headline
            .iter()
            .find(|(label, _)| *label == "lost")
            .expect("the header shows the loss")
            .1
            .parse::<u64>()
            .unwrap();
        assert_eq!(race.counter(&model).unwrap().lost, lost, "after {e}");
        let at = shown.len();
        let lit = show.lit("lost", race.alarm_count("lost", &model), &model);
        assert_eq!(
            lit,
            lost > 0,
            "the header at lost {lost} after event {at}: {e}"
        );
        if lost == 0 {
            assert_eq!(
                model.moment_count(Moment::LostUpdate),
                0,
                "a lost update marked at lost 0 after event {at}: {e}"
            );
            assert!(
                model.procs.iter().all(|p| p.overwrote.is_none()),
                "a row says a write was lost at lost 0 after event {at}: {e}"
            );
            assert_eq!(model.files.last_lost, None, "after event {at}: {e}");
        }
        shown.push(lost);
    }
    shown
}

#[test]
fn a_loss_is_shown_only_once_it_is_certain() {
    for speed in ["2000", "max"] {
        for threads in [false, true] {
            let mut args = vec!["--workers", "4", "--increments", "40", "--speed", speed];
            if threads {
                args.push("--threads");
            }
            // With the lock nothing is lost: the header never says otherwise,
            // not even between a write and the parent's next look at memory.
            let mut locked = args.clone();
            locked.push("--lock");
            let run = run_race(&locked);
            assert_eq!(run.summary["lost_updates"], 0);
            let shown = lost_at_every_prefix(&run);
            assert!(
                shown.iter().all(|&lost| lost == 0),
                "{locked:?}: a loss shown with the lock, after event {}",
                shown.iter().position(|&l| l > 0).unwrap()
            );
            // Without it, what is shown is never more than what is lost in
            // the end, and at the end it is exactly that.
            let run = run_race(&args);
            let shown = lost_at_every_prefix(&run);
            let last = run.summary["lost_updates"].as_u64().unwrap();
            assert_eq!(*shown.last().unwrap(), last, "{args:?}");
            assert_eq!(run.summary["lost_certain"], last);
            if let Some(at) = shown.iter().position(|&lost| lost > last) {
                panic!(
                    "{args:?}: {} shown after event {at}, {last} lost in the end",
                    shown[at]
                );
            }
        }
    }
}

#[test]
fn more_increments_than_the_32_bit_counter_holds_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = mpviz(
        tmp.path(),
        &[
            "race",
            "--json",
            "--workers",
            "2",
            "--increments",
            "4294967295",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("4294967295"), "{stderr}");
    assert_dir_empty(tmp.path());
}
