//! The pool panel: the task queue's depth, and every task's AsyncResult:
//! pending, running on a worker, ready (successful or not), and where its
//! callback ran.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph};
use ratatui::Frame;

use super::Screen;
use crate::model::TaskState;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let block = Block::bordered().title(Span::styled(" Pool: AsyncResults ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [gauge, calls, list] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
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
                .label(format!("task queue {}/{}", q.depth, q.maxsize)),
            gauge,
        );
    }
    let mut call = m
        .pool_calls
        .iter()
        .map(|c| format!("{c}()"))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some((task, ms, expired)) = m.last_wait {
        let how = if expired { "expired" } else { "ready" };
        call.push_str(&format!("  wait(task {task}, {ms} ms): {how}"));
    }
    frame.render_widget(Paragraph::new(Line::styled(call, t.label())), calls);

    let name = |pid| {
        m.proc(pid)
            .map_or_else(|| format!("PID {pid}"), |p| p.name.clone())
    };
    let rows = list.height as usize;
    // Keep the newest tasks in view.
    let skip = m.tasks.len().saturating_sub(rows);
    let lines: Vec<Line> = m
        .tasks
        .iter()
        .skip(skip)
        .map(|(task, view)| {
            let (state, style) = match &view.state {
                TaskState::Pending => ("pending".to_string(), t.dim()),
                TaskState::Running(pid) => (format!("running on {}", name(*pid)), t.warn()),
                TaskState::Ready { ok: true, worker } => {
                    (format!("ready ✓ by {}", name(*worker)), t.good())
                }
                TaskState::Ready { ok: false, worker } => {
                    (format!("failed ✗ in {}", name(*worker)), t.bad())
                }
            };
            let callback = match &view.callback {
                Some((pid, thread, ok)) => {
                    let which = if *ok { "callback" } else { "error cb" };
                    let parsed = view
                        .parsed
                        .as_deref()
                        .map_or_else(String::new, |p| format!(": {p}"));
                    format!(" · {which} in PID {pid} ({thread}){parsed}")
                }
                None => String::new(),
            };
            Line::from(vec![
                Span::styled(format!("task {task:<3} "), t.label()),
                Span::styled(state, style),
                Span::styled(callback, t.dim()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
}
