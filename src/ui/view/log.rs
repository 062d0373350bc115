//! The event log: the newest events, one line each, newest at the bottom.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::{clock, Screen};
use crate::model::Model;
use crate::protocol::{Body, Event};
use crate::scenario::manager::request;
use crate::scenario::texts::format_speed;

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
        Body::TaskDone { task, error, .. } => {
            format!(
                "task {task} raised {}",
                error.as_deref().unwrap_or("an error")
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
            format!("own plain dict[{key}] = {value} ({len} item)")
        }
        Body::PlainRead { len } => format!("own plain dict has {len} items"),
        Body::LockMade { lock, lock_kind } => format!("made lock {lock} ({lock_kind})"),
        Body::ProcessCall { call, result, .. } => format!("{call} → {result}"),
        Body::Deadlock { lock, holder, .. } => {
            format!("DEADLOCK: {lock} held by dead {holder}")
        }
        Body::Error { message } => format!("error: {message}"),
        Body::End => "every process has exited".into(),
        Body::Joined => "ended: join() returned".into(),
    }
}

/// Who did it: the PID, and the name where the panel is wide enough.
fn who(ev: &Event, model: &Model, wide: bool) -> String {
    let name = match ev.pid {
        Some(pid) => model.proc(pid).map_or("", |p| p.name.as_str()),
        None => "mpviz",
    };
    let pid = ev.pid.map_or_else(String::new, |p| p.to_string());
    if wide {
        format!("{name:<11} {pid:>7}")
    } else {
        format!("{pid:>7}")
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let rows = area.height.saturating_sub(2) as usize;
    let start = m.log.len().saturating_sub(rows);
    let wide = area.width >= 56;
    let lines: Vec<Line> = m
        .log
        .iter()
        .skip(start)
        .map(|ev| {
            let style = match &ev.body {
                Body::Error { .. } | Body::Read { value: None, .. } => t.bad(),
                Body::LockAcquire { .. } => t.holder(),
                Body::Outcome { result } => t.outcome(*result),
                Body::File { .. } | Body::Pace { .. } => t.dim(),
                _ => Default::default(),
            };
            Line::from(vec![
                Span::styled(format!("{} ", clock(ev.t_ns)), t.dim()),
                Span::styled(format!("{} ", who(ev, m, wide)), t.label()),
                Span::styled(describe(ev), style),
            ])
        })
        .collect();
    let title = Line::from(vec![
        Span::styled(" Events ", t.title()),
        Span::styled(format!("{} ", m.events), t.dim()),
    ]);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}
