//! Time travel at a million events (the goals: a recording loads in at most
//! 2 s; any jump takes at most 50 ms).
//!
//!     cargo bench --bench history -- --warm-up-time 1 --measurement-time 3
//!
//! The recording is a real run, made once before timing: `mpviz race
//! --workers 4 --increments 125000 --json --record FILE` (1,000,034 events:
//! four workers reading and writing a shared counter at full speed).
//! *Load* is what `mpviz replay FILE` does before its first frame: read the
//! file, fold every event, keep it in the history (a checkpoint of the fold
//! every `History::EVERY` events) and in the timeline. *Jump* is the model
//! at an event as a step back or `[`, `]`, Home or End gets it: the nearest
//! checkpoint before it, cloned, with the events since folded on; the
//! positions are the farthest from a checkpoint there are.

use std::path::Path;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use mpviz::model::Model;
use mpviz::ui::history::{self, History};
use mpviz::ui::timeline::Timeline;

fn record(path: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_mpviz"))
        .args(["race", "--workers", "4", "--increments", "125000", "--json"])
        .arg("--record")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// What the dashboard does with a recording before its first frame.
fn load(path: &Path) -> (History, Timeline, Model) {
    let mut events = Vec::new();
    mpviz::record::read_with(path, |event, _| events.push(event)).unwrap();
    let mut model = Model::new();
    let mut history = History::new();
    let mut timeline = Timeline::new();
    for event in events {
        let moments: u32 = model.moments.values().sum();
        model.apply(&event);
        let notable = history::notable(&event, &model, moments);
        timeline.push(&event, history.len());
        history.push(event, &model, notable);
    }
    (history, timeline, model)
}

fn time_travel(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.jsonl");
    record(&path);
    let (history, _, end) = load(&path);
    // The recording the benchmark claims to load.
    assert!(history.len() >= 1_000_000, "{} events", history.len());
    assert!(end.ended);
    assert_eq!(end.actions, 1_000_000);

    let mut group = c.benchmark_group("history");
    group.sample_size(10);
    group.bench_function("load a 1,000,000-event recording", |b| {
        b.iter_with_large_drop(|| load(std::hint::black_box(&path)))
    });
    let every = History::EVERY;
    let farthest: Vec<usize> = (1..history.len() / every)
        .step_by(9)
        .map(|c| c * every - 1)
        .collect();
    group.sample_size(50);
    group.bench_function(
        "jump to an event of 1,000,000 (farthest from a checkpoint)",
        |b| {
            let mut at = farthest.iter().cycle();
            b.iter_with_large_drop(|| history.model_at(*at.next().unwrap()))
        },
    );
    group.finish();
}

criterion_group!(benches, time_travel);
criterion_main!(benches);
