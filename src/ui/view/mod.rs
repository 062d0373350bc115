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

use std::cell::Cell;
use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::model::Model;
use crate::protocol::Pid;
use crate::scenario::Scenario;
use crate::ui::theme::Theme;

pub use procs::{doing as procs_doing, row_order, SortKey};

/// What the screen remembers that is not the run's state.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// The selected process, by PID, so that sorting and updates do not move it.
    pub selected: Option<Pid>,
    pub sort: SortKey,
    pub help: bool,
    /// A one-off message for the teacher (cleared by the next key).
    pub status: Option<String>,
    /// Wall time since the run started (frozen once it ended).
    pub elapsed: Duration,
    /// The first table row on screen; kept between frames so that the table
    /// scrolls only when the selection leaves it.
    pub offset: Cell<usize>,
    /// Where the table's rows were drawn, for mouse clicks.
    pub table_rows: Cell<Rect>,
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
    let [top, body, explain, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(6),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, top, screen);
    draw_body(frame, body, screen);
    draw_explanation(frame, explain, screen);
    draw_footer(frame, footer, screen);
    if screen.view.help {
        help::draw(frame, area, screen);
    }
}

fn draw_body(frame: &mut Frame, area: Rect, screen: &Screen) {
    // The table takes what the side panels leave; on a wide terminal the side
    // column grows so that the log shows whole sentences.
    let pool = !screen.model.tasks.is_empty() || screen.scenario.name() == "pool";
    // A pool's results say where each callback ran, the manager's panel
    // shows two dicts: give them half the width.
    let side = if pool || matches!(screen.scenario.name(), "manager" | "lifecycle") {
        (area.width / 2).clamp(30, 90)
    } else {
        (area.width * 3 / 8).clamp(30, 72)
    };
    let [table, right] =
        Layout::horizontal([Constraint::Min(30), Constraint::Length(side)]).areas(area);
    procs::draw(frame, table, screen);

    if pool {
        let [pool_area, log_area] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Min(3)]).areas(right);
        pool::draw(frame, pool_area, screen);
        log::draw(frame, log_area, screen);
        return;
    }
    if screen.scenario.name() == "manager" {
        let [manager_area, log_area] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Min(3)]).areas(right);
        manager::draw(frame, manager_area, screen);
        log::draw(frame, log_area, screen);
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
        let [lock_area, calls_area, log_area] = Layout::vertical([
            Constraint::Length(lock_height),
            Constraint::Percentage(55),
            Constraint::Min(3),
        ])
        .areas(right);
        lock::draw(frame, lock_area, screen);
        calls::draw(frame, calls_area, screen);
        log::draw(frame, log_area, screen);
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

fn draw_explanation(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let model = screen.model;
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
    let line = Line::from(vec![Span::styled("» ", t.key()), Span::raw(text)]);
    frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), area);
}

fn draw_footer(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    if let Some(status) = &screen.view.status {
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

/// `m:ss.s` from nanoseconds.
pub fn clock(ns: u64) -> String {
    let tenths = ns / 100_000_000;
    format!("{}:{:02}.{}", tenths / 600, (tenths / 10) % 60, tenths % 10)
}

#[cfg(test)]
mod tests;
