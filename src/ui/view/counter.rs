//! The counter panel: a number in shared memory, what it should be, how many
//! increments were lost, and how the newest lost update happened (two reads
//! of the same value, two writes of the same value).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{pad, Screen};
use crate::protocol::Pid;
use crate::scenario::CounterView;

pub const HEIGHT: u16 = 9;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, c: &CounterView) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let say = |key: &str| texts.say(key, &[]);
    // Names only: the table beside gives their PIDs.
    let who = |pid: Pid| {
        m.proc(pid).map_or_else(
            || texts.say("who_unknown", &[("pid", &pid)]),
            |p| p.name.clone(),
        )
    };
    let lost = c.lost;
    let row = |label: &str, value: String, style| {
        Line::from(vec![
            Span::styled(pad(&say(label), 16), t.label()),
            Span::styled(value, style),
        ])
    };
    let mut lines = vec![
        row(
            "counter_in_memory",
            c.value
                .map_or_else(|| say("counter_not_read"), |v| v.to_string()),
            t.value(),
        ),
        row("counter_expected", c.expected.to_string(), t.value()),
        row("counter_written", c.writes.to_string(), t.value()),
        row(
            "counter_lost",
            lost.to_string(),
            if lost > 0 { t.bad() } else { t.good() },
        ),
    ];
    // The newest lost update's lines wrap rather than lose their numbers.
    let width = area.width.saturating_sub(2);
    match &m.files.last_lost {
        Some(l) => {
            let read = |v: Option<i64>| v.map_or_else(|| say("word_unknown"), |v| v.to_string());
            lines.push(Line::styled(say("counter_newest_lost"), t.label()));
            let (over, over_read) = (who(l.over), read(l.over_read));
            lines.extend(super::wrap_line(
                &Line::styled(
                    texts.say(
                        "counter_overwritten",
                        &[
                            ("who", &over),
                            ("read", &over_read),
                            ("wrote", &l.over_wrote),
                        ],
                    ),
                    t.value(),
                ),
                width,
            ));
            let (writer, writer_read) = (who(l.writer), read(l.read));
            lines.extend(super::wrap_line(
                &Line::styled(
                    texts.say(
                        "counter_lost_write",
                        &[
                            ("who", &writer),
                            ("read", &writer_read),
                            ("wrote", &l.wrote),
                        ],
                    ),
                    t.bad(),
                ),
                width,
            ));
        }
        None => lines.push(Line::styled(say("counter_none_lost"), t.dim())),
    }
    let block = Block::bordered().title(Span::styled(
        screen.scenario.spec().texts.say("panel_counter", &[]),
        t.title(),
    ));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
