//! `--predict` with no answer: the scenario's question, asked on the
//! dashboard before the run starts, and the answer as it is typed.

use ratatui::layout::{Constraint, Flex, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crate::scenario::texts::Texts;
use crate::ui::theme::Theme;

/// The question in a box in the middle of the screen, the answer typed so
/// far after a prompt, and the keys under it. `about` says the run the
/// question is about: the scenario and its options, as the header says
/// them.
pub fn draw(frame: &mut Frame, texts: &Texts, theme: Theme, about: &str, answer: &str) {
    let t = theme;
    let area = frame.area();
    let width = area.width.saturating_sub(4).clamp(10, 70);
    let lines = super::wrap_lines(
        &[
            Line::styled(about.to_string(), t.label()),
            Line::raw(""),
            Line::styled(texts.say("predict_question", &[]), t.title()),
            Line::raw(""),
            Line::from(vec![
                Span::styled("> ", t.key()),
                Span::styled(answer.to_string(), t.value()),
                Span::styled("_", t.key()),
            ]),
            Line::raw(""),
            Line::styled(texts.say("predict_keys", &[]), t.dim()),
        ],
        width.saturating_sub(2),
    );
    let height = (lines.len() as u16 + 2).min(area.height);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [boxed] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas::<1>(row);
    frame.render_widget(Clear, boxed);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(texts.say("predict_title", &[]))),
        boxed,
    );
}

/// The most an answer holds, in characters.
pub const LONGEST: usize = 40;

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use unicode_width::UnicodeWidthStr;

    use super::*;
    use crate::lang::Lang;

    fn screen(lang: Lang, width: u16, height: u16, answer: &str) -> String {
        let texts = crate::scenario::texts::scenario_texts("ticket", lang);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    &texts,
                    Theme { color: false },
                    "ticket: 3 buyers",
                    answer,
                )
            })
            .unwrap();
        let buffer = terminal.backend().buffer().clone();
        // A wide character's second cell is skipped.
        let mut rows = Vec::new();
        for y in 0..height {
            let (mut row, mut x) = (String::new(), 0);
            while x < width {
                let symbol = buffer[(x, y)].symbol();
                row.push_str(symbol);
                x += symbol.width().max(1) as u16;
            }
            rows.push(row);
        }
        rows.join("\n")
    }

    #[test]
    fn the_question_and_the_answer_typed_so_far_fit_80x24_in_both_languages() {
        let s = screen(Lang::EN, 80, 24, "42");
        assert!(s.contains("How many tickets will be sold?"), "{s}");
        assert!(s.contains("ticket: 3 buyers"), "{s}");
        assert!(s.contains("> 42_"), "{s}");
        assert!(s.contains("Enter"), "{s}");
        let s = screen(Lang::named("zh").unwrap(), 80, 24, "7");
        assert!(s.contains("会卖出多少张票"), "{s}");
        assert!(s.contains("> 7_"), "{s}");
    }
}
