//! The code panel: the tutorial's program the scenario plays, with, beside
//! each line, how many processes stand there now; the selected process's
//! line marked `▶`, and the line the last step ran highlighted.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use unicode_width::UnicodeWidthChar;

use super::{cut, Screen};
use crate::code::comment_at;

/// The gutter: a count of four columns, a space, the mark, the line number
/// of three, a space.
const COUNT: usize = 4;
const NUMBER: usize = 3;
const GUTTER: usize = COUNT + 1 + 1 + NUMBER + 1;

/// Below this many columns of code, each level of indentation is drawn two
/// columns wide instead of four, so that the code keeps its room.
const NARROW: usize = 56;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let spec = screen.scenario.spec();
    let texts = &spec.texts;
    let listing = spec.listing;
    let counts = m.code.counts(listing.len());
    let selected = screen.view.selected;
    let selected_line = selected.and_then(|pid| m.code.get(pid)).map(|p| p.line);
    let last = m.code.last;
    let rows = usize::from(area.height.saturating_sub(2));
    let width = usize::from(area.width.saturating_sub(2));

    // The line to keep in view: the selected process's, else the last
    // step's, else the first where someone stands. The window moves only
    // when that line would leave its middle.
    let focus = selected_line
        .or(last.map(|(_, line)| line))
        .map(|l| l as usize)
        .or_else(|| counts.iter().position(|&n| n > 0));
    let most = listing.len().saturating_sub(rows);
    let mut top = screen.view.code_top.get().min(most);
    if let Some(focus) = focus {
        let margin = rows / 4;
        if focus < top + margin {
            top = focus.saturating_sub(margin);
        } else if focus + margin >= top + rows {
            top = (focus + margin + 1).saturating_sub(rows).min(most);
        }
    }
    screen.view.code_top.set(top);

    let code_width = width.saturating_sub(GUTTER);
    let narrow = code_width < NARROW;
    let lines: Vec<Line> = listing
        .iter()
        .enumerate()
        .skip(top)
        .take(rows)
        .map(|(n, text)| {
            let count = counts.get(n).copied().unwrap_or(0);
            let count = if count == 0 {
                " ".repeat(COUNT)
            } else {
                format!("{count:>COUNT$}")
            };
            let here = selected_line == Some(n as u32);
            let ran = last.is_some_and(|(_, line)| line as usize == n);
            let mark = if here {
                Span::styled("▶", t.selected())
            } else {
                Span::raw(" ")
            };
            let number = format!("{:>NUMBER$} ", n + 1);
            let mut spans = vec![
                Span::styled(count, t.value()),
                Span::raw(" "),
                mark,
                Span::styled(number, if here { t.selected() } else { t.dim() }),
            ];
            let shown = cut_code(&indented(text, narrow), code_width);
            let (code, comment) = match comment_at(&shown) {
                Some(at) => shown.split_at(at),
                None => (shown.as_str(), ""),
            };
            if ran {
                spans.push(Span::styled(code.to_string(), t.step()));
                spans.push(Span::styled(comment.to_string(), t.step()));
                // The whole width, so that the highlight reads as a bar.
                let fill = code_width.saturating_sub(shown.width());
                spans.push(Span::styled(" ".repeat(fill), t.step()));
            } else {
                spans.push(Span::raw(code.to_string()));
                spans.push(Span::styled(comment.to_string(), t.comment()));
            }
            Line::from(spans)
        })
        .collect();

    let title = texts.say("panel_code", &[("file", &spec.code.file)]);
    let mut block = Block::bordered().title(Span::styled(title, t.title()));
    // Under the code: who the marks are.
    let name = |pid| {
        m.proc(pid).map_or_else(
            || texts.say("panel_code_main", &[("pid", &pid)]),
            |p| texts.say("lock_who", &[("name", &p.name), ("pid", &pid)]),
        )
    };
    let mut legend = Vec::new();
    if let Some(pid) = selected.filter(|_| selected_line.is_some()) {
        legend.push(Span::styled(
            texts.say("panel_code_selected", &[("who", &name(pid))]),
            t.selected(),
        ));
    }
    match last {
        Some((pid, line)) => legend.push(Span::styled(
            texts.say(
                "panel_code_last",
                &[("who", &name(pid)), ("line", &(line + 1))],
            ),
            t.step(),
        )),
        // At full speed no gate says where anyone is.
        None if !m.code.any() && !m.pace.paused && m.pace.speed.is_none() => {
            legend.push(Span::styled(texts.say("panel_code_unpaced", &[]), t.dim()))
        }
        None => {}
    }
    if !legend.is_empty() {
        let mut spans = Vec::new();
        let mut used = 0;
        for span in legend {
            let text = cut(&span.content, width.saturating_sub(used + 2));
            used += text.width() + 1;
            spans.push(Span::raw(" "));
            spans.push(Span::styled(text, span.style));
        }
        block = block.title_bottom(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// `text` cut to `width` columns where the column ends, with `…` where
/// it was cut: code is not prose, and `res = pool.apply_async(` must keep
/// as much of `apply_async` as fits rather than stop at the last space.
fn cut_code(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut kept = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        kept.push(c);
    }
    if width > 0 {
        kept.push('…');
    }
    kept
}

/// `text` with each level of its indentation two columns wide where the
/// panel is narrow.
fn indented(text: &str, narrow: bool) -> String {
    if !narrow {
        return text.to_string();
    }
    let body = text.trim_start_matches(' ');
    let indent = text.len() - body.len();
    format!("{}{body}", " ".repeat(indent / 2 + indent % 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_cut_where_the_column_ends_by_display_width() {
        assert_eq!(
            cut_code("res = pool.apply_async(calc)", 16),
            "res = pool.appl…"
        );
        assert_eq!(cut_code("short", 16), "short");
        // A wide character that does not fit whole is left out.
        assert_eq!(cut_code("# 对读写文件", 6), "# 对…");
        assert_eq!(cut_code("# 对读写文件", 7), "# 对读…");
        assert!(cut_code("# 对读写文件的部分加锁", 9).width() <= 9);
    }
}
