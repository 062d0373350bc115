//! How fast `Model::apply` folds events (the goal: at least 1M events/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mpviz::model::Model;

#[path = "support/stream.rs"]
mod stream;

fn fold(c: &mut Criterion) {
    let events = stream::ticket_stream(1000, 1000);
    let mut group = c.benchmark_group("fold");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function(
        format!("ticket run, 1000 buyers, {} events", events.len()),
        |b| {
            b.iter(|| {
                let mut model = Model::new();
                for event in &events {
                    model.apply(event);
                }
                std::hint::black_box(model.actions)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, fold);
criterion_main!(benches);
