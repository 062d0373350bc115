//! The manager panel: the server's dict and list (as its answers built them),
//! beside the main process's plain dict and each worker's own copy.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::Screen;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = &screen.model.manager;
    let texts = &screen.scenario.spec().texts;
    let say = |key: &str| texts.say(key, &[]);
    let [managed, plain] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(5)]).areas(area);

    let server = m.server.map_or_else(
        || say("managed_unheard"),
        |p| texts.say("who_unknown", &[("pid", &p)]),
    );
    let mut lines = vec![Line::from(vec![
        Span::styled(
            texts.say("managed_requests", &[("n", &m.requests)]),
            t.label(),
        ),
        Span::styled(
            texts.say(
                "managed_sizes",
                &[("dict", &m.dict.len()), ("list", &m.list.len())],
            ),
            t.value(),
        ),
    ])];
    lines.push(Line::from(vec![
        Span::styled("l = ", t.label()),
        Span::styled(format!("{:?}", m.list), t.value()),
    ]));
    let rows = managed.height.saturating_sub(4) as usize;
    let entries: Vec<String> = m
        .dict
        .iter()
        .map(|(k, v)| format!("d[{k}] = {v}"))
        .collect();
    let shown = entries.len().min(rows.max(1));
    for entry in &entries[..shown] {
        lines.push(Line::styled(format!(" {entry}"), t.value()));
    }
    if entries.len() > shown {
        lines.push(Line::styled(
            texts.say("managed_more", &[("n", &(entries.len() - shown))]),
            t.dim(),
        ));
    }
    let block = Block::bordered().title(Line::from(vec![
        Span::styled(
            screen.scenario.spec().texts.say("panel_managed", &[]),
            t.title(),
        ),
        Span::styled(
            texts.say("managed_server", &[("server", &server)]),
            t.label(),
        ),
    ]));
    frame.render_widget(Paragraph::new(lines).block(block), managed);

    let sizes: std::collections::BTreeSet<u32> = m.plain.values().copied().collect();
    let copies = match (m.plain.len(), sizes.len()) {
        (0, _) => say("plain_none_yet"),
        (n, 1) => {
            let k = sizes.iter().next().copied().unwrap_or(0);
            texts.say("plain_copies_alike", &[("n", &n), ("k", &k)])
        }
        (n, _) => texts.say(
            "plain_copies",
            &[("n", &n), ("sizes", &format!("{sizes:?}"))],
        ),
    };
    let main = match m.main_plain {
        Some(n) => Span::styled(texts.say("plain_items", &[("n", &n)]), t.good()),
        None => Span::styled(say("word_unknown"), t.dim()),
    };
    let lines = vec![
        Line::from(vec![Span::styled(say("plain_main"), t.label()), main]),
        Line::from(vec![
            Span::styled(say("plain_workers"), t.label()),
            Span::styled(copies, t.value()),
        ]),
        Line::styled(say("plain_own_memory"), t.dim()),
    ];
    let block = Block::bordered().title(Span::styled(
        screen.scenario.spec().texts.say("panel_plain", &[]),
        t.title(),
    ));
    frame.render_widget(Paragraph::new(lines).block(block), plain);
}
