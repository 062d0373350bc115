//! A file that grows line by line (the append race): each line as the parent
//! last read it, torn lines marked, and the start order beside the order of
//! the lines in the file.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{cut, pad, Screen};
use crate::scenario::FileLine;

/// Rows the panel wants for `lines`: the lines, the two orders (up to two
/// rows each) and borders.
pub fn height(lines: usize, available: u16) -> u16 {
    let wanted = lines as u16 + 7;
    wanted.clamp(9, (available * 3 / 5).max(9))
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    lines: &[FileLine],
    start_order: &[u32],
) {
    let t = screen.theme;
    let texts = &screen.scenario.spec().texts;
    let torn = lines.iter().filter(|l| !l.whole).count();
    let file = screen
        .scenario
        .watched_files()
        .into_iter()
        .next()
        .unwrap_or_default();
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(format!(" {file} "), t.title()),
        Span::styled(
            texts.say("lines_count", &[("n", &lines.len()), ("torn", &torn)]),
            if torn > 0 { t.bad() } else { t.label() },
        ),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The two orders, wrapped to at most two rows each (cut with an
    // ellipsis beyond), under the file's lines.
    let width = usize::from(inner.width);
    let order = |label: &str, order: &mut dyn Iterator<Item = u32>| {
        let numbers: Vec<String> = order.map(|n| n.to_string()).collect();
        let label = texts.say(label, &[]);
        let label = pad(&label, label.width().max(13));
        let numbers = cut(
            &numbers.join(" "),
            (2 * width).saturating_sub(label.width() + 1),
        );
        Line::from(vec![Span::styled(label, t.label()), Span::raw(numbers)])
    };
    let written: Vec<u32> = lines.iter().filter_map(|l| l.writer).collect();
    let orders = vec![
        order("lines_started", &mut start_order.iter().copied()),
        order("lines_in_file", &mut written.into_iter()),
    ];
    let orders_height: u16 = orders
        .iter()
        .map(|l| super::wrapped_height(l, inner.width))
        .sum();
    let [file_area, orders_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(orders_height)]).areas(inner);
    frame.render_widget(
        Paragraph::new(super::wrap_lines(&orders, orders_area.width)),
        orders_area,
    );
    let rows = file_area.height as usize;
    // Keep the newest lines in view: the file grows at the bottom.
    let skip = lines.len().saturating_sub(rows);
    let mut out: Vec<Line> = Vec::new();
    if lines.is_empty() {
        out.push(Line::styled(texts.say("lines_empty", &[]), t.dim()));
    }
    if skip > 0 {
        out.push(Line::styled(
            texts.say("lines_above", &[("n", &(skip + 1))]),
            t.dim(),
        ));
    }
    let from = if skip > 0 { skip + 1 } else { 0 };
    for (i, line) in lines.iter().enumerate().skip(from) {
        let mark = if line.whole {
            Span::raw("")
        } else {
            Span::styled(texts.say("lines_torn", &[]), t.bad())
        };
        let text_style = if line.whole { t.value() } else { t.bad() };
        out.push(Line::from(vec![
            Span::styled(format!("{:>4}  ", i + 1), t.dim()),
            Span::styled(format!("{:?}", line.text), text_style),
            mark,
        ]));
    }
    frame.render_widget(Paragraph::new(out), file_area);
}
