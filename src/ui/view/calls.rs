//! The calls panel: the calls made on Process objects (start, join, is_alive,
//! terminate, ...) and what each returned, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::Screen;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let lines = m.calls.iter().rev().map(|c| {
        let who = m
            .proc(c.caller)
            .map_or_else(|| texts.say("word_unknown", &[]), |p| p.name.clone());
        let mut spans = vec![
            Span::styled(format!("{who}: "), t.label()),
            Span::styled(c.call.clone(), t.value()),
            Span::styled(" → ", t.dim()),
            Span::raw(c.result.to_string()),
        ];
        // What the call did beyond its value: the process it made, the
        // exit code its join reaped, a join that returned on its timeout.
        let note = match (c.exitcode, c.alive, c.target) {
            (Some(code), _, _) => texts.say("call_exit_code", &[("code", &code)]),
            (None, Some(true), _) => texts.say("call_still_running", &[]),
            (None, _, Some(pid)) if c.call.ends_with(".start()") => {
                texts.say("call_started", &[("pid", &pid)])
            }
            _ => String::new(),
        };
        spans.push(Span::styled(note, t.dim()));
        Line::from(spans)
    });
    let title = texts.say("panel_calls", &[("n", &m.calls.len())]);
    // The newest is always the bottom line.
    super::draw_newest(frame, area, Span::styled(title, t.title()), lines);
}
