//! The file-append race (tutorial section 2.4).
//!
//! `N` writer processes append the line `writer i` to one file. The order of
//! the lines is the order in which the writers got there, not the order in
//! which they were started. With `--chunks K` each writer writes its line in
//! `K` separate `write` calls: without the lock, parts of different lines mix
//! into torn lines; with the lock every line is whole.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{FileLine, Height, Panel, Scenario, Show, Spec};
use crate::model::{Model, Moment};
use crate::protocol::Body;
use crate::scenario::texts::{lock_key, summary_value};
use crate::worker::Ctx;

pub const FILE: &str = "a.txt";
pub const LOCK_FILE: &str = "a.lock";
pub const LOCK_NAME: &str = "a.txt";
pub const ROLE: &str = "writer";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppendParams {
    pub writers: u32,
    pub chunks: u32,
    pub lock: bool,
}

pub struct Append {
    params: AppendParams,
    spec: Spec,
}

impl Append {
    pub fn new(params: AppendParams) -> anyhow::Result<Append> {
        Ok(Append {
            params,
            spec: super::spec("append")?,
        })
    }
}

/// The line writer `slot` appends.
pub fn line_of(slot: u32) -> String {
    format!("writer {slot}\n")
}

/// `text` cut into `parts` pieces of nearly equal length (at least one byte each).
pub fn pieces(text: &str, parts: u32) -> Vec<&str> {
    let parts = (parts as usize).clamp(1, text.len().max(1));
    let (base, extra) = (text.len() / parts, text.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut at = 0;
    for i in 0..parts {
        let len = base + usize::from(i < extra);
        out.push(&text[at..at + len]);
        at += len;
    }
    out
}

/// The writer whose whole line this is, if it is one.
fn whole_line(line: &str, writers: u32) -> Option<u32> {
    let n: u32 = line.strip_prefix("writer ")?.parse().ok()?;
    (n < writers && line == line_of(n).trim_end()).then_some(n)
}

impl Append {
    fn lines(&self, model: &Model) -> Vec<FileLine> {
        let content = model.files.get(FILE).map_or("", String::as_str);
        content
            .lines()
            .map(|text| {
                let writer = whole_line(text, self.params.writers);
                FileLine {
                    text: text.to_string(),
                    whole: writer.is_some(),
                    writer,
                }
            })
            .collect()
    }

    /// How many lines are torn for certain: a last line not yet ended by
    /// its newline is still being written, and is not counted (yet).
    fn torn_for_certain(&self, model: &Model) -> u64 {
        let mut lines = self.lines(model);
        let content = model.files.get(FILE).map_or("", String::as_str);
        if !content.is_empty() && !content.ends_with('\n') {
            lines.pop();
        }
        torn(&lines)
    }

    fn start_order(&self, model: &Model) -> Vec<u32> {
        model.role(ROLE).map(|p| p.slot).collect()
    }
}

/// The headline's counter of torn lines.
const TORN: &str = "torn";

/// How many of `lines` are torn.
fn torn(lines: &[FileLine]) -> u64 {
    lines.iter().filter(|l| !l.whole).count() as u64
}

impl Scenario for Append {
    fn name(&self) -> &'static str {
        "append"
    }

    fn spec(&self) -> &Spec {
        &self.spec
    }

    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    fn params(&self) -> Value {
        serde_json::to_value(&self.params).unwrap_or(Value::Null)
    }

    fn processes(&self) -> u32 {
        self.params.writers
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        (format!("writer-{slot}"), ROLE)
    }

    fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        File::create(dir.join(FILE))?;
        if self.params.lock {
            File::create(dir.join(LOCK_FILE))?;
        }
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        vec![FILE.to_string()]
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        match append(ctx, &self.params) {
            Ok(()) => 0,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("writer-{}: {e}", ctx.slot),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let lines = self.lines(model);
        let write_order: Vec<u32> = lines.iter().filter_map(|l| l.writer).collect();
        let mut s = Map::new();
        s.insert("scenario".into(), json!("append"));
        s.insert("writers".into(), json!(self.params.writers));
        s.insert("chunks".into(), json!(self.params.chunks));
        s.insert("lock".into(), json!(self.params.lock));
        s.insert("seed".into(), json!(model.seed));
        s.insert("lines".into(), json!(lines.len()));
        s.insert("torn_lines".into(), json!(self.torn_for_certain(model)));
        s.insert("start_order".into(), json!(self.start_order(model)));
        s.insert("write_order".into(), json!(write_order));
        s.insert("exit_codes".into(), super::exit_codes_json(model, &[ROLE]));
        s
    }

    fn report(&self, model: &Model) -> String {
        let s = self.summary(model);
        let texts = &self.spec.texts;
        let lock = texts.say(lock_key("report", self.params.lock), &[]);
        texts.say_by("report", |hole| match hole {
            "lock" => Some(lock.clone()),
            _ => summary_value(texts, &s, hole),
        })
    }

    fn variant(&self) -> String {
        let texts = &self.spec.texts;
        let lock = texts.say(lock_key("variant", self.params.lock), &[]);
        let chunks = match self.params.chunks {
            1 => texts.say("variant_one_write", &[]),
            k => texts.say("variant_writes", &[("chunks", &k)]),
        };
        texts.say(
            "variant",
            &[
                ("writers", &self.params.writers),
                ("chunks", &chunks),
                ("lock", &lock),
            ],
        )
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Lock, Height::Content),
            (Panel::Lines, Height::Content),
            (Panel::Log, Height::Rest),
        ])
        .alarms(&[(TORN, Moment::TornRead)])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let lines = self.lines(model);
        vec![
            ("lines", format!("{}/{}", lines.len(), self.params.writers)),
            (TORN, torn(&lines).to_string()),
        ]
    }

    fn alarm_count(&self, key: &str, model: &Model) -> Option<u64> {
        (key == TORN).then(|| self.torn_for_certain(model))
    }

    fn intro(&self) -> String {
        let key = if self.params.lock {
            "intro_lock"
        } else {
            "intro_no_lock"
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
    }

    fn file_lines(&self, model: &Model) -> Option<(Vec<FileLine>, Vec<u32>)> {
        Some((self.lines(model), self.start_order(model)))
    }
}

fn append(ctx: &mut Ctx, p: &AppendParams) -> std::io::Result<()> {
    let line = line_of(ctx.slot);
    let held = if p.lock {
        Some(ctx.lock(LOCK_FILE, LOCK_NAME)?)
    } else {
        None
    };
    // O_APPEND: each write goes to the end of the file as it is at that moment.
    let mut file = OpenOptions::new().append(true).open(ctx.path(FILE))?;
    let parts = pieces(&line, p.chunks);
    let count = parts.len();
    for (k, part) in parts.into_iter().enumerate() {
        if count == 1 {
            ctx.gate("append_line");
        } else {
            ctx.gate(("append_part", [("part", k + 1), ("of", count)]));
        }
        // Reported just before it is made, like every write.
        ctx.emit(Body::Write {
            file: FILE.into(),
            value: None,
            bytes: Some(part.to_string()),
            landed: None,
        });
        file.write_all(part.as_bytes())?;
    }
    drop(file);
    if let Some(held) = held {
        ctx.unlock(held)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Event;

    #[test]
    fn a_line_is_cut_into_the_asked_number_of_pieces() {
        assert_eq!(pieces("writer 1\n", 1), vec!["writer 1\n"]);
        assert_eq!(pieces("writer 1\n", 3), vec!["wri", "ter", " 1\n"]);
        assert_eq!(pieces("ab", 5), vec!["a", "b"]);
        assert_eq!(pieces("writer 12\n", 4).concat(), "writer 12\n");
    }

    #[test]
    fn the_summary_reads_lines_orders_and_torn_lines_from_the_real_file() {
        let a = Append::new(AppendParams {
            writers: 3,
            chunks: 2,
            lock: false,
        })
        .unwrap();
        let mut m = Model::new();
        for slot in 0..3 {
            m.apply(&Event::new(
                1,
                Some(10 + slot as i32),
                Body::Spawn {
                    name: format!("writer-{slot}"),
                    role: ROLE.into(),
                    slot,
                    ppid: 1,
                },
            ));
        }
        m.apply(&Event::new(
            2,
            None,
            Body::File {
                file: FILE.into(),
                content: "writer 2\nwriwriter 0\nter 1\n".into(),
            },
        ));
        let s = a.summary(&m);
        assert_eq!(s["lines"], 3);
        assert_eq!(s["torn_lines"], 2);
        assert_eq!(s["write_order"], json!([2]));
        assert_eq!(s["start_order"], json!([0, 1, 2]));
    }
}
