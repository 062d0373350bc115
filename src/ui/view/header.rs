//! The header: what runs, whether it moves, and its numbers. Its items are
//! never cut: where the terminal is narrow, the next item goes on the next
//! line.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::Screen;
use crate::scenario::texts::speed_words;
use crate::ui::theme::MARK;

/// The header's lines at `width` columns.
pub fn lines<'a>(screen: &Screen, width: u16) -> Vec<Line<'a>> {
    let t = screen.theme;
    let m = screen.model;
    let texts = &screen.scenario.spec().texts;
    let say = |key: &str| texts.say(key, &[]);
    let status = if !m.errors.is_empty() {
        Span::styled(say("header_error"), t.bad())
    } else if m.ended {
        Span::styled(say("header_finished"), t.good())
    } else if m.pace.paused {
        Span::styled(say("header_paused"), t.paused())
    } else {
        Span::styled(say("header_running"), t.good())
    };
    // A replay says its own pace, not the recorded run's.
    let (status, speed) = match screen.view.replay {
        Some((playing, speed)) => (
            Span::styled(
                say(if playing {
                    "header_replay_playing"
                } else {
                    "header_replay_paused"
                }),
                t.paused(),
            ),
            speed_words(texts, Some(speed)),
        ),
        None => (status, speed_words(texts, m.pace.speed)),
    };
    // Stream time: the newest event's stamp, so that a paused or stepped
    // back screen does not age.
    let elapsed = std::time::Duration::from_nanos(m.now_ns);
    let mut status = vec![status];
    if let Some((k, n)) = screen.view.history {
        status.push(Span::raw(" "));
        status.push(Span::styled(
            texts.say("header_history", &[("k", &k), ("n", &n)]),
            t.paused(),
        ));
    }
    // A rerun: how far it has followed its recording, or where it left it.
    if let Some(rerun) = &m.rerun {
        let said = match &rerun.diverged {
            Some((_, why)) if why == "ended" => texts.say("header_rerun_ended", &[]),
            Some((step, _)) => texts.say("header_rerun_left", &[("step", step)]),
            None => texts.say(
                "header_rerun",
                &[("granted", &rerun.granted), ("steps", &rerun.steps)],
            ),
        };
        status.push(Span::raw(" "));
        status.push(Span::styled(
            said,
            if rerun.diverged.is_some() {
                t.warn()
            } else {
                t.paused()
            },
        ));
    }
    let first: Vec<Vec<Span<'a>>> = vec![
        vec![
            Span::styled(say("header_mpviz"), t.title()),
            Span::styled(screen.scenario.name().to_string(), t.value()),
        ],
        status,
        vec![
            Span::styled(say("header_speed"), t.label()),
            Span::styled(speed, t.value()),
        ],
        vec![Span::styled(
            format!(
                "{}:{:04.1}",
                elapsed.as_secs() / 60,
                elapsed.as_secs_f64() % 60.0
            ),
            t.value(),
        )],
        vec![Span::styled(screen.scenario.variant(), t.label())],
        vec![Span::styled(
            texts.say("header_seed", &[("seed", &m.seed)]),
            t.dim(),
        )],
    ];
    let mut second: Vec<Vec<Span<'a>>> = Vec::new();
    // The counters the scenario declares lit by a moment.
    let show = screen.scenario.show();
    for (key, value) in screen.scenario.headline(m) {
        let alarm = show.lit(key, screen.scenario.alarm_count(key, m), m);
        let label = say(&format!("headline_{key}"));
        second.push(if alarm {
            vec![
                Span::styled(format!("{MARK} {label} "), t.alarm()),
                Span::styled(value, t.alarm()),
            ]
        } else {
            vec![
                Span::styled(format!("{label} "), t.label()),
                Span::styled(value, t.value()),
            ]
        });
    }
    // The scenario's processes, as the table's title counts them: the fork
    // server is mpviz's, not the program's.
    let children = m.procs.iter().filter(|p| p.role != "forkserver");
    let (total, alive) = children.fold((0, 0), |(n, a), p| (n + 1, a + usize::from(p.alive())));
    second.extend([
        vec![Span::styled(
            texts.say("header_alive", &[("alive", &alive), ("total", &total)]),
            t.label(),
        )],
        vec![Span::styled(
            texts.say("header_at_gate", &[("n", &m.waiting_at_gates())]),
            t.label(),
        )],
        vec![Span::styled(
            texts.say("header_actions", &[("n", &m.actions)]),
            t.label(),
        )],
    ]);
    // Two lines where they fit; else one flow, so that a wrapped first line
    // shares its second row with the numbers.
    let fits = |items: &[Vec<Span>], sep: &str| {
        let w: usize = items
            .iter()
            .map(|i| i.iter().map(|s| s.content.width()).sum::<usize>() + sep.width())
            .sum();
        w < usize::from(width)
    };
    let mut out = if fits(&first, " │ ") && fits(&second, " · ") {
        let mut out = flow(first, " │ ", width, screen);
        out.extend(flow(second, " · ", width, screen));
        out
    } else {
        let mut all = first;
        all.extend(second);
        flow(all, " · ", width, screen)
    };
    // A challenge: its goal and the moves left, or its verdict.
    if let Some((text, verdict)) = &screen.view.challenge {
        let style = match verdict {
            Some(true) => t.good(),
            Some(false) => t.bad(),
            None => t.title(),
        };
        out.extend(super::wrap_line(&Line::styled(text.clone(), style), width));
    }
    out
}

/// Items laid out left to right, `sep` between them, a new line where the
/// next item would not fit (an item wider than the line is cut by the
/// terminal, never split).
fn flow<'a>(
    items: Vec<Vec<Span<'a>>>,
    sep: &'static str,
    width: u16,
    screen: &Screen,
) -> Vec<Line<'a>> {
    let t = screen.theme;
    let width = usize::from(width);
    let mut lines = Vec::new();
    let mut line: Vec<Span<'a>> = vec![Span::raw(" ")];
    let mut used = 1;
    for item in items {
        let w: usize = item.iter().map(|s| s.content.width()).sum();
        if used > 1 && used + sep.width() + w > width {
            lines.push(Line::from(std::mem::replace(
                &mut line,
                vec![Span::raw(" ")],
            )));
            used = 1;
        }
        if used > 1 {
            line.push(Span::styled(sep, t.dim()));
            used += sep.width();
        }
        used += w;
        line.extend(item);
    }
    lines.push(Line::from(line));
    lines
}
