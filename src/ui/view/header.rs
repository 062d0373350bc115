//! The two header lines: what runs, whether it moves, and its numbers.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Screen;
use crate::scenario::texts::format_speed;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let sep = || Span::styled(" │ ", t.dim());
    let status = if !m.errors.is_empty() {
        Span::styled("✖ stopped by an error", t.bad())
    } else if m.ended {
        Span::styled("■ finished", t.good())
    } else if m.pace.paused {
        Span::styled("⏸ PAUSED", t.paused())
    } else {
        Span::styled("▶ running", t.good())
    };
    let speed = m.pace.speed.map_or_else(|| "max".to_string(), format_speed);
    let elapsed = screen.view.elapsed;
    // The most useful first: a narrow terminal cuts the end of the line.
    let first = Line::from(vec![
        Span::styled(" mpviz ", t.title()),
        Span::styled(screen.scenario.name().to_string(), t.value()),
        sep(),
        status,
        sep(),
        Span::styled("speed ", t.label()),
        Span::styled(speed, t.value()),
        sep(),
        Span::styled(
            format!(
                "{}:{:04.1}",
                elapsed.as_secs() / 60,
                elapsed.as_secs_f64() % 60.0
            ),
            t.value(),
        ),
        sep(),
        Span::styled(screen.scenario.variant(), t.label()),
        sep(),
        Span::styled(format!("seed {}", m.seed), t.dim()),
    ]);
    let mut second = vec![Span::raw(" ")];
    for (i, (label, value)) in screen.scenario.headline(m).into_iter().enumerate() {
        if i > 0 {
            second.push(Span::styled(" · ", t.dim()));
        }
        second.push(Span::styled(format!("{label} "), t.label()));
        second.push(Span::styled(value, t.value()));
    }
    let children = m.procs.iter().filter(|p| p.role != "forkserver");
    let (total, alive) = children.fold((0, 0), |(n, a), p| (n + 1, a + usize::from(p.alive())));
    second.extend([
        sep(),
        Span::styled(format!("{alive}/{total} alive"), t.label()),
        Span::styled(" · ", t.dim()),
        Span::styled(format!("{} at the gate", m.waiting_at_gates()), t.label()),
        Span::styled(" · ", t.dim()),
        Span::styled(format!("{} actions", m.actions), t.label()),
    ]);
    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}
