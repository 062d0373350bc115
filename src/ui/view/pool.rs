//! The pool panel: the task ring's depth, the main process's calls on the
//! pool, with `--crawl` the newest page fetched and what its callback parsed,
//! and every task's AsyncResult: pending, running on a worker, ready
//! (successful or not), and where its callback ran.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{cut, line_end, Screen};
use crate::model::TaskState;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let text = |key: &str| texts.say(key, &[]);
    let block = Block::bordered().title(Span::styled(texts.say("panel_pool", &[]), t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let crawl = m.pool.last_page.is_some() || m.pool.last_parsed.is_some();
    let [gauge, note, calls, page, parsed, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(if crawl { 2 } else { 0 }),
        Constraint::Length(if crawl { 2 } else { 0 }),
        Constraint::Min(1),
    ])
    .areas(inner);
    if let Some(q) = m.queues.values().next() {
        let label = texts.say(
            "ring_label",
            &[("depth", &q.depth), ("maxsize", &q.maxsize)],
        );
        frame.render_widget(
            Paragraph::new(super::queue::depth_gauge(label, q, gauge.width, t)),
            gauge,
        );
    }
    frame.render_widget(
        Paragraph::new(Line::styled(
            cut(&text("queue_note"), usize::from(note.width)),
            t.dim(),
        )),
        note,
    );
    let mut call = m
        .pool
        .calls
        .iter()
        .map(|c| format!("{c}()"))
        .collect::<Vec<_>>()
        .join(" ");
    if m.pool.joined.is_some() {
        call.push_str(&format!(" {}", text("joined_label")));
    }
    if let Some(wait) = m.pool.last_wait {
        let key = if wait.expired {
            "pool_wait_expired"
        } else {
            "pool_wait_ready"
        };
        call.push_str(&texts.say(key, &[("task", &wait.task), ("ms", &wait.timeout_ms)]));
    }
    let call = cut(&call, usize::from(calls.width));
    frame.render_widget(Paragraph::new(Line::styled(call, t.label())), calls);

    let name = |pid: crate::protocol::Pid| {
        m.proc(pid).map_or_else(
            || texts.say("who_unknown", &[("pid", &pid)]),
            |p| p.name.clone(),
        )
    };
    if let Some(fetched) = &m.pool.last_page {
        let label = texts.say(
            "fetched_label",
            &[("task", &fetched.task), ("who", &name(fetched.worker))],
        );
        let lines = cut_into_lines(&label, &fetched.page, page, (t.label(), t.dim()));
        frame.render_widget(Paragraph::new(lines), page);
    }
    if let Some(found) = &m.pool.last_parsed {
        let label = texts.say("parsed_label", &[("task", &found.task)]);
        let lines = cut_into_lines(&label, &found.what, parsed, (t.label(), t.good()));
        frame.render_widget(Paragraph::new(lines), parsed);
    }

    let rows = list.height as usize;
    let width = usize::from(list.width);
    // Keep the newest tasks in view.
    let skip = m.pool.tasks.len().saturating_sub(rows);
    let lines: Vec<Line> = m
        .pool
        .tasks
        .iter()
        .skip(skip)
        .map(|(task, view)| {
            let by =
                |key: &str, pid: &crate::protocol::Pid| texts.say(key, &[("who", &name(*pid))]);
            // The words, and the fewer words for a narrow panel.
            let (state, short, style) = match &view.state {
                TaskState::Pending => (text("pool_pending"), None, t.dim()),
                TaskState::Running(pid) => (by("pool_runs_on", pid), None, t.warn()),
                TaskState::Ready { ok: true, worker } => (
                    by("pool_ok", worker),
                    Some(by("pool_ok_short", worker)),
                    t.good(),
                ),
                TaskState::Ready { ok: false, worker } => (
                    by("pool_failed", worker),
                    Some(by("pool_failed_short", worker)),
                    t.bad(),
                ),
            };
            let (after, short_after) = match (&view.callback, &view.got) {
                (Some(run), _) => {
                    let (key, short) = if run.ok {
                        ("pool_callback", "pool_callback_short")
                    } else {
                        ("pool_error_callback", "pool_error_callback_short")
                    };
                    let thread = texts.say("pool_thread", &[("thread", &run.thread)]);
                    let short = texts.say(short, &[("pid", &run.pid)]);
                    (
                        texts.say(key, &[("pid", &run.pid), ("thread", &run.thread)]),
                        Some((short, thread)),
                    )
                }
                (None, Some(Ok(value))) => {
                    let value = value.map_or_else(String::new, |v| v.to_string());
                    (texts.say("pool_apply_returned", &[("value", &value)]), None)
                }
                (None, Some(Err(raised))) => {
                    (texts.say("pool_apply_raised", &[("raised", raised)]), None)
                }
                (None, None) => (String::new(), None),
            };
            let number = format!("{task:<3}");
            let head = texts.say("pool_task", &[("task", &number)]);
            // Too wide: the fewer words, the thread's name only if it fits
            // (the narration names it), the worker's name cut last: a PID
            // is never cut.
            let (state, after) = if head.width() + state.width() + after.width() > width {
                let state = short.unwrap_or(state);
                let room = width.saturating_sub(head.width() + state.width());
                let after = match short_after {
                    Some((pid, thread)) if pid.width() + thread.width() > room => pid,
                    Some((pid, thread)) => pid + &thread,
                    None => after,
                };
                let room = width.saturating_sub(head.width() + after.width());
                (cut(&state, room), after)
            } else {
                (state, after)
            };
            Line::from(vec![
                Span::styled(head, t.label()),
                Span::styled(state, style),
                Span::styled(after, t.dim()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
}

/// `label` then `text` in as many lines of the area's width as it has rows,
/// by display width, each broken after a space or a tag's `>` where one
/// falls late enough in the line (a page of HTML has few spaces), so that a
/// number or a word is not split; `…` ends the last line if text is left.
fn cut_into_lines(
    label: &str,
    text: &str,
    area: Rect,
    (label_style, text_style): (ratatui::style::Style, ratatui::style::Style),
) -> Vec<Line<'static>> {
    let all: String = label
        .chars()
        .chain(text.chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let width = usize::from(area.width.max(1));
    let rows = usize::from(area.height);
    let mut lines = Vec::new();
    let mut start = 0;
    while start < all.len() && lines.len() < rows {
        let rest = &all[start..];
        // The last row keeps a column for the `…` if text is left.
        let last_row = lines.len() + 1 == rows && rest.width() > width;
        let end = match line_end(rest, width - usize::from(last_row), |c| {
            c == ' ' || c == '>'
        }) {
            // At least one character, however narrow the line.
            0 => rest.chars().next().map_or(0, char::len_utf8),
            n => n,
        };
        let end = start + end;
        let mut shown = all[start..end].to_string();
        if last_row {
            shown.push('…');
        }
        // The label's part of this line, in its own style.
        let mut in_label = label.len().saturating_sub(start).min(shown.len());
        while !shown.is_char_boundary(in_label) {
            in_label -= 1;
        }
        let (head, rest) = shown.split_at(in_label);
        lines.push(Line::from(vec![
            Span::styled(head.to_string(), label_style),
            Span::styled(rest.to_string(), text_style),
        ]));
        // The next line does not start with the space it broke at.
        start = end + usize::from(all[end..].starts_with(' '));
    }
    lines
}
