//! The output panel (`mpviz run`): what the program printed, line by line,
//! each with the process that printed it; standard error in the colour of
//! trouble. Newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::Screen;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let lines = m.output.iter().rev().map(|line| {
        let who = line
            .pid
            .and_then(|pid| m.proc(pid))
            .map_or_else(|| texts.say("word_unknown", &[]), |p| p.name.clone());
        let style = if line.stderr { t.bad() } else { t.value() };
        Line::from(vec![
            Span::styled(format!("{who}: "), t.label()),
            Span::styled(line.text.clone(), style),
        ])
    });
    let title = texts.say("panel_output", &[("n", &m.output.len())]);
    super::draw_newest(frame, area, Span::styled(title, t.title()), lines);
}
