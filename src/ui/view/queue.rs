//! The queue panel: the real depth against maxsize, its recent history, who
//! is blocked on what, and the last `qsize()` a process read beside the real
//! depth now.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::Screen;
use crate::model::{BlockedOn, QueueState, SizeRead};
use crate::ui::theme::Theme;

pub const HEIGHT: u16 = 12;

/// The panel before anything about the queue has been reported.
pub fn draw_unseen(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let texts = &screen.scenario.spec().texts;
    let block = Block::bordered().title(Span::styled(texts.say("panel_queue", &[]), t.title()));
    frame.render_widget(
        Paragraph::new(Line::styled(texts.say("queue_unseen", &[]), t.dim())).block(block),
        area,
    );
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, name: &str, q: &QueueState) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let title = texts.say("panel_queue", &[]);
    // What the queue is, cut to what the border leaves.
    let room = usize::from(area.width.saturating_sub(2)).saturating_sub(title.width());
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(title, t.title()),
        Span::styled(
            super::cut(
                &texts.say("queue_maxsize", &[("maxsize", &q.maxsize), ("name", &name)]),
                room,
            ),
            t.label(),
        ),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, history, text] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Min(1),
    ])
    .areas(inner);

    frame.render_widget(
        Paragraph::new(depth_gauge(
            texts.say(
                "queue_gauge",
                &[("depth", &q.depth), ("maxsize", &q.maxsize)],
            ),
            q,
            gauge.width,
            t,
        )),
        gauge,
    );
    let data: Vec<u64> = q.history.iter().map(|&d| u64::from(d)).collect();
    let shown = &data[data.len().saturating_sub(history.width as usize)..];
    frame.render_widget(
        Sparkline::default()
            .data(shown)
            .max(u64::from(q.maxsize.max(1)))
            .style(t.label()),
        history,
    );

    let who = |pid: crate::protocol::Pid| {
        m.proc(pid).map_or_else(
            || texts.say("who_unknown", &[("pid", &pid)]),
            |p| p.name.clone(),
        )
    };
    let count = |label: &str, n: u64| {
        vec![
            Span::styled(format!("{} ", texts.say(label, &[])), t.label()),
            Span::styled(n.to_string(), t.value()),
        ]
    };
    let sep = || Span::styled(" · ", t.dim());
    let mut lines = vec![
        Line::from(
            [
                count("queue_put", q.puts),
                vec![sep()],
                count("queue_got", q.gets),
                vec![sep()],
                count("queue_max", u64::from(q.max_depth)),
            ]
            .concat(),
        ),
        Line::from(
            [
                count("queue_full", q.full_timeouts),
                vec![sep()],
                count("queue_empty", q.empty_timeouts),
            ]
            .concat(),
        ),
    ];
    if let Some(SizeRead { by: pid, value }) = q.last_qsize {
        let stale = if value == q.depth {
            t.label()
        } else {
            t.warn()
        };
        let asked = Span::styled(
            texts.say("queue_qsize", &[("who", &who(pid)), ("value", &value)]),
            t.label(),
        );
        let real = Span::styled(texts.say("queue_real", &[("depth", &q.depth)]), stale);
        lines.push(Line::from(vec![asked, real]));
    }
    if q.blocked.is_empty() {
        lines.push(Line::styled(
            texts.say("queue_nobody_blocked", &[("name", &name)]),
            t.dim(),
        ));
    }
    for BlockedOn { pid, op } in &q.blocked {
        let key = if op == "put" {
            "queue_blocked_put"
        } else {
            "queue_blocked_get"
        };
        lines.push(Line::from(vec![
            Span::styled(texts.say("queue_blocked", &[]), t.warn()),
            Span::raw(texts.say(key, &[("who", &who(*pid))])),
        ]));
    }
    frame.render_widget(Paragraph::new(super::wrap_lines(&lines, text.width)), text);
}

/// `label` (the depth against maxsize, in words), then a bar of the
/// queue's depth in the rest of `width`: the label beside the bar, not
/// printed over it; the bar in two glyphs, so that it reads without colour
/// too.
pub fn depth_gauge(label: String, q: &QueueState, width: u16, t: Theme) -> Line<'static> {
    let ratio = if q.maxsize == 0 {
        0.0
    } else {
        (f64::from(q.depth) / f64::from(q.maxsize)).clamp(0.0, 1.0)
    };
    let style = if q.maxsize > 0 && q.depth >= q.maxsize {
        t.bad()
    } else {
        t.good()
    };
    let room = usize::from(width).saturating_sub(label.width());
    let filled = (ratio * room as f64).round() as usize;
    Line::from(vec![
        Span::styled(label, t.value()),
        Span::styled("█".repeat(filled), style),
        Span::styled("░".repeat(room - filled), t.dim()),
    ])
}
