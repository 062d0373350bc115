//! `mpviz export`: every trace keeps the rules Perfetto's importer keeps
//! (slices on a track nest, every flow starts inside a slice and ends, flow
//! ids are unique, counters are numbers, every process and track is named),
//! and its lock holds are the recorded ones, never two at once.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

fn run(args: &[&str]) -> std::process::Output {
    let out = support::run_to_end(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A nanosecond, in the trace's microseconds.
const EPS: f64 = 0.001;

const RUNS: &[&[&str]] = &[
    &[
        "ticket",
        "--buyers",
        "6",
        "--tickets",
        "3",
        "--delay-ms",
        "20",
    ],
    &["race", "--workers", "3", "--increments", "5", "--lock"],
    &["append", "--writers", "4", "--lock"],
    &[
        "queue",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--items",
        "8",
        "--maxsize",
        "2",
    ],
    &["pool", "--workers", "2", "--tasks", "5"],
    &["lifecycle"],
];

#[test]
fn every_export_keeps_the_importers_rules_and_the_recorded_lock_holds() {
    let dir = tempfile::tempdir().unwrap();
    for args in RUNS {
        let file = dir.path().join(format!("{}.jsonl", args[0]));
        let trace_file = dir.path().join(format!("{}.trace.json", args[0]));
        let (file, trace_path) = (file.to_str().unwrap(), trace_file.to_str().unwrap());
        let mut all = args.to_vec();
        all.extend(["--json", "--record", file]);
        let live = run(&all);
        run(&["export", file, "-o", trace_path]);
        let trace: Value =
            serde_json::from_str(&std::fs::read_to_string(trace_path).unwrap()).unwrap();
        let events = trace["traceEvents"].as_array().unwrap();
        check(args, events);
        // The holds are the recorded acquires, one each.
        let recorded: Vec<Value> = String::from_utf8_lossy(&live.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let acquires = recorded
            .iter()
            .filter(|e| e["kind"] == "lock_acquire")
            .count();
        let holds = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["name"].as_str().unwrap().starts_with("hold "))
            .count();
        assert_eq!(holds, acquires, "{args:?}");
        // An arrow from each hold to the next of the same lock.
        let locks: HashSet<&str> = recorded
            .iter()
            .filter(|e| e["kind"] == "lock_acquire")
            .map(|e| e["lock"].as_str().unwrap())
            .collect();
        let arrows = events.iter().filter(|e| e["ph"] == "s").count();
        assert_eq!(arrows, acquires - locks.len(), "{args:?}");
        // Instants for exits, one per process the recording saw exit.
        let exits = recorded.iter().filter(|e| e["kind"] == "exit").count();
        let exit_marks = events
            .iter()
            .filter(|e| e["ph"] == "i" && e["name"].as_str().unwrap().starts_with("exit "))
            .count();
        assert_eq!(exit_marks, exits, "{args:?}");
        let counter = |name: &str| {
            events
                .iter()
                .any(|e| e["ph"] == "C" && e["name"].as_str().unwrap().starts_with(name))
        };
        match args[0] {
            "ticket" => assert!(counter("tickets.json"), "tickets left"),
            "queue" => assert!(counter("queue "), "the queue's depth"),
            "race" => assert!(counter("counter"), "the shared counter"),
            _ => {}
        }
    }
}

/// The importer's rules, and a lock held by one process at a time.
fn check(args: &[&str], events: &[Value]) {
    let mut named_processes = HashSet::new();
    let mut named_tracks = HashSet::new();
    for e in events {
        assert!(e["name"].is_string(), "{args:?}: a nameless event {e}");
        if e["ph"] == "M" {
            match e["name"].as_str().unwrap() {
                "process_name" => named_processes.insert(e["pid"].as_i64().unwrap()),
                "thread_name" => {
                    named_tracks.insert((e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap()))
                }
                other => panic!("{args:?}: metadata {other}"),
            };
            assert!(e["args"]["name"].is_string());
        }
    }
    // Slices on one track: each pair is apart or one holds the other.
    let mut tracks: BTreeMap<(i64, i64), Vec<(f64, f64)>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let key = (e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap());
        assert!(
            named_processes.contains(&key.0),
            "{args:?}: pid {} unnamed",
            key.0
        );
        assert!(
            named_tracks.contains(&key),
            "{args:?}: track {key:?} unnamed"
        );
        let (ts, dur) = (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap());
        assert!(dur >= 0.0, "{args:?}: {e}");
        tracks.entry(key).or_default().push((ts, ts + dur));
    }
    for (key, slices) in &tracks {
        for (i, a) in slices.iter().enumerate() {
            for b in &slices[i + 1..] {
                // (To the nanosecond: the importer rounds microseconds so.)
                let le = |x: f64, y: f64| x <= y + EPS;
                let apart = le(a.1, b.0) || le(b.1, a.0);
                let nested = (le(a.0, b.0) && le(b.1, a.1)) || (le(b.0, a.0) && le(a.1, b.1));
                assert!(apart || nested, "{args:?}: {key:?} {a:?} and {b:?} overlap");
            }
        }
    }
    // Flows: unique ids, each an `s` inside a slice of its track and an `f`.
    let mut starts: HashMap<i64, &Value> = HashMap::new();
    let mut finishes: HashMap<i64, &Value> = HashMap::new();
    for e in events {
        let id = || e["id"].as_i64().unwrap();
        match e["ph"].as_str().unwrap() {
            "s" => assert!(starts.insert(id(), e).is_none(), "{args:?}: flow id twice"),
            "f" => assert!(
                finishes.insert(id(), e).is_none(),
                "{args:?}: flow id twice"
            ),
            _ => {}
        }
    }
    assert_eq!(
        starts.keys().collect::<HashSet<_>>(),
        finishes.keys().collect::<HashSet<_>>(),
        "{args:?}: every flow starts and ends"
    );
    for s in starts.values() {
        let key = (s["pid"].as_i64().unwrap(), s["tid"].as_i64().unwrap());
        let ts = s["ts"].as_f64().unwrap();
        assert!(
            tracks
                .get(&key)
                .is_some_and(|slices| slices.iter().any(|(a, b)| *a <= ts && ts < *b)),
            "{args:?}: a flow starts outside a slice: {s}"
        );
    }
    // Counters are numbers.
    for e in events.iter().filter(|e| e["ph"] == "C") {
        let values = e["args"].as_object().unwrap();
        assert!(
            !values.is_empty() && values.values().all(Value::is_number),
            "{args:?}: {e}"
        );
    }
    // One hold of a lock at a time, across processes.
    let mut holds: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        if let Some(lock) = e["name"].as_str().unwrap().strip_prefix("hold ") {
            let ts = e["ts"].as_f64().unwrap();
            holds
                .entry(lock.to_string())
                .or_default()
                .push((ts, ts + e["dur"].as_f64().unwrap()));
        }
    }
    for (lock, mut list) in holds {
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in list.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{args:?}: {lock} held twice: {pair:?}"
            );
        }
    }
}
