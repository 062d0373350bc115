//! The timeline (`t`): one lane per process, time running right, in the
//! table's place. Each column is a stretch of time; its cell shows the most
//! telling thing the process did in it (see [`Doing::rank`]) as a glyph
//! that reads without colour, coloured where colour is on. The lanes end at
//! the cursor (the live edge or the event stepped back to): a stepped-back
//! timeline is the timeline of the events up to there.
//!
//! Only the lanes on screen are drawn, and each cell finds its spans by
//! binary search: a frame costs the same for a thousand lanes of a
//! thousand spans as for a few.

use std::cell::Cell;

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{cut, pad, Screen};
use crate::protocol::Pid;
use crate::scenario::Texts;
use crate::ui::theme::{Theme, MARK};
use crate::ui::timeline::{Doing, Lane, Timeline};

/// The timeline's own view state: shown or not, its zoom, its scroll.
#[derive(Debug, Clone, Default)]
pub struct TimelineView {
    pub shown: bool,
    /// Nanoseconds a column; `None`: the whole run fits the width.
    pub zoom: Option<u64>,
    /// The time at the left edge once scrolled by hand; `None` keeps the
    /// cursor in view at the right.
    pub start: Option<u64>,
    /// The first lane on screen, kept between frames so that the lanes
    /// scroll only when the selection leaves them.
    pub offset: Cell<usize>,
    /// What the last frame showed: the left edge, the nanoseconds a column
    /// and the number of columns.
    pub drawn: Cell<(u64, u64, u16)>,
}

/// The zoom steps, in nanoseconds a column: 1, 2, 5 times a power of ten,
/// from a microsecond to a hundred seconds.
fn steps() -> impl Iterator<Item = u64> {
    (3..=11u32).flat_map(|p| [1, 2, 5].map(|m| m * 10u64.pow(p)))
}

impl TimelineView {
    /// Zooms in: the next step under what the last frame showed.
    pub fn zoom_in(&mut self) {
        let (start, w, cols) = self.drawn.get();
        let to = steps().filter(|&s| s < w).last().unwrap_or(1_000);
        self.rezoom(start, w, cols, Some(to));
    }

    /// Zooms out, up to the whole run.
    pub fn zoom_out(&mut self, now_ns: u64) {
        let (start, w, cols) = self.drawn.get();
        let whole = fit(now_ns, cols);
        let to = steps().find(|&s| s > w).filter(|&s| s < whole);
        self.rezoom(start, w, cols, to);
    }

    /// Keeps the middle of what was shown in the middle (or the cursor at
    /// the right, when following it).
    fn rezoom(&mut self, start: u64, w: u64, cols: u16, to: Option<u64>) {
        self.zoom = to;
        match (to, self.start) {
            (Some(to), Some(_)) => {
                let middle = start + w * u64::from(cols) / 2;
                let at = middle.saturating_sub(to * u64::from(cols) / 2);
                self.start = Some(at / to * to);
            }
            _ => self.start = None,
        }
    }

    /// Scrolls a quarter of the width earlier (`by` < 0) or later; back at
    /// the cursor it follows it again. The whole run on screen: nothing to
    /// scroll.
    pub fn scroll(&mut self, by: i64, now_ns: u64) {
        let Some(w) = self.zoom else {
            return;
        };
        let (start, _, cols) = self.drawn.get();
        let quarter = i64::from((cols / 4).max(1)) * by;
        let to = (start as i64 + quarter * w as i64).max(0) as u64;
        self.start = (to < follow_start(now_ns, w, cols)).then_some(to);
    }

    /// Follows the cursor again.
    pub fn follow(&mut self) {
        self.start = None;
    }
}

/// The nanoseconds a column that fit `now_ns` into `cols` columns.
fn fit(now_ns: u64, cols: u16) -> u64 {
    (now_ns + 1).div_ceil(u64::from(cols.max(1))).max(1)
}

/// The left edge that puts `now_ns` in the last of `cols` columns of `w`.
fn follow_start(now_ns: u64, w: u64, cols: u16) -> u64 {
    (now_ns / w + 1).saturating_sub(u64::from(cols)) * w
}

/// A glyph and its colour for what a cell shows.
fn glyph(t: Theme, doing: Doing) -> (&'static str, Style) {
    let fg = |c: Color| {
        if t.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    };
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let g = |s: &'static str, style| (s, style);
    match doing {
        Doing::LockHeld => g("█", t.holder()),
        Doing::LockWait => g("░", t.warn()),
        Doing::Blocked => g("▒", fg(Color::Red)),
        Doing::Sleeping => g("z", fg(Color::Blue)),
        Doing::AtGate => g("·", t.paused()),
        Doing::Task => g("=", t.good()),
        Doing::Running => g("-", t.dim()),
        Doing::Exited(Some(code)) if (0..=9).contains(&code) => (
            DIGITS[code as usize],
            t.exitcode(code).add_modifier(Modifier::BOLD),
        ),
        Doing::Exited(Some(code)) => g(MARK, t.exitcode(code)),
        Doing::Exited(None) => g("┤", t.dim()),
    }
}

/// The legend's entries: a sample of each glyph and its word.
const LEGEND: &[(Doing, &str)] = &[
    (Doing::LockHeld, "timeline_held"),
    (Doing::LockWait, "timeline_lock_wait"),
    (Doing::Blocked, "timeline_blocked"),
    (Doing::Sleeping, "timeline_sleeping"),
    (Doing::AtGate, "timeline_gate"),
    (Doing::Task, "timeline_task"),
    (Doing::Running, "timeline_running"),
    (Doing::Exited(Some(0)), "timeline_exit"),
];

/// The legend of the glyphs on screen (`seen`, a bit for each rank), as
/// many entries as fit `width` columns.
fn legend(t: Theme, texts: &Texts, width: usize, seen: u16) -> Line<'static> {
    let mut spans = Vec::new();
    let mut used = 1;
    spans.push(Span::raw(" "));
    for &(doing, key) in LEGEND {
        if seen & (1 << doing.rank()) == 0 {
            continue;
        }
        let (g, style) = glyph(t, doing);
        let g = if key == "timeline_exit" { "0-9" } else { g };
        let word = texts.say(key, &[]);
        let w = g.width() + word.width() + 2;
        if used + w > width {
            break;
        }
        used += w;
        spans.push(Span::styled(g, style));
        spans.push(Span::styled(format!(" {word} "), t.label()));
    }
    Line::from(spans)
}

/// A time on the scale, to as many digits as a tick `step` apart needs.
fn at_time(ns: u64, step: u64) -> String {
    let (unit, div) = if step >= 100_000_000 {
        ("s", 1e9)
    } else if step >= 100_000 || ns >= 1_000_000 {
        ("ms", 1e6)
    } else {
        ("µs", 1e3)
    };
    let digits = (div / step.max(1) as f64).log10().ceil().max(0.0) as usize;
    format!("{:.*}{unit}", digits, ns as f64 / div)
}

/// The scale: a time every few columns, and `▼` over the cursor's column.
fn scale(t: Theme, start: u64, w: u64, cols: usize, cursor: Option<usize>) -> Line<'static> {
    let mut row: Vec<char> = vec![' '; cols];
    // A tick where its label and a gap fit between two.
    let step = steps()
        .chain([1_000_000_000_000])
        .find(|&s| s >= w * 11)
        .unwrap_or(w * 11);
    let mut tick = start.div_ceil(step) * step;
    while tick < start + w * cols as u64 {
        let col = ((tick - start) / w) as usize;
        let label = format!("╵{}", at_time(tick, step));
        for (i, c) in label.chars().enumerate() {
            if col + i < cols {
                row[col + i] = c;
            }
        }
        tick += step;
    }
    let mut spans = Vec::new();
    match cursor {
        Some(c) if c < cols => {
            spans.push(Span::styled(row[..c].iter().collect::<String>(), t.dim()));
            spans.push(Span::styled("▼", t.key()));
            spans.push(Span::styled(
                row[c + 1..].iter().collect::<String>(),
                t.dim(),
            ));
        }
        _ => spans.push(Span::styled(row.into_iter().collect::<String>(), t.dim())),
    }
    Line::from(spans)
}

/// At most this many spans are weighed for one cell; past them the cell
/// shows the most telling of those (a column of a long run zoomed out may
/// cover thousands).
const WEIGH: usize = 32;

/// One lane's cells from `start`, `w` nanoseconds each, up to `now_ns`;
/// what they show is added to `seen` (a bit for each rank).
#[allow(clippy::too_many_arguments)]
fn cells(
    seen: &mut u16,
    t: Theme,
    lane: &Lane,
    k: usize,
    start: u64,
    w: u64,
    cols: usize,
    now_ns: u64,
) -> Vec<Span<'static>> {
    let spans = lane.shown(k);
    let mut out: Vec<Span<'static>> = Vec::with_capacity(cols);
    // Runs of the same glyph and style go in one span.
    let mut run = String::new();
    let mut run_style = Style::new();
    for c in 0..cols {
        let from = start + c as u64 * w;
        let to = from + w;
        let cell = if from > now_ns {
            None
        } else {
            let first = match spans.partition_point(|s| s.t_ns <= from).checked_sub(1) {
                Some(i) => Some(i),
                None if spans.first().is_some_and(|s| s.t_ns < to) => Some(0),
                None => None,
            };
            first.and_then(|i| {
                let mut best: Option<Doing> = None;
                for s in spans[i..].iter().take_while(|s| s.t_ns < to).take(WEIGH) {
                    match s.doing {
                        // The exit in its own column; after it, nothing.
                        Doing::Exited(_) if s.t_ns >= from => return Some(s.doing),
                        Doing::Exited(_) => return None,
                        d if best.map_or(0, Doing::rank) < d.rank() => best = Some(d),
                        _ => {}
                    }
                }
                best
            })
        };
        let (g, style) = match cell {
            Some(doing) => {
                *seen |= 1 << doing.rank();
                glyph(t, doing)
            }
            None => (" ", Style::new()),
        };
        if style != run_style && !run.is_empty() {
            out.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push_str(g);
    }
    if !run.is_empty() {
        out.push(Span::styled(run, run_style));
    }
    out
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, timeline: &Timeline) {
    let t = screen.theme;
    let view = screen.view;
    let tl = &view.timeline;
    let texts = &screen.scenario.spec().texts;
    let k = view.history.map_or(usize::MAX, |(k, _)| k);
    let now_ns = screen.model.now_ns;
    let lanes = timeline.lanes_at(k);
    let inner = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    // The first row is the scale; the lanes under it.
    let rows = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    view.table_rows.set(rows);
    let visible = usize::from(rows.height);
    let selected = view
        .selected
        .and_then(|pid| timeline.position(pid))
        .filter(|&i| i < lanes.len());
    let mut offset = tl.offset.get().min(lanes.len().saturating_sub(visible));
    if let Some(s) = selected {
        if s < offset {
            offset = s;
        } else if visible > 0 && s >= offset + visible {
            offset = s + 1 - visible;
        }
    }
    tl.offset.set(offset);

    // The left column: each lane's name and PID, as wide as the widest on
    // screen (a PID whole), at most two fifths of the width.
    let on_screen = &lanes[offset.min(lanes.len())..(offset + visible).min(lanes.len())];
    let pid_width = on_screen
        .iter()
        .map(|l| l.pid.to_string().len())
        .max()
        .unwrap_or(0);
    let name_width = on_screen
        .iter()
        .map(|l| l.name.width())
        .max()
        .unwrap_or(0)
        .min((usize::from(inner.width) * 2 / 5).saturating_sub(pid_width + 2))
        .max(1);
    let left = name_width + 1 + pid_width + 1;
    let cols = usize::from(inner.width).saturating_sub(left);
    let cols16 = u16::try_from(cols).unwrap_or(u16::MAX);
    let w = tl.zoom.unwrap_or_else(|| fit(now_ns, cols16));
    let start = match (tl.zoom, tl.start) {
        (None, _) => 0,
        (Some(_), Some(start)) => start,
        (Some(w), None) => follow_start(now_ns, w, cols16),
    };
    tl.drawn.set((start, w, cols16));
    let cursor = (now_ns >= start)
        .then(|| ((now_ns - start) / w) as usize)
        .filter(|&c| c < cols);

    let mut lines = Vec::with_capacity(visible + 1);
    let mut seen = 0u16;
    let mut head = vec![Span::raw(" ".repeat(left))];
    head.extend(scale(t, start, w, cols, cursor).spans);
    lines.push(Line::from(head));
    if lanes.is_empty() {
        lines.push(Line::styled(texts.say("timeline_empty", &[]), t.dim()));
    }
    for (i, lane) in on_screen.iter().enumerate() {
        let who = format!(
            "{} {:>pid_width$} ",
            pad(&keep_end(&lane.name, name_width), name_width),
            lane.pid
        );
        let style = if Some(offset + i) == selected {
            t.selected()
        } else if matches!(
            lane.shown(k).last().map(|s| s.doing),
            Some(Doing::Exited(_))
        ) {
            t.dim()
        } else {
            t.label()
        };
        let mut spans = vec![Span::styled(who, style)];
        spans.extend(cells(&mut seen, t, lane, k, start, w, cols, now_ns));
        lines.push(Line::from(spans));
    }

    let scope = match (tl.zoom, tl.start) {
        (None, _) => texts.say("timeline_whole", &[]),
        (Some(w), None) => texts.say("timeline_zoom", &[("step", &at_time(w, w))]),
        (Some(w), Some(_)) => texts.say("timeline_scrolled", &[("step", &at_time(w, w))]),
    };
    let title = Line::from(vec![
        Span::styled(texts.say("timeline_title", &[]), t.title()),
        Span::styled(cut(&scope, usize::from(inner.width) / 2), t.label()),
    ]);
    let block = Block::bordered().title(title).title_bottom(legend(
        t,
        texts,
        usize::from(inner.width),
        seen,
    ));
    frame.render_widget(Paragraph::new(lines).block(block), area);

    if lanes.len() > visible && visible > 0 {
        let mut state = ScrollbarState::new(lanes.len().saturating_sub(visible)).position(offset);
        frame.render_stateful_widget(
            // No arrows (▼ marks the cursor) and no solid thumb (█ is a
            // held lock).
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(None)
                .end_symbol(None)
                .track_symbol(Some("│"))
                .thumb_symbol("┃"),
            Rect {
                y: area.y + 1,
                height: area.height.saturating_sub(2),
                ..area
            },
            &mut state,
        );
    }
}

/// The PIDs of the lanes a cursor at `k` events shows, top to bottom: the
/// order ↑ ↓ move the selection in while the timeline is shown.
pub fn lane_order(timeline: &Timeline, k: usize) -> Vec<Pid> {
    timeline.lanes_at(k).iter().map(|l| l.pid).collect()
}

/// `name` in `width` columns: where it does not fit, its end, which tells
/// lanes apart (`Process-1`, `Process-12`: `…ss-1`, `…s-12`).
fn keep_end(name: &str, width: usize) -> String {
    if name.width() <= width || width == 0 {
        return name.to_string();
    }
    let mut kept = Vec::new();
    let mut used = 1;
    for c in name.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        kept.push(c);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A view as a frame of `cols` columns left it, the whole run of
    /// `now_ns` on screen or zoomed.
    fn drawn(view: &TimelineView, now_ns: u64, cols: u16) -> TimelineView {
        let w = view.zoom.unwrap_or_else(|| fit(now_ns, cols));
        let start = match (view.zoom, view.start) {
            (None, _) => 0,
            (Some(_), Some(s)) => s,
            (Some(w), None) => follow_start(now_ns, w, cols),
        };
        let v = view.clone();
        v.drawn.set((start, w, cols));
        v
    }

    #[test]
    fn zoom_steps_in_and_back_out_to_the_whole_run() {
        let now = 1000 * MS;
        let whole = TimelineView::default();
        // 40 columns for a second: 25 ms a column; in, 20 ms, then 10 ms.
        let mut v = drawn(&whole, now, 40);
        assert_eq!(v.drawn.get().1, 25 * MS + 1);
        v.zoom_in();
        assert_eq!(v.zoom, Some(20 * MS));
        let mut v = drawn(&v, now, 40);
        v.zoom_in();
        assert_eq!(v.zoom, Some(10 * MS));
        // Following the cursor: it is in the last column.
        let v = drawn(&v, now, 40);
        let (start, w, _) = v.drawn.get();
        assert_eq!((now - start) / w, 39);
        // Out: 20 ms, then the whole run again (50 ms would show more
        // than there is).
        let mut v = v;
        v.zoom_out(now);
        assert_eq!(v.zoom, Some(20 * MS));
        let mut v = drawn(&v, now, 40);
        v.zoom_out(now);
        assert_eq!(v.zoom, None);
        // The finest step is a microsecond.
        let mut v = TimelineView {
            zoom: Some(1_000),
            ..TimelineView::default()
        };
        v = drawn(&v, now, 40);
        v.zoom_in();
        assert_eq!(v.zoom, Some(1_000));
    }

    #[test]
    fn scrolling_goes_back_in_time_and_follows_again_at_the_cursor() {
        let now = 1000 * MS;
        let mut v = drawn(
            &TimelineView {
                zoom: Some(10 * MS),
                ..TimelineView::default()
            },
            now,
            40,
        );
        let follow = v.drawn.get().0;
        assert_eq!(follow, 610 * MS);
        // The whole run on screen: nothing to scroll.
        let mut whole = drawn(&TimelineView::default(), now, 40);
        whole.scroll(-1, now);
        assert_eq!(whole.start, None);
        // A quarter of the width (10 columns) earlier, twice.
        v.scroll(-1, now);
        assert_eq!(v.start, Some(510 * MS));
        let mut v = drawn(&v, now, 40);
        v.scroll(-1, now);
        assert_eq!(v.start, Some(410 * MS));
        // Zoomed in, the middle stays in the middle.
        let mut z = drawn(&v, now, 40);
        z.zoom_in();
        assert_eq!(z.zoom, Some(5 * MS));
        assert_eq!(z.start, Some(510 * MS));
        // Later again: back at the cursor it follows it.
        let mut v = drawn(&v, now, 40);
        v.scroll(1, now);
        assert_eq!(v.start, Some(510 * MS));
        let mut v = drawn(&v, now, 40);
        v.scroll(1, now);
        assert_eq!(v.start, None);
        // f follows from anywhere.
        let mut v = drawn(&v, now, 40);
        v.scroll(-1, now);
        assert!(v.start.is_some());
        v.follow();
        assert_eq!(v.start, None);
    }

    #[test]
    fn the_scale_says_times_in_the_unit_its_ticks_need() {
        assert_eq!(at_time(500 * MS, 500 * MS), "0.5s");
        assert_eq!(at_time(1500 * MS, 500 * MS), "1.5s");
        assert_eq!(at_time(60 * MS, 20 * MS), "60ms");
        assert_eq!(at_time(2_000 * MS, 1_000 * MS), "2s");
        assert_eq!(at_time(1_500 * MS, 100 * MS), "1.5s");
        assert_eq!(at_time(170_550_000, 50_000), "170.55ms");
        assert_eq!(at_time(40_000, 10_000), "40µs");
    }
}
