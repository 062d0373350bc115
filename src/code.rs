//! The tutorial's programs: each scenario's Python file (`scenarios/NAME.py`,
//! a program python3 runs as it is), the line of it that does each action
//! the scenario plays (the `[code]` table of `scenarios/NAME.toml`), and its
//! comments in each language (the `[comments]` table of
//! `scenarios/LANG/NAME.toml`: each English comment and its translation).
//!
//! The model places each process on a line with [`Lines`]; the code panel
//! shows the program from [`listing`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;

use crate::lang::Lang;
use crate::protocol::{Act, Body, PyValue};

/// Every scenario's program, by scenario name.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("race", include_str!("../scenarios/race.py")),
    ("lifecycle", include_str!("../scenarios/lifecycle.py")),
    ("ticket", include_str!("../scenarios/ticket.py")),
    ("append", include_str!("../scenarios/append.py")),
    ("pool", include_str!("../scenarios/pool.py")),
    ("queue", include_str!("../scenarios/queue.py")),
    ("manager", include_str!("../scenarios/manager.py")),
];

/// A scenario's `[code]` table: its program's file, and for each action
/// (`acts`, by the name a gate gives it) and each event that comes with no
/// gate before it (`events`, by kind) a piece of the one line that does it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CodeSpec {
    pub file: String,
    #[serde(default)]
    pub acts: BTreeMap<String, Piece>,
    #[serde(default)]
    pub events: BTreeMap<String, Piece>,
}

/// A piece of a line, or, for an action done at several places, a piece
/// for each value of its first argument (an event: of any of its fields). A
/// key may hold one `*`, which stands for any text (`"d[*"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Piece {
    One(String),
    By(BTreeMap<String, String>),
}

/// A line number (from 0), or one per value.
#[derive(Debug, Clone)]
enum At {
    Line(u32),
    /// Exact keys first, then the keys with a `*`.
    By(Vec<(String, u32)>),
}

/// Where in its program each action and gateless event of a scenario is.
#[derive(Debug, Clone)]
pub struct Lines {
    acts: Vec<(String, At)>,
    events: Vec<(String, At)>,
}

impl Lines {
    /// The lines of `spec`'s pieces in `source`: each piece must be found
    /// on exactly one line.
    pub fn build(spec: &CodeSpec, source: &str) -> Result<Lines, String> {
        let line_of = |what: &str, piece: &str| -> Result<u32, String> {
            let mut found = source
                .lines()
                .enumerate()
                .filter(|(_, line)| line.contains(piece));
            match (found.next(), found.next()) {
                (Some((n, _)), None) if source.matches(piece).count() == 1 => {
                    Ok(u32::try_from(n).unwrap_or(u32::MAX))
                }
                _ => Err(format!(
                    "{}: {what} = {piece:?} is not on exactly one line",
                    spec.file
                )),
            }
        };
        let resolve = |table: &BTreeMap<String, Piece>| -> Result<Vec<(String, At)>, String> {
            table
                .iter()
                .map(|(name, piece)| {
                    let at = match piece {
                        Piece::One(piece) => At::Line(line_of(name, piece)?),
                        Piece::By(pieces) => {
                            let mut by = pieces
                                .iter()
                                .map(|(key, piece)| Ok((key.clone(), line_of(key, piece)?)))
                                .collect::<Result<Vec<_>, String>>()?;
                            by.sort_by_key(|(key, _)| key.contains('*'));
                            At::By(by)
                        }
                    };
                    Ok((name.clone(), at))
                })
                .collect()
        };
        Ok(Lines {
            acts: resolve(&spec.acts)?,
            events: resolve(&spec.events)?,
        })
    }

    /// Scenario `name`'s lines (none for an unknown scenario).
    pub fn of(name: &str) -> Option<&'static Lines> {
        static BY_NAME: OnceLock<Mutex<HashMap<String, Option<&'static Lines>>>> = OnceLock::new();
        let mut by_name = BY_NAME
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *by_name.entry(name.to_string()).or_insert_with(|| {
            let spec = crate::scenario::spec(name).ok()?;
            let source = program(name)?;
            let lines = Lines::build(&spec.code, source).ok()?;
            Some(Box::leak(Box::new(lines)))
        })
    }

    /// The line of the action a process waits at its gate to do.
    pub fn act(&self, act: &Act) -> Option<u32> {
        let (_, at) = self.acts.iter().find(|(name, _)| *name == act.action)?;
        match at {
            At::Line(n) => Some(*n),
            At::By(by) => {
                let first = act.args.values().next()?;
                find(by, &[value_text(first)])
            }
        }
    }

    /// The line of an event that comes with no gate before it, if it is one.
    pub fn event(&self, body: &Body) -> Option<u32> {
        let kind = body.info().name;
        let (_, at) = self.events.iter().find(|(name, _)| name == kind)?;
        match at {
            At::Line(n) => Some(*n),
            At::By(by) => {
                let serde_json::Value::Object(fields) = serde_json::to_value(body).ok()? else {
                    return None;
                };
                let values: Vec<String> = fields
                    .iter()
                    .filter(|(name, _)| *name != "kind")
                    .map(|(_, value)| match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                find(by, &values)
            }
        }
    }

    /// Whether an event of this kind has a line of its own.
    pub fn has_event(&self, kind: &str) -> bool {
        self.events.iter().any(|(name, _)| name == kind)
    }
}

/// The line of the first key (exact ones before those with a `*`) that one
/// of `values` matches.
fn find(by: &[(String, u32)], values: &[String]) -> Option<u32> {
    by.iter()
        .find(|(key, _)| values.iter().any(|v| matches(key, v)))
        .map(|(_, n)| *n)
}

/// Whether `value` is `key`, where a `*` in `key` stands for any text.
fn matches(key: &str, value: &str) -> bool {
    match key.split_once('*') {
        None => key == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

fn value_text(value: &PyValue) -> String {
    match value {
        PyValue::Str(s) => s.clone(),
        PyValue::Int(i) => i.to_string(),
        PyValue::Bool(true) => "True".into(),
        PyValue::Bool(false) => "False".into(),
        PyValue::None => "None".into(),
    }
}

/// Scenario `name`'s program, as python3 runs it.
pub fn program(name: &str) -> Option<&'static str> {
    PROGRAMS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// Where a line's comment begins (its `#`), outside any string literal.
pub fn comment_at(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => return Some(at),
            None => {}
        }
    }
    None
}

/// A language's comments for scenario `name`'s program: English comment
/// text → its translation (empty for English).
pub fn comments(name: &str, lang: Lang) -> BTreeMap<String, String> {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        comments: BTreeMap<String, String>,
    }
    crate::scenario::texts::file(lang, name)
        .and_then(|source| toml::from_str::<File>(source).ok())
        .map(|f| f.comments)
        .unwrap_or_default()
}

/// Scenario `name`'s program as the code panel shows it in `lang`: its
/// lines, each comment in the language (English where it has none).
pub fn listing(name: &str, lang: Lang) -> &'static [String] {
    type Listings = HashMap<(String, Lang), &'static [String]>;
    static BY_NAME: OnceLock<Mutex<Listings>> = OnceLock::new();
    let mut by_name = BY_NAME
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    by_name.entry((name.to_string(), lang)).or_insert_with(|| {
        let comments = comments(name, lang);
        let lines: Vec<String> = program(name)
            .unwrap_or_default()
            .lines()
            .map(|line| translate(line, &comments))
            .collect();
        Box::leak(lines.into_boxed_slice())
    })
}

/// `line` with its comment in the language of `comments`.
fn translate(line: &str, comments: &BTreeMap<String, String>) -> String {
    let Some(at) = comment_at(line) else {
        return line.to_string();
    };
    let text = line[at + 1..].trim();
    match comments.get(text) {
        Some(said) => format!("{}# {said}", &line[..at]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_with_a_star_stands_for_any_text() {
        assert!(matches("d[*", "d[4242] = 4242"));
        assert!(matches("waiter-*.start()", "waiter-7.start()"));
        assert!(!matches("waiter-*.start()", "waiter-7.join()"));
        assert!(!matches("d[*", "l.append(3)"));
        assert!(matches("p.join()", "p.join()"));
        assert!(!matches("p.join()", "p.join(timeout=0.2)"));
    }

    #[test]
    fn a_comment_begins_outside_strings() {
        assert_eq!(comment_at("    # all of it"), Some(4));
        assert_eq!(comment_at("x = '#not' # but this"), Some(11));
        assert_eq!(comment_at(r##"s = "a\"#b""##), None);
        assert_eq!(comment_at("print('no comment')"), None);
    }

    #[test]
    fn every_scenario_places_every_piece_on_one_line_of_its_program() {
        for (name, _) in crate::scenario::SPECS {
            let spec = crate::scenario::spec(name).unwrap();
            assert_eq!(spec.code.file, format!("{name}.py"));
            let source = program(name).expect("a program");
            if let Err(e) = Lines::build(&spec.code, source) {
                panic!("{e}");
            }
            assert!(Lines::of(name).is_some());
        }
    }

    #[test]
    fn a_piece_found_twice_is_refused() {
        let spec: CodeSpec =
            toml::from_str("file = 'x.py'\n[acts]\ntake_lock = 'lock.acquire()'\n").unwrap();
        let twice = "lock.acquire()\nx = 1\nlock.acquire()\n";
        assert!(Lines::build(&spec, twice).is_err());
        let once = "x = 1\n    lock.acquire()\n";
        let lines = Lines::build(&spec, once).unwrap();
        assert_eq!(lines.act(&Act::new("take_lock")), Some(1));
        assert_eq!(lines.act(&Act::new("release_lock")), None);
    }

    #[test]
    fn an_action_at_several_places_is_told_apart_by_its_first_value() {
        let spec: CodeSpec = toml::from_str(
            "file = 'x.py'\n[acts]\nask = { 'd[*' = 'd[k] = v', 'print(d)' = 'print(d)' }\n",
        )
        .unwrap();
        let lines = Lines::build(&spec, "d[k] = v\nprint(d)\n").unwrap();
        let ask = |what: &str| lines.act(&Act::new("ask").with("request", what.to_string()));
        assert_eq!(ask("d[12] = 12"), Some(0));
        assert_eq!(ask("print(d)"), Some(1));
        assert_eq!(ask("l.append(3)"), None);
    }

    /// Every comment of every program has its translation in every
    /// language but English, and no translation is of a comment the
    /// program no longer has.
    #[test]
    fn every_comment_is_translated_and_no_translation_is_stale() {
        for lang in Lang::all().into_iter().filter(|l| *l != Lang::EN) {
            for (name, source) in PROGRAMS {
                let table = comments(name, lang);
                let said: Vec<&str> = source
                    .lines()
                    .filter_map(|l| comment_at(l).map(|at| l[at + 1..].trim()))
                    .collect();
                for text in &said {
                    assert!(
                        table.contains_key(*text),
                        "scenarios/{}/{name}.toml has no [comments] entry for {text:?}",
                        lang.code()
                    );
                }
                for key in table.keys() {
                    assert!(
                        said.contains(&key.as_str()),
                        "scenarios/{}/{name}.toml translates {key:?}, which {name}.py no longer says",
                        lang.code()
                    );
                }
                let shown = listing(name, lang);
                assert_eq!(shown.len(), source.lines().count());
            }
        }
    }
}
