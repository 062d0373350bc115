//! Headless runs of the pool scenario: invariants from `--json`.

mod support;

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use support::*;

fn of<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["kind"] == kind)
}

fn pid(e: &Value) -> i64 {
    e["pid"].as_i64().unwrap()
}

#[test]
fn exactly_w_workers_run_every_task_once_and_every_callback_runs_in_the_main_process() {
    let run = run_json_of(
        "pool",
        &[
            "--workers",
            "4",
            "--tasks",
            "200",
            "--speed",
            "1000",
            "--seed",
            "2",
        ],
    );
    let (events, s) = (&run.events, &run.summary);
    let main = events[0]["parent_pid"].as_i64().unwrap();
    let workers: HashSet<i64> = of(events, "spawn")
        .filter(|e| e["role"] == "worker")
        .map(pid)
        .collect();
    assert_eq!(workers.len(), 4, "the pool starts its workers once");
    assert_eq!(s["worker_pids"].as_array().unwrap().len(), 4);
    // Every task is started and done exactly once, by one of those workers.
    let mut done: HashMap<u64, u32> = HashMap::new();
    for e in of(events, "task_done") {
        assert!(
            workers.contains(&pid(e)),
            "a task ran outside the pool: {e}"
        );
        *done.entry(e["task"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(done.len(), 200);
    assert!(done.values().all(|&n| n == 1));
    assert_eq!(of(events, "task_start").count(), 200);
    // 200 tasks paced at random over 4 workers (400 permits, 0.4 s): each
    // took several.
    let per_worker: HashSet<i64> = of(events, "task_start").map(pid).collect();
    assert_eq!(per_worker, workers, "every worker took tasks");
    // Every callback ran in the main process, not in a worker.
    assert_eq!(of(events, "callback").count(), 200);
    assert!(of(events, "callback").all(|e| pid(e) == main));
    assert_eq!(s["callback_pids"], serde_json::json!([main]));
    assert_eq!(s["ok"], 200);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 4}));
    // The stream keeps cause before effect: submit, start, done, callback.
    let position = |kind: &str, task: u64| {
        events
            .iter()
            .position(|e| e["kind"] == kind && e["task"] == task)
            .unwrap()
    };
    for task in 0..200 {
        assert!(position("task_submit", task) < position("task_start", task));
        assert!(position("task_start", task) < position("task_done", task));
        assert!(position("task_done", task) < position("callback", task));
    }
}

#[test]
fn failing_tasks_get_the_error_callback_and_their_worker_lives_on() {
    let run = run_json_of("pool", &["--workers", "2", "--tasks", "12", "--fail", "3"]);
    let (events, s) = (&run.events, &run.summary);
    assert_eq!(s["errors"], 3);
    assert_eq!(s["ok"], 9);
    let failed: HashSet<u64> = of(events, "task_done")
        .filter(|e| e["ok"] == false)
        .map(|e| e["task"].as_u64().unwrap())
        .collect();
    assert_eq!(failed.len(), 3);
    for e in of(events, "callback") {
        let task = e["task"].as_u64().unwrap();
        assert_eq!(
            e["ok"],
            !failed.contains(&task),
            "task {task}: the callback, or the error callback"
        );
    }
    // The workers that raised ran later tasks too, and exited normally.
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 2}));
}

#[test]
fn with_sync_each_task_is_done_before_the_next_is_submitted() {
    let run = run_json_of("pool", &["--workers", "3", "--tasks", "8", "--sync"]);
    let events = &run.events;
    let mut last_done = None;
    for e in events {
        match e["kind"].as_str().unwrap() {
            "task_submit" => {
                let task = e["task"].as_u64().unwrap();
                assert_eq!(
                    last_done,
                    task.checked_sub(1),
                    "task {task} submitted before the previous was done"
                );
            }
            "task_done" => last_done = e["task"].as_u64(),
            _ => {}
        }
    }
    assert_eq!(run.summary["ok"], 8);
}

#[test]
fn a_timed_wait_for_a_result_is_reported_with_whether_it_expired() {
    // Paced slowly enough that the last task cannot be ready 50 ms after
    // close: it needs grants at 10/s, and its worker is busy with an earlier
    // task unless the main process stalled for most of a second between puts.
    let run = run_json_of("pool", &["--workers", "2", "--tasks", "4", "--speed", "10"]);
    let waits: Vec<&Value> = of(&run.events, "result_wait").collect();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0]["expired"], true);
    assert_eq!(waits[0]["task"], 3);
}

#[test]
fn crawl_fetches_real_pages_and_the_callbacks_parse_them_in_the_main_process() {
    let run = run_json_of("pool", &["--workers", "3", "--tasks", "12", "--crawl"]);
    let (events, s) = (&run.events, &run.summary);
    let main = events[0]["parent_pid"].as_i64().unwrap();
    let failed: Vec<&Value> = of(events, "task_done")
        .filter(|e| e["ok"] != true)
        .collect();
    assert!(failed.is_empty(), "fetches failed: {failed:?}");
    assert_eq!(s["ok"], 12);
    for e in of(events, "task_done") {
        let task = e["task"].as_u64().unwrap();
        let page = e["page"].as_str().expect("a fetched page");
        assert!(
            page.contains(&format!("<title>Page {task}</title>")),
            "{page}"
        );
        assert_eq!(e["result"].as_u64().unwrap() as usize, page.len());
    }
    for e in of(events, "callback") {
        let task = e["task"].as_u64().unwrap();
        assert_eq!(pid(e), main, "the callback runs in the main process");
        let parsed = e["parsed"].as_str().unwrap();
        assert!(
            parsed.starts_with(&format!("Page {task}: {} links", task % 5)),
            "{parsed}"
        );
    }
}
