//! Drawing: each panel is a function from the model (and the view's own
//! state) to a region of the frame. Nothing here reads `/proc`, a pipe or a
//! clock; everything it shows comes from [`Model`].

mod calls;
mod code;
mod counter;
mod header;
mod help;
mod lines;
mod lock;
mod log;
mod manager;
mod output;
mod pool;
pub mod predict;
mod procs;
mod queue;
mod timeline;

use std::cell::{Cell, RefCell};

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::Model;
use crate::protocol::Pid;
use crate::scenario::{Height, Panel, Scenario, Side};
use crate::ui::theme::{Theme, MARK};

pub use log::first_row as log_first_row;
pub use procs::{doing as procs_doing, row_at, row_order, SortKey};
pub use timeline::{lane_order, TimelineView};

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
    /// Whether the teacher asked for the code panel (`c`), shown or
    /// hidden; `None` leaves it to the width ([`CODE_WIDTH`]).
    pub code: Option<bool>,
    /// The code panel's first line on screen, kept between frames so that
    /// it scrolls only when the line it follows leaves its middle.
    pub code_top: Cell<usize>,
    /// The width of the last frame, for `c` to turn over what it showed.
    pub width: Cell<u16>,
    /// Stepped back through the history: the events shown, of how many.
    pub history: Option<(usize, usize)>,
    /// A replay: whether it plays, and at how many events a second.
    pub replay: Option<(bool, f64)>,
    /// The timeline (`t`) in the table's place: shown or not, its zoom
    /// and scroll.
    pub timeline: TimelineView,
    /// A challenge (`mpviz challenge NAME`): its line under the header (the
    /// goal and the moves left, or the verdict), and whether it is over.
    pub challenge: Option<(String, Option<bool>)>,
    /// The events panel's entry (its `seq`) that met the challenge's goal.
    pub goal_met: Option<u64>,
    /// Whether `status` goes on the narration line whatever its length,
    /// keeping the key bar (a challenge's hint).
    pub status_above: bool,
}

/// From this many rows on, the body's left column holds the table and the
/// code under it; below, the code the teacher asked for with `c` takes the
/// table's place (shown by default on a wide terminal, it goes under a
/// smaller table).
const CODE_UNDER_TABLE: u16 = 24;
/// The table's least height beside the code: its head and four rows.
const MIN_TABLE: u16 = 7;

/// From this many columns on, the code panel is shown unless `c` hid it.
pub const CODE_WIDTH: u16 = 120;

impl ViewState {
    /// Whether the code panel is shown on a terminal `width` columns wide.
    pub fn code_shown(&self, width: u16) -> bool {
        self.code.unwrap_or(width >= CODE_WIDTH)
    }

    /// `c`: shows the code panel if the last frame did not, else hides it.
    pub fn toggle_code(&mut self) {
        self.code = Some(!self.code_shown(self.width.get()));
    }
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
/// characters), with `…` where it was cut. The cut falls between words
/// where [`line_end`] allows it, so that a number (a PID, a value) is shown
/// whole or not at all.
pub fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let end = line_end(text, width - 1, char::is_whitespace);
    format!("{}…", text[..end].trim_end())
}

/// Where a line of `text` at most `width` columns wide ends (a byte index):
/// before a space or a wide character that does not fit, else after the
/// last character `breaks_after` accepts (or the last wide one: Chinese
/// breaks between any two characters) in the line's last two thirds, else
/// where the line is full.
pub fn line_end(text: &str, width: usize, breaks_after: impl Fn(char) -> bool) -> usize {
    let mut used = 0;
    // Where the line could end after a break, and how wide it is there;
    // and the break before that one.
    let mut after_break: Option<(usize, usize)> = None;
    let mut before: Option<(usize, usize)> = None;
    for (at, c) in text.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            // No row starts with closing punctuation (。，、): the character
            // before it goes down with it.
            let closes_right_after_a_break =
                CLOSING.contains(c) && after_break.is_some_and(|(last, _)| last == at);
            if let Some((end, wide)) = before.filter(|_| closes_right_after_a_break) {
                if wide * 3 >= width {
                    return end;
                }
            }
            return match after_break {
                _ if c.is_whitespace() || w > 1 => at,
                Some((end, wide)) if wide * 3 >= width => end,
                _ => at,
            };
        }
        used += w;
        if breaks_after(c) || w > 1 {
            before = after_break;
            after_break = Some((at + c.len_utf8(), used));
        }
    }
    text.len()
}

/// Punctuation that closes: a row never starts with it.
const CLOSING: &str = "。，、；：！？）」』”’》…";

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
    /// Every process's lanes, for the timeline (`None`: no timeline kept).
    pub timeline: Option<&'a crate::ui::timeline::Timeline>,
}

pub fn draw(frame: &mut Frame, screen: &Screen) {
    let area = frame.area();
    screen.view.width.set(area.width);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let t = screen.theme;
        let need = format!("{MIN_WIDTH}×{MIN_HEIGHT}");
        let have = format!("{}×{}", area.width, area.height);
        let say = screen
            .scenario
            .spec()
            .texts
            .say("too_small", &[("need", &need), ("have", &have)]);
        frame.render_widget(
            Paragraph::new(wrap_line(&Line::styled(say, t.warn()), area.width)),
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
        } else if screen.model.actions == 0 {
            // Before the first action the narration is the scenario's
            // introduction: whole, as nothing else moves yet.
            area.height / 4
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
    frame.render_widget(Paragraph::new(wrap_line(&explanation, area.width)), explain);
    draw_footer(frame, footer, screen);
    if screen.view.help {
        help::draw(frame, area, screen);
    }
}

fn draw_body(frame: &mut Frame, area: Rect, screen: &Screen) {
    let show = screen.scenario.show();
    // The table takes what the side panels leave; on a wide terminal the side
    // column grows so that the log shows whole sentences. Panels that say
    // much per row ask for half the width (some only where the table keeps
    // enough beside them).
    let half = match show.side {
        Side::Narrow => false,
        Side::Half => true,
        Side::HalfWhenWide => area.width >= 100,
    };
    let side = if half {
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
    // The timeline, asked for, takes the table's place even where the code
    // had taken it (a short terminal): the code then waits under it, or
    // until `t` gives the table back.
    let timeline_asked = screen.view.timeline.shown && screen.timeline.is_some();
    let code_shown = screen.view.code_shown(frame.area().width)
        && !(timeline_asked && left.height < CODE_UNDER_TABLE && screen.view.code.is_some());
    let (table, under) = if code_shown {
        // The code under the table where both keep room, else in its place.
        if left.height >= CODE_UNDER_TABLE || screen.view.code.is_none() {
            let table = table_height.clamp(MIN_TABLE, left.height / 2);
            let [table, code] =
                Layout::vertical([Constraint::Length(table), Constraint::Fill(1)]).areas(left);
            code::draw(frame, code, screen);
            (Some(table), None)
        } else {
            code::draw(frame, left, screen);
            (None, None)
        }
    } else if show.log_under_table && table_height.saturating_add(8) <= left.height {
        let [table, log] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(5)]).areas(left);
        (Some(table), Some(log))
    } else {
        (Some(left), None)
    };
    match (table, screen.timeline) {
        (Some(table), Some(lanes)) if screen.view.timeline.shown => {
            timeline::draw(frame, table, screen, lanes)
        }
        (Some(table), _) => procs::draw(frame, table, screen),
        // No table on screen: a click finds no row.
        (None, _) => screen.view.table_rows.set(Rect::default()),
    }

    // Each panel's height, top to bottom; one as tall as its content is
    // measured against what the panels above it left.
    let file_lines = show
        .panels
        .iter()
        .any(|(p, _)| *p == Panel::Lines)
        .then(|| screen.scenario.file_lines(screen.model))
        .flatten();
    let counter = show
        .panels
        .iter()
        .any(|(p, _)| *p == Panel::Counter)
        .then(|| screen.scenario.counter(screen.model))
        .flatten();
    let mut left_over = right.height;
    let constraints: Vec<Constraint> = show
        .panels
        .iter()
        .map(|&(panel, height)| {
            if panel == Panel::Log && under.is_some() {
                return Constraint::Length(0);
            }
            // How tall the panel's content is, for those that can say.
            let content = |left_over: u16| match panel {
                Panel::Lock => Some(lock::height(screen.model, right.height)),
                Panel::Lines => Some(match &file_lines {
                    Some((lines, _)) => lines::height(lines.len(), left_over),
                    None => files_height(screen.model),
                }),
                Panel::Counter if counter.is_some() => Some(counter::HEIGHT),
                Panel::Counter | Panel::File => Some(files_height(screen.model)),
                Panel::Queue => Some(queue::HEIGHT),
                Panel::Pool | Panel::Manager | Panel::Calls | Panel::Output | Panel::Log => None,
            };
            match (height, content(left_over)) {
                (Height::Content, Some(h)) => {
                    left_over = left_over.saturating_sub(h);
                    Constraint::Length(h)
                }
                (Height::Percent(_), _) if under.is_some() => Constraint::Fill(1),
                (Height::Percent(percent), _) => Constraint::Percentage(percent),
                (Height::Third, _) => Constraint::Length((right.height / 3).max(3)),
                _ if panel == Panel::Log => Constraint::Min(3),
                // What the others leave (also for a panel that cannot
                // measure its content).
                _ => Constraint::Fill(1),
            }
        })
        .collect();
    let areas = Layout::vertical(constraints).split(right);
    for (&(panel, _), &panel_area) in show.panels.iter().zip(areas.iter()) {
        match panel {
            Panel::Lock => lock::draw(frame, panel_area, screen),
            Panel::Lines => match &file_lines {
                Some((lines, started)) => lines::draw(frame, panel_area, screen, lines, started),
                None => draw_files(frame, panel_area, screen),
            },
            Panel::Counter => match &counter {
                Some(c) => counter::draw(frame, panel_area, screen, c),
                None => draw_files(frame, panel_area, screen),
            },
            Panel::File => draw_files(frame, panel_area, screen),
            Panel::Queue => match screen.model.queues.iter().next() {
                Some((name, q)) => queue::draw(frame, panel_area, screen, name, q),
                None => queue::draw_unseen(frame, panel_area, screen),
            },
            Panel::Pool => pool::draw(frame, panel_area, screen),
            Panel::Manager => manager::draw(frame, panel_area, screen),
            Panel::Calls => calls::draw(frame, panel_area, screen),
            Panel::Output => output::draw(frame, panel_area, screen),
            Panel::Log => log::draw(frame, under.unwrap_or(panel_area), screen),
        }
    }
}

fn files_height(model: &Model) -> u16 {
    (model.files.len().max(1) as u16) + 2
}

/// The real content of each file the scenario watches, as the parent last read it.
fn draw_files(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let files = &screen.model.files;
    let texts = &screen.scenario.spec().texts;
    let content = |text: &str| {
        if text.is_empty() {
            Span::styled(texts.say("panel_file_being_rewritten", &[]), t.bad())
        } else {
            Span::styled(text.replace('\n', "⏎"), t.value())
        }
    };
    let (title, lines) = match (files.len(), files.iter().next()) {
        (0, _) | (_, None) => (
            texts.say("panel_file_none", &[]),
            vec![Line::styled(texts.say("panel_file_not_read", &[]), t.dim())],
        ),
        (1, Some((name, text))) => (
            texts.say("panel_file", &[("name", name)]),
            vec![Line::from(content(text))],
        ),
        _ => (
            texts.say("panel_files", &[]),
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

/// How many rows `line` takes wrapped at `width` (see [`wrap_line`]).
pub(super) fn wrapped_height(line: &Line, width: u16) -> u16 {
    u16::try_from(wrap_line(line, width).len()).unwrap_or(u16::MAX)
}

/// `lines` wrapped at `width` (see [`wrap_line`]).
pub(super) fn wrap_lines(lines: &[Line], width: u16) -> Vec<Line<'static>> {
    lines.iter().flat_map(|l| wrap_line(l, width)).collect()
}

/// A panel of entries, newest at the bottom: as many of the newest as fit
/// `area` (inside its border), each wrapped to its width, drawn under
/// `title`. `newest_first` gives them newest first.
pub(super) fn draw_newest<'a>(
    frame: &mut Frame,
    area: Rect,
    title: Span<'a>,
    newest_first: impl Iterator<Item = Line<'a>>,
) {
    let rows = area.height.saturating_sub(2);
    let width = area.width.saturating_sub(2);
    let mut used = 0;
    let mut lines: Vec<Line> = newest_first
        .take_while(|line| {
            used += wrapped_height(line, width);
            used <= rows
        })
        .collect();
    lines.reverse();
    let block = Block::bordered().title(title);
    frame.render_widget(Paragraph::new(wrap_lines(&lines, width)).block(block), area);
}

/// `line` in rows of at most `width` columns, by display width, each span
/// keeping its style: broken after a space or between two wide (Chinese)
/// characters where [`line_end`] allows it, the next row starting after
/// the spaces it broke at. Every panel wraps with it rather than with the
/// paragraph's own wrapping, which lets a row of wide characters run over
/// a border.
pub(super) fn wrap_line(line: &Line, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    // Each span's bytes in `text`, and its style.
    let mut spans = Vec::with_capacity(line.spans.len());
    let mut at = 0;
    for span in &line.spans {
        spans.push((at, at + span.content.len(), span.style));
        at += span.content.len();
    }
    let mut rows = Vec::new();
    let mut start = 0;
    loop {
        let rest = &text[start..];
        let end = start
            + match line_end(rest, width, char::is_whitespace) {
                // At least one character, however narrow the row.
                0 => rest.chars().next().map_or(0, char::len_utf8),
                n => n,
            };
        let row: Vec<Span<'static>> = spans
            .iter()
            .filter_map(|&(from, to, style)| {
                let (from, to) = (from.max(start), to.min(end));
                (from < to).then(|| Span::styled(text[from..to].to_string(), style))
            })
            .collect();
        let mut row = Line::from(row).style(line.style);
        row.alignment = line.alignment;
        rows.push(row);
        start = end + (text[end..].len() - text[end..].trim_start_matches(' ').len());
        if start >= text.len() {
            return rows;
        }
    }
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
        .filter(|s| screen.view.status_above || !fits_footer(s, width))
    {
        return Line::from(vec![
            Span::styled("! ", t.warn()),
            Span::styled(status.clone(), t.warn()),
        ]);
    }
    let texts = &screen.scenario.spec().texts;
    let text = match model.last_notable() {
        // An error that stopped the run stays in view until the teacher acts.
        _ if !model.errors.is_empty() => {
            texts.say("narration_error", &[("error", &model.errors[0])])
        }
        // The summary stays on screen until the teacher quits or runs again.
        _ if model.ended => texts.say(
            "narration_end",
            &[("report", &screen.scenario.report(model))],
        ),
        // In a challenge the learner moves: a pause says how.
        Some(entry)
            if screen.view.challenge.is_some()
                && matches!(
                    entry.event.body,
                    crate::protocol::Body::Pace { paused: true, .. }
                ) =>
        {
            texts.say("narration_challenge_paused", &[])
        }
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
        .filter(|s| !screen.view.status_above && fits_footer(s, area.width))
    {
        frame.render_widget(Paragraph::new(Line::styled(status.clone(), t.warn())), area);
        return;
    }
    // A key, and the key of the text that says what it does.
    let keys: &[(&str, &str)] = if screen.view.replay.is_some() {
        &[
            ("space", "footer_play"),
            ("←/→", "footer_history_step"),
            ("[ ]", "footer_moments"),
            ("+/-", "footer_speed"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    } else if screen.view.history.is_some() {
        &[
            ("←/→", "footer_history_step"),
            ("[ ]", "footer_moments"),
            ("End", "footer_live"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    } else if let Some((_, Some(_))) = &screen.view.challenge {
        // A challenge won or lost: a move back, or a look back.
        &[
            ("u", "footer_undo"),
            ("←", "footer_back"),
            ("c", "footer_code"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    } else if screen.view.challenge.is_some() {
        &[
            ("n", "footer_move"),
            ("⏎", "footer_move_selected"),
            ("h", "footer_hint"),
            ("u", "footer_undo"),
            ("c", "footer_code"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    } else if screen.model.ended {
        &[
            ("r", "footer_run_again"),
            ("←", "footer_back"),
            ("↑↓", "footer_browse"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    } else {
        &[
            ("space", "footer_pause"),
            ("n", "footer_step"),
            ("⏎", "footer_step_selected"),
            ("+/-", "footer_speed"),
            ("r", "footer_rerun"),
            ("c", "footer_code"),
            ("?", "footer_help"),
            ("q", "footer_quit"),
        ]
    };
    let texts = &screen.scenario.spec().texts;
    // The timeline's keys while it is shown, `t` otherwise: before the code
    // key, or help and quit, which stay last.
    let timeline: &[(&str, &str)] = if screen.view.timeline.shown {
        &[
            ("t", "footer_table"),
            ("z/Z", "footer_zoom"),
            ("h/l", "footer_scroll"),
        ]
    } else {
        &[("t", "footer_timeline")]
    };
    let at = keys
        .iter()
        .position(|(k, _)| *k == "c")
        .unwrap_or(keys.len().saturating_sub(2));
    let keys: Vec<(&str, &str)> = keys[..at]
        .iter()
        .chain(timeline)
        .chain(&keys[at..])
        .copied()
        .collect();
    // The keys that may go, until the bar fits: rerun, the code key, the
    // timeline's own (`t` stays), then the speed.
    let width_of = |(key, does): &(&str, &str)| key.width() + texts.say(does, &[]).width() + 3;
    let mut all: usize = keys.iter().map(width_of).sum();
    let mut dropped: Vec<&str> = Vec::new();
    for key in ["r", "c", "h/l", "z/Z", "+/-"] {
        if all <= usize::from(area.width) {
            break;
        }
        if let Some(k) = keys.iter().find(|(k, _)| *k == key) {
            all -= width_of(k);
            dropped.push(key);
        }
    }
    let keys = keys.iter().filter(|(key, _)| !dropped.contains(key));
    let mut spans = Vec::new();
    for (key, does) in keys {
        spans.push(Span::styled(format!(" {key} "), t.key()));
        spans.push(Span::styled(
            format!("{} ", texts.say(does, &[])),
            t.label(),
        ));
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
