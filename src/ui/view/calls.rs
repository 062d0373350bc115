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
        .map(|(caller, call, _, result)| {
            let who = m.proc(*caller).map_or("?", |p| p.name.as_str());
            Line::from(vec![
                Span::styled(format!("{who}: "), t.label()),
                Span::styled(call.clone(), t.value()),
                Span::styled(" → ", t.dim()),
                Span::raw(result.clone()),
            ])
        })
        .collect();
    let block = Block::bordered().title(Span::styled(
        format!(" Calls on Process objects {} ", m.calls.len()),
        t.title(),
    ));
    // One line a call, so that the newest is always the bottom line.
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
