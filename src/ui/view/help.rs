//! The help screen, drawn from the key table.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::Screen;
use crate::ui::keys::BINDINGS;
use crate::ui::theme::MARK;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let texts = &screen.scenario.spec().texts;
    let width = area.width.saturating_sub(4).min(76);
    let inner = usize::from(width.saturating_sub(2).max(1));
    // A key (or mark) right-aligned in a column of its own, its text beside
    // it; a text too long for one line goes on under itself, not under the
    // keys.
    const KEYS: usize = 17;
    let entry = |lines: &mut Vec<Line<'static>>, key: Span<'static>, text: String| {
        let rows = super::wrap_words(&text, inner.saturating_sub(KEYS).max(10));
        for (i, row) in rows.into_iter().enumerate() {
            let head = if i == 0 {
                key.clone()
            } else {
                Span::raw(" ".repeat(KEYS))
            };
            lines.push(Line::from(vec![head, Span::raw(row)]));
        }
    };
    let mut lines = Vec::new();
    for b in BINDINGS.iter().filter(|b| !b.keys.is_empty()) {
        // Right-aligned by display width.
        let key = Span::styled(
            format!(
                "{}{}  ",
                " ".repeat((KEYS - 2).saturating_sub(b.keys.width())),
                b.keys
            ),
            t.key(),
        );
        entry(&mut lines, key, texts.say(b.does, &[]));
    }
    lines.push(Line::raw(""));
    let mark = |m: &str, style| Span::styled(format!("{}{m}  ", " ".repeat(KEYS - 3)), style);
    entry(&mut lines, mark("S", t.key()), texts.say("help_state", &[]));
    entry(&mut lines, mark("⏸", t.key()), texts.say("help_gate", &[]));
    entry(
        &mut lines,
        mark(MARK, t.alarm()),
        texts.say("help_moment", &[]),
    );
    lines.push(Line::raw(""));
    let spec = screen.scenario.spec();
    lines.push(Line::styled(
        texts.say(
            "help_scenario",
            &[
                ("title", &spec.texts.say("title", &[])),
                ("tutorial", &spec.tutorial),
            ],
        ),
        t.title(),
    ));
    lines.push(Line::raw(screen.scenario.intro()));

    let lines = super::wrap_lines(&lines, inner as u16);
    let needed = lines.len();
    let height = (needed as u16 + 2).min(area.height);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(popup);
    // Scrolled no further than its last line.
    let last = (needed as u16).saturating_sub(height.saturating_sub(2));
    let scroll = screen.view.help_scroll.min(last);
    let title = texts.say(
        if last > 0 {
            "help_title_scroll"
        } else {
            "help_title"
        },
        &[],
    );
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(Span::styled(title, t.title()));
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll, 0)).block(block),
        popup,
    );
}
