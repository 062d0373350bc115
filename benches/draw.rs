//! How long one frame of the dashboard takes with 1000 processes, with the
//! code panel open and without it, and with the timeline (`t`) in the
//! table's place (the goal: under 2 ms).
//!
//!     cargo bench --bench draw -- --warm-up-time 1 --measurement-time 3
//!
//! The model is a ticket run halfway through: 500 buyers have exited, one
//! holds the lock, the others wait for it or are held at their gates.
//! With `MPVIZ_BENCH_SHOW=1` it prints each frame it times, once.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use mpviz::model::Model;
use mpviz::scenario::ticket::{Ticket, TicketParams};
use mpviz::scenario::Scenario;
use mpviz::ui::theme::Theme;
use mpviz::ui::timeline::Timeline;
use mpviz::ui::view::{draw, Screen, ViewState};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

#[path = "support/stream.rs"]
mod stream;

const BUYERS: u32 = 1000;

fn frame(c: &mut Criterion) {
    let mut model = Model::new();
    let mut timeline = Timeline::new();
    for (i, event) in stream::contended(BUYERS, 100, BUYERS / 2)
        .iter()
        .enumerate()
    {
        model.apply(event);
        timeline.push(event, i);
    }
    assert_eq!(timeline.lanes().len(), BUYERS as usize);
    // The scene the benchmark claims to draw.
    assert_eq!(model.procs.len(), BUYERS as usize);
    assert_eq!(model.alive(), BUYERS as usize / 2);
    assert_eq!(
        model.locks["tickets"].holder,
        Some(stream::buyer_pid(BUYERS / 2))
    );
    assert!(!model.locks["tickets"].waiters.is_empty());
    assert!(model.waiting_at_gates() > 1);
    // The code panel has processes to count at their lines.
    assert!(model.code.any());

    let scenario: Arc<dyn Scenario> = Arc::new(
        Ticket::new(TicketParams {
            buyers: BUYERS,
            tickets: 100,
            lock: true,
            delay_ms: 0,
        })
        .expect("the ticket scenario builds"),
    );
    let mut group = c.benchmark_group("draw");
    // At 200 columns the code panel is open unless `c` hid it; at 80, the
    // other way round.
    for (width, height, code, lanes) in [
        (200u16, 50u16, true, false),
        (80, 24, false, false),
        (80, 24, true, false),
        (200, 50, false, true),
        (80, 24, false, true),
    ] {
        let mut view = ViewState {
            // A buyer in the middle of the table, still waiting for the lock.
            selected: Some(stream::buyer_pid(700)),
            code: Some(code),
            ..ViewState::default()
        };
        view.timeline.shown = lanes;
        let code = match (lanes, code) {
            (true, _) => "timeline",
            (false, true) => "code panel",
            (false, false) => "table",
        };
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
        let screen = Screen {
            model: &model,
            view: &view,
            scenario: &*scenario,
            theme: Theme { color: true },
            timeline: Some(&timeline),
        };
        if std::env::var_os("MPVIZ_BENCH_SHOW").is_some() {
            terminal.draw(|f| draw(f, &screen)).expect("draw");
            for y in 0..height {
                let row: String = (0..width)
                    .map(|x| terminal.backend().buffer()[(x, y)].symbol())
                    .collect();
                println!("{row}");
            }
        }
        group.bench_function(
            format!("one frame, {BUYERS} processes, {width}x{height}, {code}"),
            |b| {
                b.iter(|| {
                    terminal
                        .draw(|f| draw(f, std::hint::black_box(&screen)))
                        .expect("draw");
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
