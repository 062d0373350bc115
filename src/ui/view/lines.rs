//! A file that grows line by line (the append race): each line as the parent
//! last read it, torn lines marked, and the start order beside the order of
//! the lines in the file.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::Screen;
use crate::scenario::FileLine;

/// Rows the panel wants for `lines`: the lines, the two orders and borders.
pub fn height(lines: usize, available: u16) -> u16 {
    let wanted = lines as u16 + 5;
    wanted.clamp(7, (available * 3 / 5).max(7))
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    lines: &[FileLine],
    start_order: &[u32],
) {
    let t = screen.theme;
    let torn = lines.iter().filter(|l| !l.whole).count();
    let file = screen
        .scenario
        .watched_files()
        .into_iter()
        .next()
        .unwrap_or_default();
    let rows = area.height.saturating_sub(4) as usize;
    // Keep the newest lines in view: the file grows at the bottom.
    let skip = lines.len().saturating_sub(rows);
    let mut out: Vec<Line> = Vec::new();
    if lines.is_empty() {
        out.push(Line::styled("(empty)", t.dim()));
    }
    if skip > 0 {
        out.push(Line::styled(
            format!("     … {} lines above", skip + 1),
            t.dim(),
        ));
    }
    let from = if skip > 0 { skip + 1 } else { 0 };
    for (i, line) in lines.iter().enumerate().skip(from) {
        let mark = if line.whole {
            Span::raw("")
        } else {
            Span::styled("  ✗ torn", t.bad())
        };
        let text_style = if line.whole { t.value() } else { t.bad() };
        out.push(Line::from(vec![
            Span::styled(format!("{:>4}  ", i + 1), t.dim()),
            Span::styled(format!("{:?}", line.text), text_style),
            mark,
        ]));
    }
    let order = |label: &str, order: &mut dyn Iterator<Item = u32>| {
        let numbers: Vec<String> = order.map(|n| n.to_string()).collect();
        Line::from(vec![
            Span::styled(format!("{label:<13}"), t.label()),
            Span::raw(numbers.join(" ")),
        ])
    };
    let written: Vec<u32> = lines.iter().filter_map(|l| l.writer).collect();
    out.push(order("started:", &mut start_order.iter().copied()));
    out.push(order("in the file:", &mut written.into_iter()));
    let title = Line::from(vec![
        Span::styled(format!(" {file} "), t.title()),
        Span::styled(
            format!("{} lines, {torn} torn ", lines.len()),
            if torn > 0 { t.bad() } else { t.label() },
        ),
    ]);
    frame.render_widget(
        Paragraph::new(out).block(Block::bordered().title(title)),
        area,
    );
}
