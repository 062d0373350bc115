//! The ticket grab (tutorial section 2.4).
//!
//! A JSON file `{"count": T}` and `B` buyer processes. Each buyer, under one
//! `flock` lock: reads the count, and if a ticket is left, waits a "network
//! delay", empties the file and writes the count minus one, then lets the
//! lock go. Without the lock the same steps race: lost updates, oversold
//! tickets, and torn reads of a file another buyer has just emptied, which
//! the tutorial's bare `except:` turns into a count of 100.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Height, Panel, Scenario, Show, Spec};
use crate::model::{Model, Moment};
use crate::protocol::{Body, Outcome};
use crate::scenario::texts::{lock_key, summary_value};
use crate::worker::Ctx;

pub const TICKET_FILE: &str = "tickets.json";
pub const LOCK_FILE: &str = "tickets.lock";
pub const LOCK_NAME: &str = "tickets";
pub const ROLE: &str = "buyer";
/// The count the tutorial's `gettickles` takes when the file does not parse
/// (`except: dic = {'count': 100}`): a constant of its code, whatever the
/// file held at the start (`--tickets`).
pub const EXCEPT_COUNT: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TicketParams {
    pub buyers: u32,
    pub tickets: u32,
    pub lock: bool,
    pub delay_ms: u64,
}

pub struct Ticket {
    params: TicketParams,
    spec: Spec,
}

impl Ticket {
    pub fn new(params: TicketParams) -> anyhow::Result<Ticket> {
        Ok(Ticket {
            params,
            spec: super::spec("ticket")?,
        })
    }

    pub fn params_ref(&self) -> &TicketParams {
        &self.params
    }

    /// Sales the file's count does not show: sold minus how far the count
    /// went down from `--tickets`. Unknown while the file is torn, and once
    /// a buyer has reset the count to 100: from then on the count says
    /// nothing of the sales before.
    fn lost_updates(&self, model: &Model) -> Option<i64> {
        if model.files.resets > 0 {
            return None;
        }
        let remaining = model.files.get(TICKET_FILE).and_then(|t| parse_count(t))?;
        Some(i64::from(model.procs.outcomes.success) - (i64::from(self.params.tickets) - remaining))
    }
}

/// The count in the ticket file, if the text is a whole ticket file.
pub fn parse_count(text: &str) -> Option<i64> {
    let value: Value = serde_json::from_str(text).ok()?;
    value.get("count")?.as_i64()
}

/// The file as Python's `json.dumps({'count': count})` writes it.
fn ticket_text(count: i64) -> String {
    format!("{{\"count\": {count}}}")
}

/// The headline's counter of tickets sold, lit by an oversell.
const SOLD: &str = "sold";

/// The headline's counter of lost updates.
const LOST_UPDATES: &str = "lost_updates";

impl Scenario for Ticket {
    fn name(&self) -> &'static str {
        "ticket"
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
        self.params.buyers
    }

    fn process_name(&self, slot: u32) -> (String, &'static str) {
        (format!("buyer-{slot}"), ROLE)
    }

    fn prepare(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(
            dir.join(TICKET_FILE),
            ticket_text(self.params.tickets.into()),
        )?;
        if self.params.lock {
            File::create(dir.join(LOCK_FILE))?;
        }
        Ok(())
    }

    fn watched_files(&self) -> Vec<String> {
        vec![TICKET_FILE.to_string()]
    }

    fn run_child(&self, ctx: &mut Ctx) -> i32 {
        match buy(ctx, &self.params) {
            Ok(code) => code,
            Err(e) => {
                ctx.emit(Body::Error {
                    message: format!("buyer-{}: {e}", ctx.slot),
                });
                1
            }
        }
    }

    fn summary(&self, model: &Model) -> Map<String, Value> {
        let p = &self.params;
        let sold = i64::from(model.procs.outcomes.success);
        let tickets = i64::from(p.tickets);
        let remaining = model.files.get(TICKET_FILE).and_then(|t| parse_count(t));
        let mut pids: Vec<_> = model.role(ROLE).map(|p| p.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        let mut s = Map::new();
        s.insert("scenario".into(), json!("ticket"));
        s.insert("buyers".into(), json!(p.buyers));
        s.insert("tickets".into(), json!(p.tickets));
        s.insert("lock".into(), json!(p.lock));
        s.insert("seed".into(), json!(model.seed));
        s.insert("sold".into(), json!(sold));
        s.insert("failed".into(), json!(model.procs.outcomes.fail));
        s.insert("torn_reads".into(), json!(model.files.torn_reads));
        s.insert("resets".into(), json!(model.files.resets));
        s.insert("remaining".into(), json!(remaining));
        s.insert("oversold".into(), json!((sold - tickets).max(0)));
        s.insert("lost_updates".into(), json!(self.lost_updates(model)));
        s.insert("distinct_pids".into(), json!(pids.len()));
        s.insert("exit_codes".into(), super::exit_codes_json(model, &[ROLE]));
        s
    }

    fn variant(&self) -> String {
        let texts = &self.spec.texts;
        let lock = texts.say(lock_key("variant", self.params.lock), &[]);
        texts.say(
            "variant",
            &[
                ("buyers", &self.params.buyers),
                ("tickets", &self.params.tickets),
                ("lock", &lock),
            ],
        )
    }

    fn show(&self) -> Show {
        Show::panels(&[
            (Panel::Lock, Height::Content),
            (Panel::File, Height::Content),
            (Panel::Log, Height::Rest),
        ])
        .alarms(&[(SOLD, Moment::Oversold), (LOST_UPDATES, Moment::LostUpdate)])
    }

    fn headline(&self, model: &Model) -> Vec<(&'static str, String)> {
        let left = model
            .files
            .get(TICKET_FILE)
            .map(|t| match parse_count(t) {
                Some(n) => n.to_string(),
                // Caught between a buyer's truncate and its write.
                None if t.trim().is_empty() => self.spec.texts.say("word_empty", &[]),
                None => self.spec.texts.say("word_torn", &[]),
            })
            .unwrap_or_else(|| self.spec.texts.say("word_unknown", &[]));
        let mut line = vec![
            (
                SOLD,
                format!("{}/{}", model.procs.outcomes.success, self.params.tickets),
            ),
            ("left_in_file", left),
            ("failed", model.procs.outcomes.fail.to_string()),
        ];
        if !self.params.lock {
            line.push(("resets", model.files.resets.to_string()));
            // The summary's definition, on what has happened so far.
            line.push((
                LOST_UPDATES,
                match self.lost_updates(model) {
                    Some(lost) => lost.max(0).to_string(),
                    // A reset put 100 back: sold minus tickets gone counts
                    // nothing any more.
                    None if model.files.resets > 0 => self.spec.texts.say("lost_after_reset", &[]),
                    None => self.spec.texts.say("word_unknown", &[]),
                },
            ));
        }
        line
    }

    fn intro(&self) -> String {
        let key = if self.params.lock {
            "intro_lock"
        } else {
            "intro_no_lock"
        };
        self.spec.texts.get(key).unwrap_or_default().to_string()
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
}

/// One buyer's life: the tutorial's `gettickles`, line for line, the lock
/// taken only with `--lock`. Returns its exit code: 0, as Python's, whatever
/// it read.
fn buy(ctx: &mut Ctx, p: &TicketParams) -> std::io::Result<i32> {
    let path = ctx.path(TICKET_FILE);
    let delay_ms = if p.delay_ms == 0 {
        0
    } else {
        ctx.rng.u64(0..=p.delay_ms)
    };
    let held = if p.lock {
        Some(ctx.lock(LOCK_FILE, LOCK_NAME)?)
    } else {
        None
    };

    ctx.gate("read_file");
    // try: dic = json.loads(f.read())
    // except: dic = {'count': 100}
    // A bare except: a file another buyer has just emptied (or half
    // written) does not end the buyer; it goes on as if 100 were left.
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let read = parse_count(&text);
    let reset = read.is_none().then_some(EXCEPT_COUNT);
    ctx.emit(Body::Read {
        file: TICKET_FILE.into(),
        value: read,
        text: text.chars().take(200).collect(),
        landed: None,
        reset,
    });
    let count = read.or(reset).unwrap_or(EXCEPT_COUNT);
    if count > 0 {
        // dic['count'] -= 1; time.sleep(random.random())
        ctx.gate("wait_network");
        ctx.sleep(delay_ms);
        // with open(filename, 'w') as f: f.write(json.dumps(dic))
        // Writes are reported just before they are made, reads just after:
        // whoever sees the effect of a write reads its event first.
        ctx.gate("open_for_writing");
        ctx.emit(Body::Truncate {
            file: TICKET_FILE.into(),
        });
        let mut file = OpenOptions::new().write(true).truncate(true).open(&path)?;
        ctx.gate("write_count");
        ctx.emit(Body::Write {
            file: TICKET_FILE.into(),
            value: Some(count - 1),
            bytes: None,
            landed: None,
        });
        file.write_all(ticket_text(count - 1).as_bytes())?;
        drop(file);
        ctx.emit(Body::Outcome {
            result: Outcome::Success,
        });
    } else {
        ctx.emit(Body::Outcome {
            result: Outcome::Fail,
        });
    }

    if let Some(held) = held {
        ctx.unlock(held)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_file_parses_and_a_torn_one_does_not() {
        assert_eq!(parse_count(&ticket_text(7)), Some(7));
        assert_eq!(parse_count(""), None);
        assert_eq!(parse_count("{\"cou"), None);
    }

    fn fold(events: Vec<crate::protocol::Event>) -> Model {
        let mut m = Model::new();
        for e in &events {
            m.apply(e);
        }
        m
    }

    #[test]
    fn the_summary_counts_oversold_and_lost_updates_from_the_fold() {
        use crate::protocol::{Event, Pid};
        let t = Ticket::new(TicketParams {
            buyers: 3,
            tickets: 2,
            lock: false,
            delay_ms: 0,
        })
        .unwrap();
        let mut events = Vec::new();
        for (pid, slot) in [(10 as Pid, 0), (11, 1), (12, 2)] {
            events.push(Event::new(
                0,
                Some(pid),
                Body::Spawn {
                    name: format!("buyer-{slot}"),
                    role: ROLE.into(),
                    slot,
                    ppid: 1,
                },
            ));
            events.push(Event::new(
                1,
                Some(pid),
                Body::Outcome {
                    result: Outcome::Success,
                },
            ));
            events.push(Event::new(2, Some(pid), Body::Exit { exitcode: 0 }));
        }
        // Three sold, but the file says one left: two updates were lost.
        events.push(Event::new(
            3,
            None,
            Body::File {
                file: TICKET_FILE.into(),
                content: ticket_text(1),
            },
        ));
        let s = t.summary(&fold(events));
        assert_eq!(s["sold"], 3);
        assert_eq!(s["remaining"], 1);
        assert_eq!(s["oversold"], 1);
        assert_eq!(s["lost_updates"], 2);
        assert_eq!(s["distinct_pids"], 3);
        assert_eq!(s["exit_codes"]["0"], 3);
    }
}
