//! How fast `Model::apply` folds events (the goal: at least 1M events/s).
//!
//!     cargo bench --bench fold -- --warm-up-time 1 --measurement-time 3
//!
//! The streams are built before timing; each iteration folds a whole run
//! into a fresh model (dropping the model is not timed).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mpviz::model::Model;
use mpviz::protocol::Event;

#[path = "support/stream.rs"]
mod stream;

fn fold_all(events: &[Event]) -> Model {
    let mut model = Model::new();
    for event in events {
        model.apply(event);
    }
    model
}

fn fold(c: &mut Criterion) {
    let runs = [
        // One buyer after another; as many tickets as buyers, so that every
        // buyer reports all twelve events.
        ("sequential", stream::sequential(1000, 1000)),
        // All buyers queue for the lock first; 100 tickets.
        ("contended", stream::contended(1000, 100, 1000)),
        // The same at the scale compare.sh also runs: does the fold scale?
        ("contended", stream::contended(5000, 100, 5000)),
    ];
    let mut group = c.benchmark_group("fold");
    for (shape, events) in &runs {
        // The stream must describe a whole, consistent run.
        let model = fold_all(events);
        let buyers = model.procs.len();
        assert!(buyers >= 1000);
        assert_eq!(model.alive(), 0);
        assert_eq!(model.locks["tickets"].overlaps, 0);

        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(
            format!("{shape}, {buyers} buyers, {} events", events.len()),
            |b| b.iter_with_large_drop(|| fold_all(std::hint::black_box(events))),
        );
    }
    group.finish();
}

criterion_group!(benches, fold);
criterion_main!(benches);
