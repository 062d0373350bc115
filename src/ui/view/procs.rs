//! The process table: one row per real process, scrolled and sorted, drawn
//! from only the rows that fit (a thousand processes cost one screenful).

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{cut, wrap_words, Screen, ViewState};
use crate::model::{Activity, Model, Proc};
use crate::scenario::texts::{counted, outcome_word};
use crate::ui::theme::MARK;
use crate::worker::THREAD_ROLE;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Start order (the fork server first).
    #[default]
    Start,
    Pid,
    State,
    Doing,
    Exit,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Start => SortKey::Pid,
            SortKey::Pid => SortKey::State,
            SortKey::State => SortKey::Doing,
            SortKey::Doing => SortKey::Exit,
            SortKey::Exit => SortKey::Start,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Start => "start",
            SortKey::Pid => "PID",
            SortKey::State => "state",
            SortKey::Doing => "doing",
            SortKey::Exit => "exit",
        }
    }
}

/// The table's rows, as indices into `model.procs`, in display order.
pub fn row_order(model: &Model, sort: SortKey) -> Vec<usize> {
    let mut order: Vec<usize> = (0..model.procs.len()).collect();
    let p = |i: usize| &model.procs[i];
    let start = |i: usize| (p(i).role != "forkserver", p(i).slot);
    match sort {
        SortKey::Start => order.sort_by_key(|&i| start(i)),
        SortKey::Pid => order.sort_by_key(|&i| p(i).pid),
        // Living processes first, running before sleeping.
        SortKey::State => order.sort_by_key(|&i| (!p(i).alive(), state_rank(p(i).state), start(i))),
        SortKey::Doing => order.sort_by_key(|&i| (!p(i).alive(), doing(p(i)), start(i))),
        SortKey::Exit => order.sort_by_key(|&i| (p(i).exitcode.is_some(), p(i).exitcode, start(i))),
    }
    order
}

fn state_rank(state: Option<char>) -> u8 {
    match state {
        Some('R') => 0,
        Some('D') => 1,
        Some('S') => 2,
        Some('Z') => 3,
        Some(_) => 4,
        None => 5,
    }
}

/// What the process is doing now, in a few words.
pub fn doing(p: &Proc) -> String {
    if let Some(action) = &p.at_gate {
        return format!("⏸ {action}");
    }
    match &p.activity {
        Activity::Started => "started".into(),
        Activity::WaitingForLock(_) => "waiting for lock".into(),
        Activity::HoldingLock(_) => "holds the lock".into(),
        Activity::Read(Some(v)) => format!("read {v}"),
        Activity::Read(None) => "read a torn file".into(),
        Activity::Sleeping(ms) => format!("delay {ms} ms"),
        Activity::Truncated(_) => "emptied the file".into(),
        Activity::Wrote(v) if p.overwrote.is_some() => format!("wrote {v} (lost update)"),
        Activity::Wrote(v) => format!("wrote {v}"),
        Activity::Appended(_, n) => format!("wrote {n} bytes"),
        // The reason first: a narrow column cuts the end.
        Activity::Blocked(op) if op == "put" => "queue full (blocked)".into(),
        Activity::Blocked(_) => "queue empty (blocked)".into(),
        Activity::Put(item) => format!("put item {item}"),
        Activity::Got(item) => format!("got item {item}"),
        Activity::GaveUp(why) => format!("gave up: {why}"),
        Activity::AskedSize(v) => format!("qsize() said {v}"),
        Activity::RunningTask(t) => format!("runs task {t}"),
        Activity::FinishedTask(t, true) => format!("finished task {t}"),
        Activity::FinishedTask(t, false) => format!("task {t} raised an error"),
        Activity::Requested(op) => format!("asked {op}"),
        Activity::Served(op, client) => format!("served {op} for {client}"),
        Activity::SetPlain(n) => format!("own plain dict: {}", counted(n, "item", "items")),
        Activity::Finished(o) => outcome_word(*o).into(),
        Activity::Released(_) => "let go of the lock".into(),
        Activity::Joined => "ended: join() returned".into(),
        Activity::Exited(_) => match p.outcome {
            Some(o) => format!("done: {}", outcome_word(o)),
            None => "done".into(),
        },
    }
}

/// The table's row (an index into [`row_order`]) drawn `y` lines below
/// the first row on screen, as the last frame drew them (rows that wrap
/// take two lines).
pub fn row_at(view: &ViewState, y: u16) -> usize {
    let heights = view.row_heights.borrow();
    let skipped = if heights.is_empty() {
        usize::from(y)
    } else {
        let mut below = y;
        heights
            .iter()
            .take_while(|&&h| {
                let past = below >= h;
                below = below.saturating_sub(h);
                past
            })
            .count()
    };
    view.offset.get() + skipped
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let view = screen.view;
    let order = row_order(m, view.sort);
    let rows_area = Rect {
        x: area.x + 1,
        y: area.y + 2,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(3),
    };
    view.table_rows.set(rows_area);
    let visible = rows_area.height as usize;
    let selected = view
        .selected
        .and_then(|pid| order.iter().position(|&i| m.procs[i].pid == pid));

    // Scroll only as much as keeps the selection on screen.
    let mut offset = view.offset.get().min(order.len().saturating_sub(visible));
    if let Some(s) = selected {
        if s < offset {
            offset = s;
        } else if visible > 0 && s >= offset + visible {
            offset = s + 1 - visible;
        }
    }
    view.offset.set(offset);

    // A thread's id is a TID, not a PID.
    let threads = m.procs.iter().filter(|p| p.role == THREAD_ROLE).count();
    let id_head = match threads {
        0 => "PID",
        n if n == m.procs.len() => "TID",
        _ => "PID/TID",
    };
    // Columns as wide as their widest entry (a PID is never cut); DOING
    // gets the rest and is cut, with an ellipsis, by display width.
    let pid_width = m
        .procs
        .iter()
        .map(|p| p.pid.to_string().len())
        .max()
        .unwrap_or(0)
        .max(id_head.len());
    let name_width = m
        .procs
        .iter()
        .map(|p| p.name.width())
        .max()
        .unwrap_or(0)
        .clamp(4, 16);
    let fixed = pid_width + name_width + 1 + 4 + 4;
    let doing_width = usize::from(area.width.saturating_sub(2)).saturating_sub(fixed + 1);
    let doing_of = |p: &Proc| match m.marked.get(&p.pid) {
        Some(_) => format!("{MARK} {}", doing(p)),
        None => doing(p),
    };
    // Where every row fits even with each cut one on two lines, they wrap
    // (a few processes, a narrow terminal); else each is cut with "…".
    let wrap = order.len() <= visible && {
        let long = order
            .iter()
            .filter(|&&i| doing_of(&m.procs[i]).width() > doing_width)
            .count();
        order.len() + long <= visible
    };
    let mut heights = Vec::new();
    let rows = order
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .map(|(pos, &i)| {
            let p = &m.procs[i];
            let mark = m.marked.get(&p.pid);
            let state = p.state.map_or_else(|| " ".to_string(), |s| s.to_string());
            let state_style = p.state.map_or_else(Default::default, |s| t.state(s));
            let doing_style = match (&p.activity, p.outcome) {
                _ if mark.is_some() => t.alarm(),
                _ if p.at_gate.is_some() => t.paused(),
                (Activity::HoldingLock(_), _) => t.holder(),
                (Activity::Wrote(_), _) if p.overwrote.is_some() => t.bad(),
                (_, Some(o)) => t.outcome(o),
                _ => Default::default(),
            };
            let doing = doing_of(p);
            let doing_lines: Vec<Line> = if wrap && doing.width() > doing_width {
                let words = wrap_words(&doing, doing_width);
                let rest = words[1..].join(" ");
                vec![
                    Line::raw(words[0].clone()),
                    Line::raw(cut(&rest, doing_width)),
                ]
            } else {
                vec![Line::raw(cut(&doing, doing_width))]
            };
            heights.push(doing_lines.len() as u16);
            let exit = match p.exitcode {
                Some(code) => Span::styled(code.to_string(), t.exitcode(code)),
                None => Span::styled("", t.dim()),
            };
            let row = Row::new(vec![
                Cell::from(p.pid.to_string()),
                Cell::from(cut(&p.name, name_width)),
                Cell::from(Span::styled(
                    if p.alive() { state } else { "-".into() },
                    state_style,
                )),
                Cell::from(Text::from(doing_lines).style(doing_style)),
                Cell::from(exit),
            ])
            .height(*heights.last().unwrap_or(&1));
            if Some(pos) == selected {
                row.style(t.selected())
            } else if mark.is_some() {
                row.style(t.alarm())
            } else if !p.alive() {
                row.style(t.dim())
            } else {
                row
            }
        });
    let rows: Vec<Row> = rows.collect();
    view.row_heights
        .replace(if wrap { heights } else { Vec::new() });
    let header = Row::new(vec![id_head, "NAME", "S", "DOING", "EXIT"]).style(t.label());
    // Counted as the header counts: the scenario's processes; the fork
    // server (mpviz's) is named apart.
    let children = m.procs.iter().filter(|p| p.role != "forkserver");
    let (total, alive) = children.fold((0, 0), |(n, a), p| (n + 1, a + usize::from(p.alive())));
    let server = if m.procs.iter().any(|p| p.role == "forkserver") {
        " + fork server"
    } else {
        ""
    };
    let title = Line::from(vec![
        Span::styled(" Processes ", t.title()),
        Span::styled(format!("{alive}/{total} alive{server} "), t.label()),
    ]);
    let mut title = title;
    if view.sort != SortKey::Start {
        title.push_span(Span::styled(
            format!("· sort: {} ", view.sort.name()),
            t.dim(),
        ));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(pid_width as u16),
            Constraint::Length(name_width as u16),
            Constraint::Length(1),
            Constraint::Min(doing_width as u16),
            Constraint::Length(4),
        ],
    )
    .header(header)
    .block(Block::bordered().title(title));
    frame.render_widget(table, area);

    if order.len() > visible && visible > 0 {
        let mut state = ScrollbarState::new(order.len().saturating_sub(visible)).position(offset);
        let bar = Scrollbar::new(ScrollbarOrientation::VerticalRight);
        frame.render_stateful_widget(
            bar,
            Rect {
                y: area.y + 1,
                height: area.height.saturating_sub(2),
                ..area
            },
            &mut state,
        );
    }
}
