//! Drawing: each panel is a function from the model (and the view's own
//! state) to a region of the frame. Nothing here reads `/proc`, a pipe or a
//! clock; everything it shows comes from [`Model`].

mod calls;
mod counter;
mod header;
mod help;
mod lines;
mod lock;
mod log;
mod manager;
mod pool;
mod procs;
mod queue;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::Model;
use crate::protocol::Pid;
use crate::scenario::Scenario;
use crate::ui::theme::{Theme, MARK};

pub use log::first_row as log_first_row;
pub use procs::{doing as procs_doing, row_at, row_order, SortKey};

/// What the screen remembers that is not the run's state.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// The selected process, by PID, so that sorting and updates do not move it.
    pub selected: Option<Pid>,
    pub sort: SortKey,
    pub help: bool,
    /// The help's first line on screen.
    pub help_scroll: u16,
    /// A one-off message for the teacher (cleared by the next key).
    pub status: Option<String>,
    /// Wall time since the run started (frozen once it ended).
    pub elapsed: Duration,
    /// The first table row on screen; kept between frames so that the table
    /// scrolls only when the selection leaves it.
    pub offset: Cell<usize>,
    /// Where the table's rows were drawn, for mouse clicks.
    pub table_rows: Cell<Rect>,
    /// The height of each row on screen where some wrap onto two lines
    /// (empty: one line each).
    pub row_heights: RefCell<Vec<u16>>,
    /// Which panel the arrow keys move: the table or the events.
    pub focus: Focus,
    /// The events panel's first line on screen, by [`LogEntry::seq`]
    /// (`crate::model::LogEntry`); `None` follows the newest, like `tail -f`.
    pub log_top: Option<u64>,
    /// Where the events panel was drawn, for the mouse wheel and paging.
    pub log_rows: Cell<Rect>,
}

/// The panel the arrow keys, paging keys and Home/End move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    #[default]
    Table,
    Events,
}

/// The smallest terminal every scenario is drawn readable in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// `text` cut to `width` terminal columns (by display width, not
/// characters), with `…` where it was cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `text` in lines of at most `width` columns, broken between words (a
/// word wider than a line is cut).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.width() + 1 + word.width() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.into_iter().map(|l| cut(&l, width)).collect()
}

/// `text` cut to `width` columns and padded with spaces to exactly `width`.
pub fn pad(text: &str, width: usize) -> String {
    let text = cut(text, width);
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

/// Everything one frame is drawn from.
pub struct Screen<'a> {
    pub model: &'a Model,
    pub view: &'a ViewState,
    pub scenario: &'a dyn Scenario,
    pub theme: Theme,
}

pub fn draw(frame: &mut Frame, screen: &Screen) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let t = screen.theme;
        let say = format!(
            "terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}); q quits",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(Line::styled(say, t.warn())).wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let header = header::lines(screen, area.width);
    let explanation = explanation(screen, area.width);
    // The narration gets the lines it needs (the summary at the end more),
    // as long as the body keeps room for a few rows.
    let explain_height = wrapped_height(&explanation, area.width).clamp(
        2,
        if screen.model.ended {
            area.height / 3
        } else {
            3
        },
    );
    let [top, body, explain, footer] = Layout::vertical([
        Constraint::Length(header.len() as u16),
        Constraint::Min(6),
        Constraint::Length(explain_height),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(header), top);
    draw_body(frame, body, screen);
    frame.render_widget(
        Paragraph::new(explanation).wrap(Wrap { trim: true }),
        explain,
    );
    draw_footer(frame, footer, screen);
    if screen.view.help {
        help::draw(frame, area, screen);
    }
}

fn draw_body(frame: &mut Frame, area: Rect, screen: &Screen) {
    // The table takes what the side panels leave; on a wide terminal the side
    // column grows so that the log shows whole sentences.
    let pool = !screen.model.pool.tasks.is_empty() || screen.scenario.name() == "pool";
    // A pool's results say where each callback ran, the manager's panel
    // shows two dicts: give them half the width.
    // (below 100 columns the manager's and lifecycle's tables need more).
    let halves = matches!(screen.scenario.name(), "manager" | "lifecycle") && area.width >= 100;
    let side = if pool || halves {
        (area.width / 2).clamp(30, 90)
    } else {
        (area.width * 3 / 8).clamp(30, 72)
    };
    let [left, right] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(side)]).areas(area);
    // A few processes leave the table's column mostly empty: the events go
    // under the table and the side panels get their whole column.
    let rows = (screen.scenario.processes() as usize + 1).max(screen.model.procs.len());
    let table_height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(3);
    let wide_panels = pool || matches!(screen.scenario.name(), "manager" | "lifecycle");
    let (table, under) = if wide_panels && table_height.saturating_add(8) <= left.height {
        let [table, log] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(5)]).areas(left);
        (table, Some(log))
    } else {
        (left, None)
    };
    procs::draw(frame, table, screen);
    let part = |percent| match under {
        Some(_) => Constraint::Fill(1),
        None => Constraint::Percentage(percent),
    };
    let log_part = match under {
        Some(_) => Constraint::Length(0),
        None => Constraint::Min(3),
    };
    let draw_log =
        |frame: &mut Frame, beside: Rect| log::draw(frame, under.unwrap_or(beside), screen);

    if pool {
        let [pool_area, log_area] = Layout::vertical([part(60), log_part]).areas(right);
        pool::draw(frame, pool_area, screen);
        draw_log(frame, log_area);
        return;
    }
    if screen.scenario.name() == "manager" {
        let [manager_area, log_area] = Layout::vertical([part(55), log_part]).areas(right);
        manager::draw(frame, manager_area, screen);
        draw_log(frame, log_area);
        return;
    }
    if let Some((name, q)) = screen.model.queues.iter().next() {
        let [queue_area, log_area] =
            Layout::vertical([Constraint::Length(queue::HEIGHT), Constraint::Min(3)]).areas(right);
        queue::draw(frame, queue_area, screen, name, q);
        log::draw(frame, log_area, screen);
        return;
    }
    if screen.scenario.name() == "lifecycle" {
        let lock_height = lock::height(screen.model, right.height);
        // Beside the table, the events keep a few lines under the calls.
        let log_part = match under {
            Some(_) => log_part,
            None => Constraint::Length((right.height / 3).max(3)),
        };
        let [lock_area, calls_area, log_area] = Layout::vertical([
            Constraint::Length(lock_height),
            Constraint::Fill(1),
            log_part,
        ])
        .areas(right);
        lock::draw(frame, lock_area, screen);
        calls::draw(frame, calls_area, screen);
        draw_log(frame, log_area);
        return;
    }
    let lock_height = lock::height(screen.model, right.height);
    let file_lines = screen.scenario.file_lines(screen.model);
    let counter = screen.scenario.counter(screen.model);
    let file_height = match (&file_lines, &counter) {
        (Some((lines, _)), _) => {
            lines::height(lines.len(), right.height.saturating_sub(lock_height))
        }
        (None, Some(_)) => counter::HEIGHT,
        (None, None) => files_height(screen.model),
    };
    let [lock_area, file_area, log_area] = Layout::vertical([
        Constraint::Length(lock_height),
        Constraint::Length(file_height),
        Constraint::Min(3),
    ])
    .areas(right);
    lock::draw(frame, lock_area, screen);
    match (&file_lines, &counter) {
        (Some((lines, started)), _) => lines::draw(frame, file_area, screen, lines, started),
        (None, Some(c)) => counter::draw(frame, file_area, screen, c),
        (None, None) => draw_files(frame, file_area, screen),
    }
    log::draw(frame, log_area, screen);
}

fn files_height(model: &Model) -> u16 {
    (model.files.len().max(1) as u16) + 2
}

/// The real content of each file the scenario watches, as the parent last read it.
fn draw_files(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let files = &screen.model.files;
    let content = |text: &str| {
        if text.is_empty() {
            Span::styled("(empty: being rewritten)", t.bad())
        } else {
            Span::styled(text.replace('\n', "⏎"), t.value())
        }
    };
    let (title, lines) = match (files.len(), files.iter().next()) {
        (0, _) | (_, None) => (
            " File on disk ".to_string(),
            vec![Line::styled("(not read yet)", t.dim())],
        ),
        (1, Some((name, text))) => (
            format!(" File on disk: {name} "),
            vec![Line::from(content(text))],
        ),
        _ => (
            " Files on disk ".to_string(),
            files
                .iter()
                .map(|(name, text)| {
                    Line::from(vec![
                        Span::styled(format!("{name}: "), t.label()),
                        content(text),
                    ])
                })
                .collect(),
        ),
    };
    let block = Block::bordered().title(Span::styled(title, t.title()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// How many rows `line` takes wrapped at `width` (words kept whole, as
/// the paragraph wraps them, so a long word may take one more).
pub(super) fn wrapped_height(line: &Line, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let mut rows = 1;
    let mut used = 0;
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    for word in text.split(' ') {
        let w = word.width();
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else {
            rows += 1 + w / width;
            used = w % width;
        }
    }
    u16::try_from(rows).unwrap_or(u16::MAX)
}

/// The narration line: the run's error, the summary once it ended, else
/// the most important thing the newest step did.
fn explanation<'a>(screen: &Screen, width: u16) -> Line<'a> {
    let t = screen.theme;
    let model = screen.model;
    // An answer to the teacher's last key (why a step cannot happen), too
    // long for the footer, comes first, until the next key.
    if let Some(status) = screen
        .view
        .status
        .as_ref()
        .filter(|s| !fits_footer(s, width))
    {
        return Line::from(vec![
            Span::styled("! ", t.warn()),
            Span::styled(status.clone(), t.warn()),
        ]);
    }
    let text = match model.last_notable() {
        // An error that stopped the run stays in view until the teacher acts.
        _ if !model.errors.is_empty() => format!("The run stopped: {}", model.errors[0]),
        // The summary stays on screen until the teacher quits or runs again.
        _ if model.ended => format!("Finished. {}", screen.scenario.report(model)),
        Some(entry) if model.log.len() > 1 => screen
            .scenario
            .spec()
            .texts
            .explain_entry(entry, model)
            .unwrap_or_default(),
        _ => screen.scenario.intro(),
    };
    let moment = model.last_notable().and_then(|e| e.moment).is_some() && !model.ended;
    let (lead, style) = if moment {
        (format!("{MARK} "), t.alarm())
    } else {
        ("» ".to_string(), Default::default())
    };
    Line::from(vec![
        Span::styled(lead, if moment { t.alarm() } else { t.key() }),
        Span::styled(text, style),
    ])
}

fn draw_footer(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    if let Some(status) = screen
        .view
        .status
        .as_ref()
        .filter(|s| fits_footer(s, area.width))
    {
        frame.render_widget(Paragraph::new(Line::styled(status.clone(), t.warn())), area);
        return;
    }
    let keys: &[(&str, &str)] = if screen.model.ended {
        &[
            ("r", "run again"),
            ("↑↓", "browse"),
            ("?", "help"),
            ("q", "quit"),
        ]
    } else {
        &[
            ("space", "pause"),
            ("n", "step"),
            ("⏎", "step selected"),
            ("+/-", "speed"),
            ("r", "rerun"),
            ("?", "help"),
            ("q", "quit"),
        ]
    };
    let mut spans = Vec::new();
    for (key, does) in keys {
        spans.push(Span::styled(format!(" {key} "), t.key()));
        spans.push(Span::styled(format!("{does} "), t.label()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Whether a status message fits the footer's one line.
fn fits_footer(status: &str, width: u16) -> bool {
    status.width() <= usize::from(width)
}

/// `m:ss.s` from nanoseconds.
pub fn clock(ns: u64) -> String {
    let tenths = ns / 100_000_000;
    format!("{}:{:02}.{}", tenths / 600, (tenths / 10) % 60, tenths % 10)
}

#[cfg(test)]
mod tests;
