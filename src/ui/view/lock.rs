//! The lock panel: who holds each lock, and who waits in line for it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use unicode_width::UnicodeWidthStr;

use super::{pad, Screen};
use crate::model::{Model, TakenAfterDeath};
use crate::protocol::Pid;

/// Rows the panel wants: holder, a heading, and up to eight waiters.
pub fn height(model: &Model, available: u16) -> u16 {
    let waiters: usize = model.locks.values().map(|l| l.waiters.len()).sum();
    let wanted = if model.locks.is_empty() {
        3
    } else {
        // Holder, a line under it (two when it died holding it), waiting,
        // and two more for what kind of lock it is.
        let dead = model.locks.values().filter(|l| l.holder_dead).count();
        let cycle = model.locks.cycle.as_ref().map_or(0, |c| 3 * c.len() as u16);
        4 + 3 * model.locks.len() as u16 + dead as u16 + waiters.min(8) as u16 + cycle
    };
    wanted.clamp(3, (available / 2).max(3))
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = screen.model;
    let name_of = |pid| m.proc(pid).map_or_else(String::new, |p| p.name.clone());
    let texts = &screen.scenario.spec().texts;
    let say = |key: &str| texts.say(key, &[]);
    let who = |pid: Pid| texts.say("lock_who", &[("name", &name_of(pid)), ("pid", &pid)]);
    // "holder" and "waiting", in one column as wide as the wider.
    let (holder, waiting) = (say("lock_holder"), say("lock_waiting"));
    let label_width = holder.width().max(waiting.width()) + 1;
    let (holder, waiting) = (pad(&holder, label_width), pad(&waiting, label_width));
    let mut lines = Vec::new();
    if m.locks.is_empty() {
        lines.push(Line::styled(say("lock_none"), t.dim()));
    }
    let rows = area.height.saturating_sub(2) as usize;
    // What kind of lock it is, and how it differs from Python's.
    let about = match m.locks.values().next() {
        Some(lock) if m.locks.len() == 1 && lock.kept_by_the_dead => {
            texts.get("lock_about_semaphore")
        }
        Some(_) if m.locks.len() == 1 => texts.get("lock_about_flock"),
        _ => None,
    };
    // A cycle of waits named a deadlock, on evidence: first, in words.
    if let Some(cycle) = &m.locks.cycle {
        let width = usize::from(area.width.saturating_sub(2));
        let text = texts.say(
            "lock_deadlock_cycle",
            &[(
                "cycle",
                &crate::scenario::texts::cycle_words(texts, m, cycle),
            )],
        );
        for line in super::wrap_words(&text, width) {
            lines.push(Line::styled(line, t.bad()));
        }
    }
    // Under the title that names its kind: the waiting count and its list
    // stay together below.
    if let Some(about) = about {
        let width = usize::from(area.width.saturating_sub(2));
        for line in super::wrap_words(about, width) {
            lines.push(Line::styled(line, t.dim()));
        }
    }
    for (name, lock) in &m.locks {
        if m.locks.len() > 1 {
            lines.push(Line::styled(
                texts.say("lock_name", &[("name", name)]),
                t.dim(),
            ));
        }
        match lock.holder {
            Some(pid) if lock.holder_dead || lock.deadlocked() => {
                let code = m.proc(pid).and_then(|p| p.exitcode);
                // What was observed: its exit while it held the lock.
                lines.push(Line::from(vec![
                    Span::styled(holder.clone(), t.label()),
                    Span::styled(who(pid), t.bad()),
                ]));
                lines.push(Line::styled(
                    match code {
                        Some(code) => texts.say("lock_died_exit", &[("code", &code)]),
                        None => say("lock_died"),
                    },
                    t.bad(),
                ));
                // A deadlock only once it was named on evidence.
                lines.push(match &lock.deadlock {
                    Some(evidence) => Line::styled(
                        texts.say(
                            "lock_deadlock",
                            &[("value", &evidence.value), ("asleep", &evidence.seen.len())],
                        ),
                        t.bad(),
                    ),
                    None => Line::styled(say("lock_not_let_go"), t.dim()),
                });
            }
            Some(pid) => {
                let held = m.now_ns.saturating_sub(lock.held_since_ns) as f64 / 1e9;
                let mut spans = vec![
                    Span::styled(holder.clone(), t.label()),
                    Span::styled(who(pid), t.holder()),
                ];
                // A counting semaphore's other holders.
                for &other in &lock.also_held_by {
                    spans.push(Span::raw(", "));
                    spans.push(Span::styled(who(other), t.holder()));
                }
                lines.push(Line::from(spans));
                if let Some(TakenAfterDeath { dead, .. }) =
                    lock.taken_after_death.filter(|taken| taken.by == pid)
                {
                    lines.push(Line::styled(
                        texts.say("lock_let_go", &[("dead", &dead)]),
                        t.good(),
                    ));
                }
                let held = format!("{held:.1}");
                lines.push(Line::styled(
                    texts.say(
                        "lock_held",
                        &[("held", &held), ("taken", &lock.acquisitions)],
                    ),
                    t.dim(),
                ));
            }
            None => {
                // On one line if it fits, else wrapped under it (the row
                // counted for what is under a holder).
                let width =
                    usize::from(area.width.saturating_sub(2)).saturating_sub(holder.width());
                let mut free = super::wrap_words(&say("lock_free"), width.max(1)).into_iter();
                lines.push(Line::from(vec![
                    Span::styled(holder.clone(), t.label()),
                    Span::styled(free.next().unwrap_or_default(), t.good()),
                ]));
                for rest in free {
                    lines.push(Line::styled(pad("", holder.width()) + &rest, t.good()));
                }
            }
        }
        lines.push(Line::from(vec![
            Span::styled(waiting.clone(), t.label()),
            Span::styled(lock.waiters.len().to_string(), t.value()),
        ]));
        let room = rows.saturating_sub(lines.len());
        let shown = if lock.waiters.len() > room {
            room.saturating_sub(1)
        } else {
            room
        };
        for (i, pid) in lock.waiters.iter().take(shown).enumerate() {
            lines.push(Line::from(vec![
                Span::styled(format!("{:>3}. ", i + 1), t.dim()),
                Span::raw(who(pid)),
            ]));
        }
        if lock.waiters.len() > shown {
            lines.push(Line::styled(
                texts.say("lock_more", &[("n", &(lock.waiters.len() - shown))]),
                t.dim(),
            ));
        }
    }
    let title = match m.locks.iter().next() {
        Some((name, lock)) if m.locks.len() == 1 => {
            let kind = if lock.kept_by_the_dead {
                "semaphore"
            } else {
                "flock"
            };
            texts.say("panel_lock", &[("name", name), ("kind", &kind)])
        }
        _ => texts.say("panel_locks", &[]),
    };
    let block = Block::bordered().title(Span::styled(title, t.title()));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
