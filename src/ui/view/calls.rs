//! The calls panel: the calls made on Process objects (start, join, is_alive,
//! terminate, ...) and what each returned, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::Screen;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let rows = area.height.saturating_sub(2) as usize;
    let start = m.calls.len().saturating_sub(rows);
    let lines: Vec<Line> = m.calls[start..]
        .iter()
        .map(|c| {
            let who = m.proc(c.caller).map_or("?", |p| p.name.as_str());
            let mut spans = vec![
                Span::styled(format!("{who}: "), t.label()),
                Span::styled(c.call.clone(), t.value()),
                Span::styled(" → ", t.dim()),
                Span::raw(c.result.to_string()),
            ];
            // What the call did beyond its value: the process it made, the
            // exit code its join reaped, a join that returned on its timeout.
            let note = match (c.exitcode, c.alive, c.target) {
                (Some(code), _, _) => format!(" (exit code {code})"),
                (None, Some(true), _) => " (still running)".into(),
                (None, _, Some(pid)) if c.call.ends_with(".start()") => format!(" (PID {pid})"),
                _ => String::new(),
            };
            spans.push(Span::styled(note, t.dim()));
            Line::from(spans)
        })
        .collect();
    let block = Block::bordered().title(Span::styled(
        format!(" Calls on Process objects {} ", m.calls.len()),
        t.title(),
    ));
    // One line a call, so that the newest is always the bottom line.
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
