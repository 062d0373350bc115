//! The pacer seen from real paced runs: a lock holder's next action does not
//! queue behind every other process's "take the lock", and the same seed
//! repeats the picks.

mod support;

use serde_json::Value;
use support::{run_json, JsonRun};

/// For each lock holder: how many other processes went to wait for the lock
/// between its `lock_acquire` and its next action.
fn waits_before_each_holders_next_action(run: &JsonRun) -> Vec<usize> {
    let events = &run.events;
    let mut gaps = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e["kind"] != "lock_acquire" {
            continue;
        }
        let holder = &e["pid"];
        let next = events[i + 1..]
            .iter()
            .position(|f| {
                &f["pid"] == holder && !matches!(f["kind"].as_str(), Some("ready" | "state"))
            })
            .expect("the holder acts again");
        let between = &events[i + 1..i + 1 + next];
        gaps.push(between.iter().filter(|f| f["kind"] == "lock_wait").count());
    }
    gaps
}

#[test]
fn a_lock_holders_next_action_does_not_queue_behind_the_line() {
    let run = run_json(&[
        "--buyers",
        "30",
        "--tickets",
        "30",
        "--delay-ms",
        "0",
        "--speed",
        "50",
        "--seed",
        "5",
    ]);
    let gaps = waits_before_each_holders_next_action(&run);
    assert_eq!(gaps.len(), 30, "every buyer held the lock once");
    // Holders and the others take turns: at most one other process is let
    // through to the lock before the holder's next action.
    assert!(
        gaps.iter().all(|&g| g <= 1),
        "others let through first: {gaps:?}"
    );
}

/// What the processes did, in the stream's order, named by process name
/// (PIDs differ between runs): every action and its values, not the
/// parent's samples nor the `ready`s (which arrive as the OS schedules).
fn actions_by_name(run: &JsonRun) -> Vec<String> {
    let mut names = std::collections::HashMap::new();
    let mut actions = Vec::new();
    for e in &run.events {
        let kind = e["kind"].as_str().unwrap();
        if kind == "spawn" {
            names.insert(e["pid"].clone(), e["name"].as_str().unwrap().to_string());
            continue;
        }
        let Some(name) = names.get(&e["pid"]) else {
            continue;
        };
        if matches!(kind, "ready" | "grant" | "state" | "file" | "pace") {
            continue;
        }
        let mut fields = e.as_object().unwrap().clone();
        for key in ["t_ns", "pid", "kind"] {
            fields.remove(key);
        }
        actions.push(format!("{name} {kind} {}", Value::Object(fields)));
    }
    actions
}

#[test]
fn the_same_seed_repeats_the_picks_at_a_paced_speed() {
    for scenario in [
        &[
            "ticket",
            "--no-lock",
            "--buyers",
            "8",
            "--tickets",
            "5",
            "--delay-ms",
            "30",
        ][..],
        &["race", "--workers", "4", "--increments", "8"][..],
        &["race", "--threads", "--workers", "3", "--increments", "6"][..],
    ] {
        let args: Vec<&str> = scenario[1..]
            .iter()
            .copied()
            .chain(["--speed", "200", "--seed", "7"])
            .collect();
        let first = actions_by_name(&support::run_json_of(scenario[0], &args));
        let again = actions_by_name(&support::run_json_of(scenario[0], &args));
        assert!(first.len() > 20, "{first:?}");
        assert_eq!(first, again, "{scenario:?}: the same seed, other picks");
    }
}

/// A scenario's default speed, from its file.
fn default_speed(scenario: &str) -> f64 {
    let path = format!("{}/scenarios/{scenario}.toml", env!("CARGO_MANIFEST_DIR"));
    let spec: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let speed = &spec["defaults"]["speed"];
    speed
        .as_float()
        .or_else(|| speed.as_integer().map(|i| i as f64))
        .unwrap()
}

#[test]
fn a_default_run_lasts_long_enough_for_a_class_to_follow() {
    // Each permit is one `ready`; at the default speed the pacer grants one
    // every 1/speed seconds, so a default run takes at least this long.
    for scenario in ["ticket", "append", "pool", "queue", "manager", "race"] {
        let run = support::run_json_of(scenario, &["--speed", "5000", "--seed", "1"]);
        let permits = run.of_kind("ready").count() as f64;
        let seconds = permits / default_speed(scenario);
        assert!(
            seconds >= 20.0,
            "{scenario} at its default speed is over in {seconds:.1} s"
        );
    }
}
