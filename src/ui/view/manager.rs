//! The manager panel: the server's dict and list (as its answers built them),
//! beside the main process's plain dict and each worker's own copy.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::Screen;

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen) {
    let t = screen.theme;
    let m = &screen.model.manager;
    let texts = &screen.scenario.spec().texts;
    let say = |key: &str| texts.say(key, &[]);
    // Inside the borders.
    let inner = area.width.saturating_sub(2);

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
    let plain_lines = vec![
        Line::from(vec![Span::styled(say("plain_main"), t.label()), main]),
        Line::from(vec![
            Span::styled(say("plain_workers"), t.label()),
            Span::styled(copies, t.value()),
        ]),
        Line::styled(say("plain_own_memory"), t.dim()),
    ];
    // The plain dict's lines, wrapped, take what they need; the server's
    // panel the rest.
    let plain_height: u16 = plain_lines
        .iter()
        .map(|l| super::wrapped_height(l, inner))
        .sum::<u16>()
        + 2;
    let [managed, plain] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(plain_height)]).areas(area);

    let server = m.server.map_or_else(
        || say("managed_unheard"),
        |p| texts.say("who_unknown", &[("pid", &p)]),
    );
    let title = say("panel_managed");
    let server = texts.say("managed_server", &[("server", &server)]);
    // Where the title cannot also name the server, the first line does.
    let server_in_title = title.width() + server.width() <= usize::from(inner);
    let mut lines = Vec::new();
    if !server_in_title {
        lines.push(Line::styled(server.trim().to_string(), t.label()));
    }
    let requests = Span::styled(
        texts.say("managed_requests", &[("n", &m.requests)]),
        t.label(),
    );
    let sizes = Span::styled(
        texts.say(
            "managed_sizes",
            &[("dict", &m.dict.len()), ("list", &m.list.len())],
        ),
        t.value(),
    );
    // On one line if they fit, else each on its own: a size is not split
    // from its number.
    if requests.width() + sizes.width() <= usize::from(inner) {
        lines.push(Line::from(vec![requests, sizes]));
    } else {
        lines.push(Line::from(requests));
        lines.push(Line::from(sizes));
    }
    lines.push(Line::from(vec![
        Span::styled("l = ", t.label()),
        Span::styled(format!("{:?}", m.list), t.value()),
    ]));
    let used: u16 = lines.iter().map(|l| super::wrapped_height(l, inner)).sum();
    // Rows left for the dict's entries, one of them for "… more" if needed.
    let rows = managed.height.saturating_sub(2 + used) as usize;
    let entries: Vec<String> = m
        .dict
        .iter()
        .map(|(k, v)| format!("d[{k}] = {v}"))
        .collect();
    let shown = if entries.len() > rows {
        rows.saturating_sub(1)
    } else {
        entries.len()
    };
    for entry in &entries[..shown] {
        lines.push(Line::styled(format!(" {entry}"), t.value()));
    }
    if entries.len() > shown {
        lines.push(Line::styled(
            texts.say("managed_more", &[("n", &(entries.len() - shown))]),
            t.dim(),
        ));
    }
    let mut title = vec![Span::styled(title, t.title())];
    if server_in_title {
        title.push(Span::styled(server, t.label()));
    }
    let block = Block::bordered().title(Line::from(title));
    frame.render_widget(
        Paragraph::new(super::wrap_lines(&lines, inner)).block(block),
        managed,
    );

    let block = Block::bordered().title(Span::styled(say("panel_plain"), t.title()));
    frame.render_widget(
        Paragraph::new(super::wrap_lines(&plain_lines, inner)).block(block),
        plain,
    );
}
