//! The event log: the newest events, one line each, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{clock, cut, pad, Focus, Screen};
use crate::model::{Model, Salience};
use crate::protocol::{Body, Event};
use crate::ui::theme::MARK;

/// Who did it: the PID, and the name where the panel is wide enough.
fn who(ev: &Event, model: &Model, wide: bool, pid_width: usize) -> String {
    // The parent (mpviz's main process, which plays Python's main process
    // where a scenario has it act) reports with its PID or none.
    let name = match ev.pid.and_then(|pid| model.proc(pid)) {
        Some(p) => p.name.as_str(),
        None if ev.pid.is_none() || ev.pid == model.parent_pid => "mpviz",
        None => "",
    };
    let pid = ev.pid.map_or_else(String::new, |p| p.to_string());
    if wide {
        format!("{} {pid:>pid_width$}", pad(name, 11))
    } else if ev.pid.is_none() {
        pad(name, pid_width)
    } else {
        format!("{pid:>pid_width$}")
    }
}

/// The index of the first log entry on screen, `rows` tall: the newest
/// page when following (`top` is `None`), else the entry `top` numbers (or
/// the oldest kept, if it fell off), but never past the newest page.
pub fn first_row(model: &Model, top: Option<u64>, rows: usize) -> usize {
    let newest_page = model.log.len().saturating_sub(rows);
    match top {
        None => newest_page,
        Some(seq) => model.log.partition_point(|e| e.seq < seq).min(newest_page),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let view = screen.view;
    let texts = &screen.scenario.spec().texts;
    view.log_rows.set(area);
    let rows = area.height.saturating_sub(2) as usize;
    let start = first_row(m, view.log_top, rows);
    let wide = area.width >= 56;
    // A narrow panel keeps the PID and the words, not the clock.
    let clocked = area.width >= 40;
    let room = usize::from(area.width.saturating_sub(2));
    let pid_width = m
        .procs
        .iter()
        .map(|p| p.pid.to_string().len())
        .chain(m.parent_pid.map(|p| p.to_string().len()))
        .max()
        .unwrap_or(0)
        .max(5);
    let lines: Vec<Line> = m
        .log
        .iter()
        .skip(start)
        .take(rows)
        .map(|entry| {
            let ev = &entry.event;
            let style = match &ev.body {
                _ if entry.salience > Salience::Normal => t.salience(entry.salience),
                Body::LockAcquire { .. } => t.holder(),
                Body::Outcome { result } => t.outcome(*result),
                _ => t.salience(entry.salience),
            };
            let goal = view.goal_met == Some(entry.seq);
            let what = match entry.moment {
                _ if goal => format!("✓ {}", texts.log_line(ev, m)),
                Some(_) => format!("{MARK} {}", texts.log_line(ev, m)),
                None => texts.log_line(ev, m),
            };
            let style = if goal { t.good() } else { style };
            let when = if clocked {
                format!("{} ", clock(ev.t_ns))
            } else {
                String::new()
            };
            let who = format!("{} ", who(ev, m, wide, pid_width));
            let what = cut(&what, room.saturating_sub(when.width() + who.width()));
            Line::from(vec![
                Span::styled(when, t.dim()),
                Span::styled(who, t.label()),
                Span::styled(what, style),
            ])
        })
        .collect();
    let focused = view.focus == Focus::Events;
    let mut title = vec![
        Span::styled(texts.say("panel_events", &[]), t.title()),
        Span::styled(format!("{} ", m.events), t.dim()),
    ];
    if view.log_top.is_some() && start + rows < m.log.len() {
        let below = m.log.len() - start - rows;
        title.push(Span::styled(format!("· {below} newer ↓ End "), t.warn()));
    } else if focused {
        title.push(Span::styled("· following ", t.dim()));
    }
    let block = Block::bordered().title(Line::from(title));
    let block = if focused {
        block.border_style(t.key())
    } else {
        block
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
