//! The counter panel: a number in shared memory, what it should be, how many
//! increments were lost, and how the newest lost update happened (two reads
//! of the same value, two writes of the same value).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::Screen;
use crate::scenario::CounterView;

pub const HEIGHT: u16 = 8;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, c: &CounterView) {
    let t = screen.theme;
    let m = screen.model;
    // Names only: the table beside gives their PIDs.
    let who = |pid| {
        m.proc(pid)
            .map_or_else(|| format!("PID {pid}"), |p| p.name.clone())
    };
    let lost = c.lost;
    let row = |label: &str, value: String, style| {
        Line::from(vec![
            Span::styled(format!("{label:<16}"), t.label()),
            Span::styled(value, style),
        ])
    };
    let mut lines = vec![
        row(
            "in memory now",
            c.value
                .map_or_else(|| "not read yet".into(), |v| v.to_string()),
            t.value(),
        ),
        row("expected", c.expected.to_string(), t.value()),
        Line::from(vec![
            Span::styled(format!("{:<16}", "+1s written"), t.label()),
            Span::styled(c.writes.to_string(), t.value()),
            Span::styled("  lost ", t.label()),
            Span::styled(lost.to_string(), if lost > 0 { t.bad() } else { t.good() }),
        ]),
    ];
    match &m.files.last_lost {
        Some(l) => {
            let read = |v: Option<i64>| v.map_or_else(|| "?".into(), |v| v.to_string());
            lines.push(Line::styled("newest lost update:", t.label()));
            lines.push(Line::from(Span::styled(
                format!(
                    "  {} read {}, wrote {}",
                    who(l.over),
                    read(l.over_read),
                    l.over_wrote
                ),
                t.value(),
            )));
            lines.push(Line::from(Span::styled(
                format!(
                    "✗ {} read {}, wrote {}",
                    who(l.writer),
                    read(l.read),
                    l.wrote
                ),
                t.bad(),
            )));
        }
        None => lines.push(Line::styled("no update lost so far", t.dim())),
    }
    let block = Block::bordered().title(Span::styled(" Counter in shared memory ", t.title()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
