//! How long one frame of the dashboard takes with 1000 processes (the goal:
//! under 2 ms).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mpviz::model::Model;
use mpviz::scenario::ticket::{Ticket, TicketParams};
use mpviz::ui::theme::Theme;
use mpviz::ui::view::{draw, Screen, ViewState};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

#[path = "support/stream.rs"]
mod stream;

fn frame(c: &mut Criterion) {
    let mut model = Model::new();
    for event in stream::ticket_stream(1000, 500) {
        model.apply(&event);
    }
    let scenario = Ticket::new(TicketParams {
        buyers: 1000,
        tickets: 100,
        lock: true,
        delay_ms: 0,
    })
    .expect("the ticket scenario file parses");
    let view = ViewState {
        selected: Some(10_700),
        elapsed: Duration::from_secs(42),
        ..ViewState::default()
    };
    let mut group = c.benchmark_group("draw");
    for (width, height) in [(80u16, 24u16), (200, 50)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
        group.bench_function(
            format!("one frame, 1000 processes, {width}x{height}"),
            |b| {
                b.iter(|| {
                    let screen = Screen {
                        model: &model,
                        view: &view,
                        scenario: &scenario,
                        theme: Theme { color: true },
                    };
                    terminal.draw(|f| draw(f, &screen)).expect("draw");
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
