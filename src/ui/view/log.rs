//! The event log: the newest events, one line each, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{clock, cut, pad, Focus, Screen};
use crate::model::{Model, Salience};
use crate::protocol::{Body, Event};
use crate::scenario::manager::request;
use crate::scenario::texts::{counted, format_speed};
use crate::ui::theme::MARK;

/// An event in a few words (the explanation line says it in full).
pub fn describe(ev: &Event) -> String {
    match &ev.body {
        Body::Start { scenario, seed, .. } => format!("start {scenario}, seed {seed}"),
        Body::Spawn { role, .. } => format!("spawned ({role})"),
        Body::Ready { action } => format!("ready to {action}"),
        Body::LockWait { lock } => format!("waits for lock {lock}"),
        Body::LockAcquire { lock } => format!("acquired lock {lock}"),
        Body::LockRelease { lock } => format!("released lock {lock}"),
        Body::Read { value: Some(v), .. } => format!("read {v}"),
        Body::Read {
            value: None,
            text,
            reset: Some(reset),
            ..
        } => format!("torn read → count {reset}: {text:?}"),
        Body::Read {
            value: None, text, ..
        } => format!("read {text:?}: torn"),
        Body::Truncate { file } => format!("emptied {file}"),
        Body::Write {
            value: Some(value), ..
        } => format!("wrote {value}"),
        Body::Write { bytes, file, .. } => {
            format!("wrote {:?} to {file}", bytes.as_deref().unwrap_or_default())
        }
        Body::Sleep { ms } => format!("sleeps {ms} ms"),
        Body::TaskSubmit { task } => format!("apply_async(task {task})"),
        Body::TaskStart { task } => format!("runs task {task}"),
        Body::TaskDone {
            task,
            ok: true,
            result,
            ..
        } => {
            format!(
                "task {task} done: {}",
                result.map_or_else(String::new, |r| r.to_string())
            )
        }
        Body::TaskDone {
            task,
            error,
            error_type,
            ..
        } => {
            format!(
                "task {task} raised {}: {}",
                error_type.as_deref().unwrap_or("an error"),
                error.as_deref().unwrap_or_default()
            )
        }
        Body::Callback {
            task,
            thread,
            ok: true,
            ..
        } => format!("callback(task {task}) on {thread}"),
        Body::Callback { task, thread, .. } => format!("error_callback(task {task}) on {thread}"),
        Body::ResultWait {
            task,
            timeout_ms,
            expired: true,
        } => {
            format!("wait({timeout_ms} ms) for task {task}: expired")
        }
        Body::ResultWait { task, .. } => format!("wait for task {task}: ready"),
        Body::PoolCall { call } => format!("pool.{call}()"),
        Body::ResultGet {
            task,
            ok: true,
            result,
            ..
        } => format!(
            "apply(task {task}) returned {}",
            result.map_or_else(String::new, |r| r.to_string())
        ),
        Body::ResultGet {
            task, error_type, ..
        } => format!(
            "apply(task {task}) raised {}",
            error_type.as_deref().unwrap_or("an error")
        ),
        Body::PoolJoined { workers } => {
            format!("pool.join() returned: {} workers exited", workers.len())
        }
        Body::Put { item, depth, .. } => format!("put item {item} (depth {depth})"),
        Body::Get { item, depth, .. } => format!("got item {item} (depth {depth})"),
        Body::Blocked { op, .. } if op == "put" => "blocked: queue full".into(),
        Body::Blocked { .. } => "blocked: queue empty".into(),
        Body::Full { item, .. } => format!("gave up putting {item}: Full"),
        Body::Empty { .. } => "gave up getting: Empty".into(),
        Body::Qsize { value, .. } => format!("qsize() = {value}"),
        Body::QueueDepth { depth, .. } => format!("queue depth {depth}"),
        Body::Outcome { result } => format!("outcome: {}", result.as_str()),
        Body::Exit { exitcode } => format!("exit {exitcode}"),
        Body::State { state } => format!("state {state}"),
        Body::File { file, content } if content.trim().is_empty() => format!("{file} is empty"),
        Body::File { file, content } => format!("{file} = {content}"),
        Body::Pace { paused: true, .. } => "paused".into(),
        Body::Pace { speed, .. } => format!(
            "running at {}",
            speed.map_or_else(|| "max".into(), format_speed)
        ),
        Body::Request { op, key, value } => {
            format!("asks the manager: {}", request(op, *key, *value))
        }
        Body::Served {
            client,
            op,
            key,
            value,
            ..
        } => format!("served {} for {client}", request(op, *key, *value)),
        Body::Reply { dict, list } => format!(
            "read back a dict of {} and a list of {}",
            dict.len(),
            list.len()
        ),
        Body::PlainSet { key, value, len } => {
            format!(
                "own plain dict[{key}] = {value} ({})",
                counted(len, "item", "items")
            )
        }
        Body::PlainRead { len } => format!("own plain dict has {}", counted(len, "item", "items")),
        Body::LockMade { lock, lock_kind } => format!("made lock {lock} ({lock_kind})"),
        Body::ProcessCall {
            call,
            result,
            exitcode,
            ..
        } => match exitcode {
            Some(code) => format!("{call} → {result} (exit code {code})"),
            None => format!("{call} → {result}"),
        },
        Body::Deadlock {
            lock,
            holder,
            value,
            ..
        } => {
            format!("DEADLOCK: {lock} = {value}, held by dead {holder}")
        }
        Body::Error { message } => format!("error: {message}"),
        Body::End => "every process has exited".into(),
        Body::Joined => "ended: join() returned".into(),
    }
}

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
            let what = match entry.moment {
                Some(_) => format!("{MARK} {}", describe(ev)),
                None => describe(ev),
            };
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
        Span::styled(" Events ", t.title()),
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
