//! Every action every scenario plays has its line in the tutorial's program:
//! each scenario, and each of its variants, runs paced (so that every action
//! waits at a gate and says what it is), and the fold places every process
//! that acts on a line of the program.

mod support;

use mpviz::model::Model;
use mpviz::protocol::Event;

/// Each scenario with small numbers, and each variant that gates other
/// actions or reaches other lines.
const RUNS: &[(&str, &[&str])] = &[
    ("race", &["--workers", "2", "--increments", "3"]),
    ("race", &["--workers", "2", "--increments", "3", "--lock"]),
    (
        "race",
        &["--workers", "2", "--increments", "3", "--threads"],
    ),
    ("lifecycle", &[]),
    ("lifecycle", &["--lock-kind", "flock", "--waiters", "3"]),
    (
        "ticket",
        &["--buyers", "4", "--tickets", "2", "--delay-ms", "5"],
    ),
    (
        "ticket",
        &[
            "--buyers",
            "4",
            "--tickets",
            "2",
            "--delay-ms",
            "5",
            "--no-lock",
        ],
    ),
    ("append", &["--writers", "3", "--chunks", "2"]),
    ("append", &["--writers", "3", "--lock"]),
    ("pool", &["--workers", "2", "--tasks", "4", "--fail", "2"]),
    ("pool", &["--workers", "2", "--tasks", "3", "--sync"]),
    ("pool", &["--workers", "2", "--tasks", "3", "--crawl"]),
    (
        "queue",
        &[
            "--producers",
            "2",
            "--consumers",
            "2",
            "--items",
            "4",
            "--maxsize",
            "2",
        ],
    ),
    (
        "queue",
        &[
            "--producers",
            "1",
            "--consumers",
            "2",
            "--items",
            "2",
            "--timeout-ms",
            "5",
        ],
    ),
    ("manager", &["--workers", "3"]),
];

#[test]
fn every_action_of_every_scenario_has_a_line_of_its_program() {
    for (scenario, options) in RUNS {
        // Paced from the start: every action waits at its gate and names
        // itself in a `ready`.
        let mut args = vec!["--speed", "2000"];
        args.extend_from_slice(options);
        let run = support::run_json_of(scenario, &args);
        let mut model = Model::new();
        let mut readies = 0;
        for value in &run.events {
            let event: Event = serde_json::from_value(value.clone()).unwrap();
            readies += usize::from(event.kind() == "ready");
            model.fold(event);
        }
        assert!(
            readies > 0,
            "{scenario} {options:?}: no action waited at a gate"
        );
        assert_eq!(
            model.code.unplaced, 0,
            "{scenario} {options:?}: actions with no line in scenarios/{scenario}.py \
             (see its [code] table): {:?}",
            model.code.unplaced_said
        );
        // (A process killed at its gate never runs the line it waited at:
        // fewer steps than gates is no fault.)
        assert!(
            model.code.steps > 0,
            "{scenario} {options:?}: no step ran a line"
        );
    }
}
