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
    // Every callback ran in the main process, not in a worker: the PID and
    // thread id are what the callback's own thread read with getpid() and
    // gettid() as it ran; it is the pool's result-handler thread, not the
    // main thread (whose id is the PID), and it was handed the value the
    // worker computed, over the result pipe.
    let results: HashMap<u64, &Value> = of(events, "task_done")
        .map(|e| (e["task"].as_u64().unwrap(), &e["result"]))
        .collect();
    assert_eq!(of(events, "callback").count(), 200);
    for e in of(events, "callback") {
        assert_eq!(pid(e), main, "{e}");
        assert!(!workers.contains(&pid(e)), "{e}");
        let tid = e["tid"].as_i64().unwrap();
        assert!(tid > 0 && tid != main && !workers.contains(&tid), "{e}");
        assert_eq!(e["thread"], "mpviz-result-handler");
        assert_eq!(&e["result"], results[&e["task"].as_u64().unwrap()], "{e}");
    }
    assert_eq!(s["callback_pids"], serde_json::json!([main]));
    assert_eq!(
        s["callback_threads"],
        serde_json::json!(["mpviz-result-handler"])
    );
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
    // The task's code really failed (a division by zero), and the error
    // callback was handed that error, type and message, over the result pipe.
    for e in of(events, "task_done").filter(|e| e["ok"] == false) {
        assert_eq!(e["error_type"], "ZeroDivisionError", "{e}");
        assert_eq!(e["error"], "division by zero", "{e}");
    }
    for e in of(events, "callback").filter(|e| e["ok"] == false) {
        assert_eq!(e["error_type"], "ZeroDivisionError", "{e}");
        assert_eq!(e["error"], "division by zero", "{e}");
        assert!(e.get("result").is_none(), "{e}");
    }
    // The workers that raised ran later tasks too, and exited normally.
    assert_eq!(s["exit_codes"], serde_json::json!({"0": 2}));
}

#[test]
fn with_sync_the_caller_gets_each_value_before_it_submits_the_next_and_no_callback_runs() {
    let run = run_json_of(
        "pool",
        &["--workers", "3", "--tasks", "8", "--sync", "--fail", "2"],
    );
    let events = &run.events;
    let main = events[0]["parent_pid"].as_i64().unwrap();
    let mut last_got = None;
    let mut done: HashMap<u64, &Value> = HashMap::new();
    for e in events {
        match e["kind"].as_str().unwrap() {
            "task_submit" => {
                let task = e["task"].as_u64().unwrap();
                assert_eq!(
                    last_got,
                    task.checked_sub(1),
                    "task {task} submitted before apply returned the previous"
                );
            }
            "task_done" => {
                done.insert(e["task"].as_u64().unwrap(), e);
            }
            "result_get" => {
                // What apply returned in the main process: the worker's
                // value, or the error it raised, after the worker reported it.
                assert_eq!(pid(e), main);
                let task = e["task"].as_u64().unwrap();
                let worker = done[&task];
                assert_eq!(e["ok"], worker["ok"], "{e}");
                assert_eq!(e["result"], worker["result"], "{e}");
                assert_eq!(e["error_type"], worker["error_type"], "{e}");
                last_got = Some(task);
            }
            _ => {}
        }
    }
    assert_eq!(last_got, Some(7));
    assert_eq!(of(events, "result_get").count(), 8);
    assert_eq!(of(events, "callback").count(), 0, "apply has no callback");
    assert_eq!(run.summary["ok"], 6);
    assert_eq!(run.summary["errors"], 2);
}

/// The position in the stream of the first event of `kind` about `task`.
fn position(events: &[Value], kind: &str, task: u64) -> usize {
    events
        .iter()
        .position(|e| e["kind"] == kind && e["task"] == task)
        .unwrap_or_else(|| panic!("no {kind} of task {task}"))
}

/// The slow task sleeps this long (`pool::SLOW_MS`), the wait lasts `timeout_ms`.
const SLOW_NS: u64 = mpviz::scenario::pool::SLOW_MS * 1_000_000;

#[test]
fn the_timed_wait_expires_while_the_slow_task_still_runs_paced_or_not() {
    for speed in ["max", "20"] {
        let run = run_json_of(
            "pool",
            &["--workers", "2", "--tasks", "6", "--speed", speed],
        );
        let events = &run.events;
        let waits: Vec<&Value> = of(events, "result_wait").collect();
        assert_eq!(waits.len(), 1);
        let wait = waits[0];
        assert_eq!(wait["task"], 0);
        // The wait counts only a result set before its deadline, and the
        // task's result comes SLOW_NS after its submit at the earliest.
        assert_eq!(wait["expired"], true, "at speed {speed}");
        let t = |e: &Value| e["t_ns"].as_u64().unwrap();
        let submit = &events[position(events, "task_submit", 0)];
        let done = &events[position(events, "task_done", 0)];
        // The wait began after the submit and lasted its timeout (one clock:
        // mpviz's main process stamps both).
        let timeout_ns = wait["timeout_ms"].as_u64().unwrap() * 1_000_000;
        assert!(position(events, "task_submit", 0) < position(events, "result_wait", 0));
        assert!(t(submit) + timeout_ns <= t(wait), "{submit} {wait}");
        // The task really was long: it slept after its submit.
        assert!(t(submit) + SLOW_NS <= t(done), "{submit} {done}");
        // And it finished only after the wait gave up.
        assert!(position(events, "result_wait", 0) < position(events, "task_done", 0));
    }
}

#[test]
fn close_comes_before_join_and_join_returns_once_every_worker_was_reaped() {
    let run = run_json_of("pool", &["--workers", "3", "--tasks", "30"]);
    let events = &run.events;
    let at = |kind: &str, call: Option<&str>| {
        events
            .iter()
            .position(|e| e["kind"] == kind && call.is_none_or(|c| e["call"] == c))
            .unwrap_or_else(|| panic!("no {kind} {call:?}"))
    };
    let (close, join, joined) = (
        at("pool_call", Some("close")),
        at("pool_call", Some("join")),
        at("pool_joined", None),
    );
    assert!(close < join && join < joined);
    // Every callback ran before join returned (join waits for the result handler).
    assert!(events
        .iter()
        .enumerate()
        .all(|(i, e)| e["kind"] != "callback" || i < joined));
    // join() waited on each worker's pidfd; it is reported after the fork
    // server's waitpid reported every worker's exit.
    let workers: HashSet<i64> = run.pids("worker").into_iter().collect();
    let exits: HashSet<i64> = events[..joined]
        .iter()
        .filter(|e| e["kind"] == "exit")
        .map(pid)
        .collect();
    assert!(workers.is_subset(&exits), "{workers:?} {exits:?}");
    let named: HashSet<i64> = events[joined]["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert_eq!(named, workers);
    assert_eq!(run.summary["joined"], true);
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
        assert_eq!(e["thread"], "mpviz-result-handler");
        let parsed = e["parsed"].as_str().unwrap();
        assert!(
            parsed.starts_with(&format!("Page {task}: {} links", task % 5)),
            "{parsed}"
        );
    }
}

#[test]
fn the_callbacks_thread_is_a_thread_of_mpviz_in_proc_while_the_run_goes_on() {
    // One worker paced at 2 actions a second: after the first callback the
    // worker still needs at least four permits (two more tasks, taken and
    // run) before its last result reaches the result handler, which lives
    // until then: two seconds in which to look at it.
    let mut run = LiveRun::start(&[
        "pool",
        "--json",
        "--workers",
        "1",
        "--tasks",
        "3",
        "--speed",
        "2",
    ]);
    let seen = run.read_until(|e| e["kind"] == "callback");
    let main = seen[0]["parent_pid"].as_i64().unwrap();
    let callback = seen.last().unwrap();
    assert_eq!(pid(callback), main);
    let tid = callback["tid"].as_i64().unwrap();
    assert_ne!(tid, main, "not the main thread");
    let comm = std::fs::read_to_string(format!("/proc/{main}/task/{tid}/comm"))
        .unwrap_or_else(|e| panic!("thread {tid} is not a thread of mpviz ({main}): {e}"));
    // The kernel keeps the first 15 bytes of a thread's name.
    assert_eq!(comm.trim_end(), &"mpviz-result-handler"[..15]);
    assert_eq!(callback["thread"], "mpviz-result-handler");
}

/// Runs `mpviz pool` under `ulimit -v kb` (a real limit on its address
/// space, set in the test's child), in a fresh temporary directory: its exit
/// code, what it said on stderr, and whether it left anything behind. Fails
/// the test if the run does not end.
fn pool_limited_to(kb: u64) -> (Option<i32>, String, bool) {
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -v \"$1\" && exec \"$0\" pool --json --workers 2 --tasks 4",
            BIN,
            &kb.to_string(),
        ])
        .env("TMPDIR", tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let watchdog = Watchdog::new(child.id());
    let output = child.wait_with_output().unwrap();
    assert!(!watchdog.fired(), "mpviz hung under ulimit -v {kb}");
    // mpviz removes its run's directory itself, except where it ends at
    // once (out of memory): then the keeper, which sees it end, does, a
    // moment later.
    let empty = |tmp: &std::path::Path| std::fs::read_dir(tmp).unwrap().next().is_none();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !empty(tmp.path()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let left = !empty(tmp.path());
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        left,
    )
}

#[test]
fn a_thread_that_cannot_start_ends_the_run_with_one_line_and_exit_1() {
    const POOL_THREADS: [&str; 3] = ["mpviz-caller", "mpviz-task-handler", "mpviz-result-handler"];
    // The largest limit under which the run fails (to the nearest 256 KiB).
    let (mut fails, mut works) = (4 * 1024, 4 * 1024 * 1024);
    assert_eq!(pool_limited_to(works).0, Some(0));
    while works - fails > 256 {
        let mid = (fails + works) / 2;
        match pool_limited_to(mid).0 {
            Some(0) => works = mid,
            _ => fails = mid,
        }
    }
    // From there down, limits that leave less and less room: the pool's own
    // threads start last, so they fail first, then the engine's. Each such
    // failure is one line and exit 1, with nothing left; none hangs.
    let mut pool_failures = Vec::new();
    let mut kb = works + 1024;
    loop {
        let (code, stderr, left) = pool_limited_to(kb);
        let thread = stderr
            .strip_prefix("mpviz: error: could not start the ")
            .and_then(|rest| rest.split_once(" thread"))
            .map(|(thread, _)| thread.to_string());
        match (code, thread) {
            (Some(0), _) => {}
            (_, Some(thread)) => {
                assert_eq!(code, Some(1), "ulimit -v {kb}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "ulimit -v {kb}: {stderr}");
                assert!(!left, "ulimit -v {kb} left its directory");
                if !POOL_THREADS.contains(&thread.as_str()) {
                    break;
                }
                pool_failures.push(thread);
            }
            // An allocation that fails is one line and exit 1 too.
            _ if stderr.contains("out of memory") || stderr.contains("memory allocation of") => {
                assert_eq!(code, Some(1), "ulimit -v {kb}: {stderr}");
                assert_ended_for_memory(&stderr, &format!("ulimit -v {kb}"));
                assert!(!left, "ulimit -v {kb} left its directory");
            }
            _ => panic!("ulimit -v {kb}: exit {code:?}: {stderr}"),
        }
        kb = kb.checked_sub(512).expect("no thread failed to start");
    }
    assert!(
        !pool_failures.is_empty(),
        "no limit made a pool thread fail to start"
    );
}
