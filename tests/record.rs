//! `--record FILE` and `mpviz replay FILE`: a recording holds the header,
//! every event as `--json` printed it and the summary, written as the run
//! goes; replay gives them back, and refuses what it cannot trust.

mod support;

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use support::mpviz;

use support::run_to_end as run;

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(String::from)
        .collect()
}

/// Scenarios, small, as recorded.
const RUNS: &[&[&str]] = &[
    &[
        "ticket",
        "--no-lock",
        "--buyers",
        "6",
        "--tickets",
        "3",
        "--delay-ms",
        "5",
    ],
    &["race", "--workers", "3", "--increments", "4"],
    &["append", "--writers", "3"],
    &[
        "queue",
        "--producers",
        "2",
        "--consumers",
        "2",
        "--items",
        "6",
    ],
    &["pool", "--workers", "2", "--tasks", "4"],
    &["manager", "--workers", "3"],
    &["lifecycle"],
];

#[test]
fn a_recording_replays_as_json_exactly_as_the_run_printed_it() {
    let dir = tempfile::tempdir().unwrap();
    for args in RUNS {
        let file = dir.path().join(format!("{}.jsonl", args[0]));
        let file = file.to_str().unwrap();
        let mut all = args.to_vec();
        all.extend(["--json", "--record", file]);
        let live = run(&all);
        assert!(
            live.status.success(),
            "{all:?}: {}",
            String::from_utf8_lossy(&live.stderr)
        );
        let replayed = run(&["replay", file, "--json"]);
        assert!(replayed.status.success());
        assert_eq!(
            lines(&live.stdout),
            lines(&replayed.stdout),
            "{all:?}: the replay differs from the run"
        );
        // The header: format, scenario, the seed and parameters the start
        // event has, and a command line that repeats the run.
        let recorded = std::fs::read_to_string(file).unwrap();
        let header: Value = serde_json::from_str(recorded.lines().next().unwrap()).unwrap();
        let start: Value = serde_json::from_str(&lines(&live.stdout)[0]).unwrap();
        assert_eq!(header["kind"], "header");
        assert_eq!(header["format"], 1);
        assert_eq!(header["scenario"], args[0]);
        assert_eq!(header["seed"], start["seed"]);
        assert_eq!(header["params"], start["params"]);
        let repeat: Vec<&str> = header["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let seed = start["seed"].to_string();
        assert_eq!(repeat[..args.len()], args[..], "{repeat:?}");
        assert_eq!(repeat[args.len()..], ["--seed", seed.as_str()]);
        assert!(header["started"].as_str().unwrap().ends_with('Z'));
        // Header, events, summary: nothing else.
        assert_eq!(recorded.lines().count(), lines(&live.stdout).len() + 1);
    }
}

#[test]
fn a_headless_recording_replays_to_the_same_summary_line_in_each_language() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("race.jsonl");
    let file = file.to_str().unwrap();
    let live = run(&["race", "--headless", "--workers", "3", "--record", file]);
    assert!(live.status.success());
    let replayed = run(&["replay", file, "--headless"]);
    assert_eq!(
        lines(&live.stdout).last(),
        lines(&replayed.stdout).last(),
        "the replay's summary line is the run's"
    );
    let chinese = run(&["replay", file, "--headless", "--lang", "zh"]);
    assert!(String::from_utf8_lossy(&chinese.stdout).contains("种子"));
}

/// Refused in one line with exit code 2, naming what is wrong.
fn refused(args: &[&str], says: &str) {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr:?}");
    assert!(stderr.contains(says), "{args:?}: {says:?} in {stderr:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_recording_that_cannot_be_written_is_bad_input_and_nothing_starts() {
    refused(
        &["ticket", "--json", "--record", "/nonexistent/dir/run.jsonl"],
        "cannot write the recording /nonexistent/dir/run.jsonl",
    );
    refused(
        &[
            "ticket",
            "--json",
            "--lang",
            "zh",
            "--record",
            "/nonexistent/run.jsonl",
        ],
        "无法写入录制文件",
    );
}

#[test]
fn replay_refuses_what_it_cannot_trust_with_the_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path.to_str().unwrap().to_string()
    };
    let header = r#"{"kind":"header","format":1,"scenario":"ticket","args":["ticket","--buyers","2","--seed","1"]}"#;
    let spawn =
        r#"{"t_ns":5,"pid":11,"kind":"spawn","name":"buyer-0","role":"buyer","slot":0,"ppid":10}"#;
    let newer = write(
        "newer",
        r#"{"kind":"header","format":9,"scenario":"ticket"}"#,
    );
    refused(
        &["replay", &newer, "--json"],
        "format 9, newer than this mpviz reads (1)",
    );
    let not_json = write("bad", &format!("{header}\n{spawn}\n{{oops\n"));
    refused(&["replay", &not_json, "--json"], "line 3 is not JSON");
    let unknown = write(
        "unknown",
        &format!("{header}\n{{\"t_ns\":1,\"kind\":\"teleport\"}}\n"),
    );
    refused(
        &["replay", &unknown, "--json"],
        "line 2 is not an event this mpviz knows",
    );
    let no_header = write("none", &format!("{spawn}\n"));
    refused(&["replay", &no_header, "--json"], "is not a recording");
    refused(
        &["replay", "/nonexistent.jsonl", "--json"],
        "cannot read the recording",
    );
    // A last line cut short (a run killed as it wrote): what is whole is
    // replayed, and that is said.
    let cut = write("cut", &format!("{header}\n{spawn}\n{{\"t_ns\":7,\"pi"));
    let out = run(&["replay", &cut, "--json"]);
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout), [spawn]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut short"));
    // A header's command line never makes a file: replay writes nothing.
    let target = dir.path().join("must-not-exist.jsonl");
    let header_with_record = format!(
        r#"{{"kind":"header","format":1,"scenario":"ticket","args":["ticket","--buyers","2","--record","{}","--seed","1"]}}"#,
        target.display()
    );
    let sneaky = write("sneaky", &format!("{header_with_record}\n{spawn}\n"));
    let out = run(&["replay", &sneaky, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists(), "replay made the header's --record file");
    // The dashboard's replay needs a terminal, as the dashboard does.
    refused(&["replay", &cut], "the dashboard needs a terminal");
}

#[test]
fn a_recorded_run_killed_at_any_moment_leaves_every_whole_line_readable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("killed.jsonl");
    let file = file.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Paced, so that it is still running when it is killed.
    let mut child = mpviz(
        tmp.path(),
        &[
            "ticket", "--json", "--buyers", "20", "--speed", "200", "--record", file,
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // It records as it goes: wait until the file holds some events.
    support::wait_until("twenty lines recorded", || {
        std::fs::read_to_string(file).is_ok_and(|text| text.lines().count() > 20)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    support::wait_until_nothing_left("the killed run's processes", tmp.path());
    let replayed = run(&["replay", file, "--json"]);
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let events = lines(&replayed.stdout);
    assert!(events.len() >= 20, "{events:?}");
    for event in &events {
        let value: Value = serde_json::from_str(event).unwrap();
        assert_ne!(value["kind"], "summary", "killed before its summary");
    }
}

#[test]
fn a_paced_recording_holds_the_order_of_the_permits_by_slot_and_number() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("paced.jsonl");
    let file = file.to_str().unwrap();
    let args = [
        "ticket",
        "--no-lock",
        "--buyers",
        "4",
        "--tickets",
        "2",
        "--delay-ms",
        "5",
        "--speed",
        "2000",
        "--json",
        "--record",
        file,
    ];
    let live = run(&args);
    assert!(live.status.success());
    let events: Vec<Value> = lines(&live.stdout)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let slot_of = |pid: &Value| {
        events
            .iter()
            .find(|e| e["kind"] == "spawn" && &e["pid"] == pid)
            .map(|e| e["slot"].as_u64().unwrap())
            .unwrap()
    };
    // Each slot's permits, numbered 1, 2, 3... in order; one for each of
    // its gates (a buyer is never killed at its gate).
    let mut permits: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for grant in events.iter().filter(|e| e["kind"] == "grant") {
        assert_eq!(grant["slot"].as_u64().unwrap(), slot_of(&grant["pid"]));
        permits
            .entry(grant["slot"].as_u64().unwrap())
            .or_default()
            .push(grant["permit"].as_u64().unwrap());
    }
    let readies = events.iter().filter(|e| e["kind"] == "ready").count();
    assert_eq!(permits.values().map(Vec::len).sum::<usize>(), readies);
    for numbers in permits.values() {
        assert_eq!(*numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
    }
    // The recording holds them as --json printed them.
    let recorded = std::fs::read_to_string(file).unwrap();
    let grants = |text: &str| {
        text.lines()
            .filter(|l| l.contains("\"kind\":\"grant\""))
            .count()
    };
    assert_eq!(grants(&recorded), readies);
    // At full speed no gate is closed: no permit is granted.
    let free = run(&["ticket", "--buyers", "4", "--json"]);
    assert_eq!(grants(&String::from_utf8_lossy(&free.stdout)), 0);
}
