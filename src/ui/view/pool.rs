//! The pool panel: the task ring's depth, the main process's calls on the
//! pool, with `--crawl` the newest page fetched and what its callback parsed,
//! and every task's AsyncResult: pending, running on a worker, ready
//! (successful or not), and where its callback ran.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};
use ratatui::Frame;

use super::Screen;
use crate::model::TaskState;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let text = |key: &str| texts.get(key).unwrap_or_default().to_string();
    let block = Block::bordered().title(Span::styled(" Pool: AsyncResults ", t.title()));
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
        let ratio = if q.maxsize == 0 {
            0.0
        } else {
            (f64::from(q.depth) / f64::from(q.maxsize)).clamp(0.0, 1.0)
        };
        frame.render_widget(
            Gauge::default()
                .gauge_style(t.good())
                .ratio(ratio)
                .label(format!("{} {}/{}", text("ring_label"), q.depth, q.maxsize)),
            gauge,
        );
    }
    frame.render_widget(
        Paragraph::new(Line::styled(text("queue_note"), t.dim())),
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
        let how = if wait.expired { "expired" } else { "ready" };
        call.push_str(&format!(
            " · wait({}, {} ms): {how}",
            wait.task, wait.timeout_ms
        ));
    }
    frame.render_widget(Paragraph::new(Line::styled(call, t.label())), calls);

    let name = |pid| {
        m.proc(pid)
            .map_or_else(|| format!("PID {pid}"), |p| p.name.clone())
    };
    if let Some(fetched) = &m.pool.last_page {
        let label = format!(
            "{} {} ({}): ",
            text("fetched_label"),
            fetched.task,
            name(fetched.worker)
        );
        let lines = cut_into_lines(&label, &fetched.page, page, (t.label(), t.dim()));
        frame.render_widget(Paragraph::new(lines), page);
    }
    if let Some(found) = &m.pool.last_parsed {
        let label = format!("{} {}: ", text("parsed_label"), found.task);
        let lines = cut_into_lines(&label, &found.what, parsed, (t.label(), t.good()));
        frame.render_widget(Paragraph::new(lines), parsed);
    }

    let rows = list.height as usize;
    // Keep the newest tasks in view.
    let skip = m.pool.tasks.len().saturating_sub(rows);
    let lines: Vec<Line> = m
        .pool
        .tasks
        .iter()
        .skip(skip)
        .map(|(task, view)| {
            let (state, style) = match &view.state {
                TaskState::Pending => ("pending".to_string(), t.dim()),
                TaskState::Running(pid) => (format!("runs on {}", name(*pid)), t.warn()),
                TaskState::Ready { ok: true, worker } => {
                    (format!("✓ by {}", name(*worker)), t.good())
                }
                TaskState::Ready { ok: false, worker } => {
                    (format!("✗ in {}", name(*worker)), t.bad())
                }
            };
            let after = match (&view.callback, &view.got) {
                (Some(run), _) => {
                    let which = if run.ok { "callback" } else { "error cb" };
                    format!(" · {which} PID {} ({})", run.pid, run.thread)
                }
                (None, Some(Ok(value))) => format!(
                    " · apply → {}",
                    value.map_or_else(String::new, |v| v.to_string())
                ),
                (None, Some(Err(raised))) => format!(" · apply raised {raised}"),
                (None, None) => String::new(),
            };
            Line::from(vec![
                Span::styled(format!("task {task:<3} "), t.label()),
                Span::styled(state, style),
                Span::styled(after, t.dim()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
}

/// `label` then `text`, cut into as many whole lines of the area's width as
/// it has rows (a page of HTML has few spaces to wrap at).
fn cut_into_lines(
    label: &str,
    text: &str,
    area: Rect,
    (label_style, text_style): (ratatui::style::Style, ratatui::style::Style),
) -> Vec<Line<'static>> {
    let chars: Vec<char> = label
        .chars()
        .chain(text.chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let in_label = label.chars().count();
    chars
        .chunks(usize::from(area.width.max(1)))
        .take(usize::from(area.height))
        .scan(0, |start, chunk| {
            let cut = in_label.saturating_sub(*start).min(chunk.len());
            *start += chunk.len();
            let head: String = chunk[..cut].iter().collect();
            let rest: String = chunk[cut..].iter().collect();
            Some(Line::from(vec![
                Span::styled(head, label_style),
                Span::styled(rest, text_style),
            ]))
        })
        .collect()
}
