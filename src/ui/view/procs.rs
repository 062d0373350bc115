//! The process table: one row per real process, scrolled and sorted, drawn
//! from only the rows that fit (a thousand processes cost one screenful).

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{cut, wrap_words, Screen, ViewState};
use crate::model::{Activity, Model, Proc, Request};
use crate::scenario::texts::{outcome_word, request};
use crate::scenario::Texts;
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

    /// The key of its name in the texts.
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Start => "sort_start",
            SortKey::Pid => "sort_pid",
            SortKey::State => "sort_state",
            SortKey::Doing => "sort_doing",
            SortKey::Exit => "sort_exit",
        }
    }
}

/// The table's rows, as indices into `model.procs`, in display order
/// (sorted by what they are doing, in the words of `texts`).
pub fn row_order(model: &Model, sort: SortKey, texts: &Texts) -> Vec<usize> {
    let mut order: Vec<usize> = (0..model.procs.len()).collect();
    let p = |i: usize| &model.procs[i];
    let start = |i: usize| (p(i).role != "forkserver", p(i).slot);
    match sort {
        SortKey::Start => order.sort_by_key(|&i| start(i)),
        SortKey::Pid => order.sort_by_key(|&i| p(i).pid),
        // Living processes first, running before sleeping.
        SortKey::State => order.sort_by_key(|&i| (!p(i).alive(), state_rank(p(i).state), start(i))),
        SortKey::Doing => order.sort_by_key(|&i| (!p(i).alive(), doing(texts, p(i)), start(i))),
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

/// What the process is doing now, in a few words, in the words of
/// `texts` (a scenario's, over the shared ones).
pub fn doing(texts: &Texts, p: &Proc) -> String {
    if let Some(action) = &p.at_gate {
        return texts.say("doing_at_gate", &[("action", &texts.act(action))]);
    }
    let say = |key: &str, args: &[(&str, &dyn std::fmt::Display)]| texts.say(key, args);
    let said = |r: &Request| request(texts, &r.op, r.key, r.value);
    match &p.activity {
        Activity::Started => say("doing_started", &[]),
        Activity::WaitingForLock(_) => say("doing_waiting_for_lock", &[]),
        Activity::HoldingLock(_) => say("doing_holding_lock", &[]),
        Activity::Read(Some(v)) => say("doing_read", &[("value", v)]),
        Activity::Read(None) => say("doing_read_torn", &[]),
        Activity::Sleeping(ms) => say("doing_sleeping", &[("ms", ms)]),
        Activity::Truncated(_) => say("doing_truncated", &[]),
        Activity::Wrote(v) if p.overwrote.is_some() => say("doing_wrote_lost", &[("value", v)]),
        Activity::Wrote(v) => say("doing_wrote", &[("value", v)]),
        Activity::Appended(_, n) => say("doing_appended", &[("bytes", n)]),
        Activity::Blocked(op) => say(&format!("doing_blocked_{}", op.as_str()), &[]),
        Activity::Put(item) => say("doing_put", &[("item", item)]),
        Activity::Got(item) => say("doing_got", &[("item", item)]),
        Activity::GaveUp(op) => say(&format!("doing_gave_up_{}", op.as_str()), &[]),
        Activity::AskedSize(v) => say("doing_asked_size", &[("value", v)]),
        Activity::RunningTask(t) => say("doing_running_task", &[("task", t)]),
        Activity::FinishedTask(t, true) => say("doing_finished_task", &[("task", t)]),
        Activity::FinishedTask(t, false) => say("doing_task_failed", &[("task", t)]),
        Activity::Requested(r) => say("doing_requested", &[("request", &said(r))]),
        Activity::Served(r, client) => {
            say("doing_served", &[("request", &said(r)), ("client", client)])
        }
        Activity::SetPlain(n) => say("doing_set_plain", &[("n", n)]),
        Activity::Finished(o) => outcome_word(texts, *o),
        Activity::Released(_) => say("doing_released", &[]),
        Activity::Joined => say("doing_joined", &[]),
        Activity::Doing(action) => say("doing_granted", &[("action", &texts.act(action))]),
        Activity::Exited(_) => match p.outcome {
            Some(o) => say(
                "doing_exited_outcome",
                &[("outcome", &outcome_word(texts, o))],
            ),
            None => say("doing_exited", &[]),
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
    let order = row_order(m, view.sort, &screen.scenario.spec().texts);
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
        0 => "column_pid",
        n if n == m.procs.len() => "column_tid",
        _ => "column_pid_tid",
    };
    // Columns as wide as their widest entry (a PID is never cut); DOING
    // gets the rest and is cut, with an ellipsis, by display width.
    let pid_width = m
        .procs
        .iter()
        .map(|p| p.pid.to_string().len())
        .max()
        .unwrap_or(0)
        .max(screen.scenario.spec().texts.say(id_head, &[]).width());
    let name_width = m
        .procs
        .iter()
        .map(|p| p.name.width())
        .max()
        .unwrap_or(0)
        .clamp(4, 16);
    let fixed = pid_width + name_width + 1 + 4 + 4;
    let doing_width = usize::from(area.width.saturating_sub(2)).saturating_sub(fixed + 1);
    let texts = &screen.scenario.spec().texts;
    let doing_of = |p: &Proc| match m.marked.get(&p.pid) {
        Some(_) => format!("{MARK} {}", doing(texts, p)),
        None => doing(texts, p),
    };
    // Where every row fits on one line, the lines left over let long rows
    // wrap onto a second, first rows first (a few processes, a narrow
    // terminal); the rest, if any, are cut with "…".
    let mut spare = visible.saturating_sub(order.len());
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
            let wraps = spare > 0 && doing.width() > doing_width;
            spare -= usize::from(wraps);
            let doing_lines: Vec<Line> = if wraps {
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
    let wrapped = heights.iter().any(|&h| h > 1);
    view.row_heights
        .replace(if wrapped { heights } else { Vec::new() });
    let header = Row::new(
        [
            id_head,
            "column_name",
            "column_state",
            "column_doing",
            "column_exit",
        ]
        .map(|key| texts.say(key, &[])),
    )
    .style(t.label());
    // Counted as the header counts: the scenario's processes; the fork
    // server (mpviz's) is named apart.
    let children = m.procs.iter().filter(|p| p.role != "forkserver");
    let (total, alive) = children.fold((0, 0), |(n, a), p| (n + 1, a + usize::from(p.alive())));
    let server = if m.procs.iter().any(|p| p.role == "forkserver") {
        texts.say("table_fork_server", &[])
    } else {
        String::new()
    };
    let title = Line::from(vec![
        Span::styled(
            texts.say(
                if threads > 0 {
                    "table_title_threads"
                } else {
                    "table_title"
                },
                &[],
            ),
            t.title(),
        ),
        Span::styled(
            format!(
                "{}{server} ",
                texts.say("table_alive", &[("alive", &alive), ("total", &total)])
            ),
            t.label(),
        ),
    ]);
    let mut title = title;
    if view.sort != SortKey::Start {
        let sort = texts.say(view.sort.name(), &[]);
        title.push_span(Span::styled(
            texts.say("table_sort", &[("sort", &sort)]),
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
