//! `mpviz rerun FILE`: a recorded run again on new processes, its pacer
//! granting the permits in the recorded order. A paced run and a run
//! stepped by hand (in any order, by `n` or one process at a time) happen
//! again exactly: each slot does the same actions with the same values, the
//! summary is the same, the PIDs are new. Where the rerun cannot follow
//! (the recording says something that does not happen), it says where and
//! finishes as a normal run.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Output;

use mpviz::engine::{PacerCmd, Run};
use mpviz::model::Model;
use mpviz::protocol::{Body, Event, Pid};
use serde_json::{Map, Value};
use support::{engine_run, run_to_end, PATIENCE};

/// The events of a `--json` output or a recording, parsed (a recording's
/// header left out).
fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] != "header")
        .collect()
}

/// What a run did, told apart from its PIDs and its timing: each slot's
/// actions and reports in order (the process in gate slot N of one run is
/// the process in slot N of another), and the summary without its times.
#[derive(Debug, PartialEq)]
struct Story {
    slots: BTreeMap<u64, Vec<Value>>,
    summary: Value,
}

/// Kinds that say nothing of what a process did (the parent's readings,
/// the pacer) or that name PIDs.
const NOT_THE_STORY: &[&str] = &[
    "start",
    "spawn",
    "state",
    "file",
    "queue_depth",
    "pace",
    "grant",
    "rerun",
    "diverged",
    "end",
    "summary",
];

fn story(events: &[Value]) -> Story {
    let slot_of: HashMap<i64, u64> = events
        .iter()
        .filter(|e| e["kind"] == "spawn")
        .map(|e| (e["pid"].as_i64().unwrap(), e["slot"].as_u64().unwrap()))
        .collect();
    let mut slots: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for e in events {
        let kind = e["kind"].as_str().unwrap();
        let Some(&slot) = e["pid"].as_i64().and_then(|p| slot_of.get(&p)) else {
            continue;
        };
        if NOT_THE_STORY.contains(&kind) {
            continue;
        }
        let mut told = e.as_object().unwrap().clone();
        told.remove("t_ns");
        told.remove("pid");
        slots.entry(slot).or_default().push(Value::Object(told));
    }
    let mut summary = events
        .iter()
        .find(|e| e["kind"] == "summary")
        .cloned()
        .expect("a summary line");
    for field in ["t_ns", "wall_ms"] {
        summary.as_object_mut().unwrap().remove(field);
    }
    Story { slots, summary }
}

fn pids(events: &[Value]) -> HashSet<i64> {
    events
        .iter()
        .filter(|e| e["kind"] == "spawn")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Reruns `recording` with `--json` at full speed (each step as soon as the
/// last is done) and checks it tells the recording's story on new PIDs,
/// following every step of the plan.
fn assert_rerun_repeats(recording: &Path, what: &str) {
    let recorded = lines(&std::fs::read_to_string(recording).unwrap());
    let path = recording.to_str().unwrap();
    let rerun = lines(&ok(
        &run_to_end(&["rerun", path, "--json", "--speed", "max"]),
        what,
    ));
    let diverged: Vec<&Value> = rerun.iter().filter(|e| e["kind"] == "diverged").collect();
    assert!(
        diverged.is_empty(),
        "{what}: the rerun left its plan: {diverged:?}"
    );
    let plan = rerun.iter().find(|e| e["kind"] == "rerun").unwrap();
    let grants = |events: &[Value]| events.iter().filter(|e| e["kind"] == "grant").count();
    assert_eq!(
        plan["steps"],
        grants(&recorded),
        "{what}: the plan is the recorded grants"
    );
    assert!(
        plan["inexact"].as_array().unwrap().is_empty(),
        "{what}: {plan}"
    );
    let (before, again) = (story(&recorded), story(&rerun));
    for (slot, told) in &before.slots {
        assert_eq!(
            Some(told),
            again.slots.get(slot),
            "{what}: slot {slot} did something else in the rerun"
        );
    }
    assert_eq!(before, again, "{what}");
    assert!(
        pids(&recorded).is_disjoint(&pids(&rerun)),
        "{what}: the rerun's processes are new ones"
    );
}

/// Records `args` paced at 2000 actions a second, then reruns it.
fn paced(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.jsonl");
    let mut all = args.to_vec();
    all.extend([
        "--speed",
        "2000",
        "--json",
        "--record",
        file.to_str().unwrap(),
    ]);
    ok(&run_to_end(&all), "the recorded run");
    assert_rerun_repeats(&file, &format!("{args:?} paced"));
}

#[test]
fn a_paced_ticket_grab_without_the_lock_happens_again_on_new_processes() {
    paced(&[
        "ticket",
        "--no-lock",
        "--buyers",
        "8",
        "--tickets",
        "3",
        "--delay-ms",
        "20",
    ]);
}

#[test]
fn a_paced_race_happens_again_on_new_processes() {
    paced(&["race", "--workers", "3", "--increments", "6"]);
}

#[test]
fn a_paced_append_race_happens_again_on_new_processes() {
    paced(&["append", "--writers", "4", "--chunks", "2"]);
}

#[test]
fn a_paced_queue_with_blocked_producers_and_consumers_happens_again() {
    // A queue of one: puts and gets block, and each get wakes one of the
    // blocked producers (the first to fall asleep, as the kernel does).
    paced(&[
        "queue",
        "--maxsize",
        "1",
        "--producers",
        "3",
        "--consumers",
        "2",
    ]);
}

/// The slots a run's processes stand at a gate in, waiting for a permit,
/// by PID: a `ready` with no grant after it.
fn at_gates(events: &[Event]) -> Vec<Pid> {
    let mut waiting: Vec<Pid> = Vec::new();
    for e in events {
        match (&e.body, e.pid) {
            (Body::Ready { .. }, Some(p)) => waiting.push(p),
            (Body::Grant { .. } | Body::Exit { .. }, Some(p)) => waiting.retain(|&w| w != p),
            _ => {}
        }
    }
    waiting
}

fn read_more(run: &Run, events: &mut Vec<Event>) {
    let batch = run
        .events()
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("the run stopped telling; read {events:?}"));
    events.extend(batch);
}

/// Steps `args` by hand, started paused: each step either `n` (the pacer's
/// pick) or one process chosen among those at a gate, as a teacher pressing
/// n and Enter would, the next key as soon as the last step's permit is
/// given (the pacer, not the teacher, waits for its action to be done);
/// records the run to `file` as `--record` does.
fn step_by_hand(args: &[&str], file: &Path, seed: u64) {
    let mut words: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    words.extend(["--seed".into(), seed.to_string()]);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut json = refs.clone();
    json.push("--json");
    let launch = mpviz::app::launch_from_args(&json).unwrap();
    let header = mpviz::record::header(
        args[0],
        launch.scenario.params(),
        seed,
        launch.options.speed.per_second(),
        true,
        &words,
    );
    let recorder = mpviz::record::Recorder::create(file, &header).unwrap();
    let mut run = engine_run(&refs, true);
    let mut events: Vec<Event> = Vec::new();
    let mut pick = fastrand::Rng::with_seed(seed);
    let mut hand = 0;
    while !events.iter().any(|e| e.kind() == "end") {
        let waiting = at_gates(&events);
        if waiting.is_empty() {
            read_more(&run, &mut events);
            continue;
        }
        let from = events.len();
        if pick.bool() {
            run.pace(PacerCmd::Step);
        } else {
            hand += 1;
            run.pace(PacerCmd::StepPid(waiting[pick.usize(..waiting.len())]));
        }
        while !events[from..]
            .iter()
            .any(|e| e.kind() == "grant" || e.kind() == "end")
        {
            read_more(&run, &mut events);
        }
    }
    run.stop();
    assert!(hand > 3, "some steps were of a chosen process");
    let mut model = Model::new();
    for e in &events {
        model.apply(e);
    }
    recorder.events(&events);
    let summary: Map<String, Value> = mpviz::headless::summary_line(&launch, &model, 0);
    recorder.summary(&summary);
    recorder.close().unwrap();
}

fn hand_stepped(args: &[&str], seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("by-hand.jsonl");
    step_by_hand(args, &file, seed);
    assert_rerun_repeats(&file, &format!("{args:?} stepped by hand"));
}

#[test]
fn a_ticket_grab_without_the_lock_stepped_by_hand_happens_again() {
    hand_stepped(
        &[
            "ticket",
            "--no-lock",
            "--buyers",
            "5",
            "--tickets",
            "2",
            "--delay-ms",
            "10",
        ],
        3,
    );
}

#[test]
fn a_race_stepped_by_hand_happens_again() {
    hand_stepped(&["race", "--workers", "3", "--increments", "4"], 5);
}

#[test]
fn an_append_race_stepped_by_hand_happens_again() {
    hand_stepped(&["append", "--writers", "3", "--chunks", "2"], 7);
}

#[test]
fn a_queue_stepped_by_hand_happens_again() {
    hand_stepped(
        &[
            "queue",
            "--maxsize",
            "1",
            "--producers",
            "2",
            "--consumers",
            "2",
            "--items",
            "8",
        ],
        11,
    );
}

/// The recorded events of a `--json` run or a recording, as the engine's
/// events.
fn events_of(values: &[Value]) -> Vec<Event> {
    values
        .iter()
        .filter(|v| v["kind"] != "summary")
        .map(|v| Event::from_json(&v.to_string()).unwrap())
        .collect()
}

#[test]
fn a_run_recorded_at_full_speed_is_rerun_in_the_order_its_actions_were_recorded_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("max.jsonl");
    let path = file.to_str().unwrap();
    let args = [
        "ticket",
        "--no-lock",
        "--buyers",
        "6",
        "--tickets",
        "3",
        "--delay-ms",
        "5",
    ];
    let mut all = args.to_vec();
    all.extend(["--headless", "--record", path]);
    ok(&run_to_end(&all), "the recorded run");
    let recorded = lines(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(recorded.iter().filter(|e| e["kind"] == "grant").count(), 0);
    // Every action the recording holds is a step, none of them exact.
    let mut model = Model::new();
    for e in events_of(&recorded) {
        model.apply(&e);
    }
    let actions = model.actions;
    assert!(actions > 10);
    let rerun = lines(&ok(&run_to_end(&["rerun", path, "--json"]), "the rerun"));
    let plan = rerun.iter().find(|e| e["kind"] == "rerun").unwrap();
    assert_eq!(plan["steps"], actions);
    assert_eq!(plan["inexact"], serde_json::json!([[1, actions]]));
    let headless = ok(&run_to_end(&["rerun", path, "--headless"]), "the rerun");
    assert!(
        headless.contains(&format!("steps 1–{actions} were recorded at full speed")),
        "{headless}"
    );
}

#[test]
fn a_rerun_that_cannot_follow_its_recording_says_at_which_step_and_finishes_as_a_normal_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("race.jsonl");
    let path = file.to_str().unwrap();
    let args = [
        "race",
        "--workers",
        "2",
        "--increments",
        "4",
        "--speed",
        "2000",
    ];
    let mut all = args.to_vec();
    all.extend(["--json", "--record", path]);
    ok(&run_to_end(&all), "the recorded run");
    // The recording is changed: the process granted the fourth permit that
    // writes waited, it says, to write another number.
    let mut recorded: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut step = 0;
    let mut changed = None;
    let mut last_ready: HashMap<i64, usize> = HashMap::new();
    for i in 0..recorded.len() {
        match recorded[i]["kind"].as_str() {
            Some("ready") => {
                last_ready.insert(recorded[i]["pid"].as_i64().unwrap(), i);
            }
            Some("grant") => {
                step += 1;
                let ready = last_ready[&recorded[i]["pid"].as_i64().unwrap()];
                if recorded[ready]["action"] == "write" && step > 3 && changed.is_none() {
                    recorded[ready]["args"]["value"] = serde_json::json!(12345);
                    changed = Some((step, recorded[i]["slot"].clone()));
                }
            }
            _ => {}
        }
    }
    let (step, slot) = changed.expect("a write to change");
    let text: Vec<String> = recorded.iter().map(Value::to_string).collect();
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    let rerun = lines(&ok(&run_to_end(&["rerun", path, "--json"]), "the rerun"));
    let left: Vec<&Value> = rerun.iter().filter(|e| e["kind"] == "diverged").collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["step"], step);
    assert_eq!(left[0]["slot"], slot);
    assert_eq!(left[0]["why"], "other_action");
    assert_eq!(left[0]["expected"]["args"]["value"], 12345);
    assert_eq!(left[0]["found"]["action"], "write");
    // It went on and finished: every worker did all its increments.
    let summary = rerun.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    assert_eq!(summary["exit_codes"], serde_json::json!({"0": 2}));
    let headless = ok(&run_to_end(&["rerun", path, "--headless"]), "the rerun");
    assert!(
        headless.contains(&format!("left the recording at step {step} of")),
        "{headless}"
    );
}

#[test]
fn a_rerun_records_itself_as_a_run_of_its_scenario_that_reruns_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    let again = dir.path().join("again.jsonl");
    let args = [
        "append",
        "--writers",
        "3",
        "--chunks",
        "2",
        "--speed",
        "2000",
        "--json",
    ];
    let mut all = args.to_vec();
    all.extend(["--record", first.to_str().unwrap()]);
    ok(&run_to_end(&all), "the recorded run");
    ok(
        &run_to_end(&[
            "rerun",
            first.to_str().unwrap(),
            "--headless",
            "--speed",
            "max",
            "--record",
            again.to_str().unwrap(),
        ]),
        "the rerun",
    );
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(&again)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let words = header["args"].as_array().unwrap();
    assert_eq!(words[0], "append", "{header}");
    assert!(
        !words.iter().any(|w| w == "--record" || w == "rerun"),
        "{header}"
    );
    assert_rerun_repeats(&again, "a rerun's own recording");
    // And it tells the same story as the first.
    let told = |f: &Path| story(&lines(&std::fs::read_to_string(f).unwrap()));
    assert_eq!(told(&first), told(&again));
}

#[test]
fn rerun_refuses_a_missing_file_and_a_header_that_makes_no_run_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.jsonl");
    let out = run_to_end(&["rerun", missing.to_str().unwrap(), "--headless"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"kind\":\"header\",\"format\":1,\"scenario\":\"ticket\",\"args\":[\"ticket\",\"--buyers\",\"lots\"]}\n",
    )
    .unwrap();
    let out = run_to_end(&["rerun", bad.to_str().unwrap(), "--headless"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("bad.jsonl"), "{said}");
}

#[test]
fn a_paced_manager_run_whose_actions_name_pids_is_followed_to_its_end() {
    // Each worker writes d[os.getpid()]: its action names its PID, which a
    // rerun's process cannot have. The plan leaves such values out.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manager.jsonl");
    let path = file.to_str().unwrap();
    let args = [
        "manager",
        "--workers",
        "3",
        "--speed",
        "2000",
        "--json",
        "--record",
        path,
    ];
    let recorded = lines(&ok(&run_to_end(&args), "the recorded run"));
    let rerun = lines(&ok(
        &run_to_end(&["rerun", path, "--json", "--speed", "max"]),
        "the rerun",
    ));
    // No step is refused for naming another PID. (The server takes the
    // requests in the order they reach its socket, which the kernel, not
    // the pacer, decides: on a loaded machine a rerun may leave its plan
    // there, and says so.)
    let left: Vec<&Value> = rerun.iter().filter(|e| e["kind"] == "diverged").collect();
    assert!(left.iter().all(|e| e["why"] != "other_action"), "{left:?}");
    let asks = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["kind"] == "ready" && e["action"] == "ask_manager")
            .count()
    };
    assert!(asks(&recorded) >= 6, "each worker asks the manager twice");
    assert_eq!(
        rerun.last().unwrap()["kind"],
        "summary",
        "it ran to its end"
    );
    if left.is_empty() {
        let grants = |events: &[Value]| events.iter().filter(|e| e["kind"] == "grant").count();
        assert_eq!(grants(&rerun), grants(&recorded));
    }
}

#[test]
fn a_rerun_goes_at_the_recordings_speed_and_past_a_recording_cut_short_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket.jsonl");
    let path = file.to_str().unwrap();
    let args = [
        "ticket",
        "--no-lock",
        "--buyers",
        "4",
        "--tickets",
        "2",
        "--delay-ms",
        "5",
    ];
    let mut all = args.to_vec();
    all.extend(["--speed", "500", "--json", "--record", path]);
    ok(&run_to_end(&all), "the recorded run");
    // The recording cut short after its fifth grant, as if its run had
    // been stopped there (a summary would say where it stopped).
    let text = std::fs::read_to_string(&file).unwrap();
    let mut kept = Vec::new();
    let mut grants = 0;
    for line in text.lines() {
        if line.contains("\"kind\":\"grant\"") {
            grants += 1;
            if grants > 5 {
                break;
            }
        }
        kept.push(line);
    }
    std::fs::write(&file, kept.join("\n") + "\n").unwrap();
    let headless = ok(&run_to_end(&["rerun", path, "--headless"]), "the rerun");
    // The recording's pace, not the headless default (max).
    assert!(headless.contains("speed 500/s"), "{headless}");
    assert!(
        headless.contains("all 5 steps of the recording granted; the recording ends there"),
        "{headless}"
    );
    let rerun = lines(&ok(&run_to_end(&["rerun", path, "--json"]), "the rerun"));
    let left: Vec<&Value> = rerun.iter().filter(|e| e["kind"] == "diverged").collect();
    assert!(
        matches!(&left[..], [e] if e["why"] == "ended" && e["step"] == 6),
        "{left:?}"
    );
    assert_eq!(
        rerun.last().unwrap()["kind"],
        "summary",
        "it ran to its end"
    );
}
