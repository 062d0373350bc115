//! The help screen, drawn from the key table.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::Screen;
use crate::ui::keys::BINDINGS;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let mut lines = Vec::new();
    for b in BINDINGS.iter().filter(|b| !b.keys.is_empty()) {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>15}  ", b.keys), t.key()),
            Span::raw(b.does),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        Span::styled("              S  ", t.key()),
        Span::raw("state in /proc: R running, S sleeping, D disk, Z zombie"),
    ]));
    lines.push(Line::from(vec![
        Span::styled("         ⏸ next  ", t.key()),
        Span::raw("held at the pacer's gate until it gets a permit"),
    ]));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(
            "{} (tutorial {})",
            screen.scenario.spec().title,
            screen.scenario.spec().tutorial
        ),
        t.title(),
    ));
    lines.push(Line::raw(screen.scenario.intro()));

    let width = area.width.saturating_sub(4).min(76);
    let height = (lines.len() as u16 + 4).min(area.height);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(Span::styled(" Keys — any key closes ", t.title()));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}
