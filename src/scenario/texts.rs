//! Every sentence a person reads, as data.
//!
//! A text is a template with `{name}`-style holes. The sentences every
//! scenario shares (the table's states, column heads, panel titles, the
//! header's items, the keys, status messages, the actions a process waits
//! to do) are in `scenarios/LANG/common.toml` ([`common_in`]); each
//! scenario's own are in `scenarios/LANG/NAME.toml`, laid over the shared
//! ones ([`scenario_texts`]). Each language is a directory; English is
//! complete, and stands in for what another lacks. [`Texts::say`] fills a text
//! the code asks for by key; [`Texts::explain`] picks the template for an
//! event (by its kind and, where it matters, what happened) and fills the
//! holes from the event and the model.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;

use crate::lang::Lang;
use crate::model::{LogEntry, Model};
use crate::protocol::{Act, Body, Event, Outcome, PyValue};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Texts(HashMap<String, String>);

// Every language's text files, built in by `build.rs` from `scenarios/*/`.
include!(concat!(env!("OUT_DIR"), "/texts.rs"));

/// What [`Texts::say`] shows for a key no file has: visible, never silent.
pub const MISSING: char = '⟦';

#[derive(Deserialize)]
struct TextsFile {
    texts: Texts,
}

/// The built-in text file `name` (`common` or a scenario's) of `lang`.
pub fn file(lang: Lang, name: &str) -> Option<&'static str> {
    TEXT_FILES
        .iter()
        .find(|(l, n, _)| *l == lang.code() && *n == name)
        .map(|(_, _, text)| *text)
}

/// The texts of one file; none if the language has no such file.
fn parse(lang: Lang, name: &str) -> Texts {
    file(lang, name).map_or_else(Texts::default, |source| {
        toml::from_str::<TextsFile>(source)
            .map(|f| f.texts)
            .unwrap_or_else(|e| panic!("scenarios/{}/{name}.toml is not valid: {e}", lang.code()))
    })
}

/// The sentences every scenario shares, in English.
pub fn common() -> &'static Texts {
    common_in(Lang::EN)
}

/// The shared sentences in the language of this process's messages
/// ([`crate::lang::current`]): for the command line's errors and lists.
pub fn messages() -> &'static Texts {
    common_in(crate::lang::current())
}

/// The sentences every scenario shares, in `lang` (English where it has no
/// text for a key).
pub fn common_in(lang: Lang) -> &'static Texts {
    static BY_LANG: OnceLock<Mutex<HashMap<Lang, &'static Texts>>> = OnceLock::new();
    let mut by_lang = BY_LANG
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    by_lang.entry(lang).or_insert_with(|| {
        let mut texts = parse(lang, "common");
        if lang != Lang::EN {
            texts.fill_from(&parse(Lang::EN, "common"));
        }
        Box::leak(Box::new(texts))
    })
}

/// Scenario `name`'s texts in `lang`, laid over the shared ones: the
/// scenario's own text for a key wins, and English stands in for a text
/// the language lacks (the tests see that none is lacking).
pub fn scenario_texts(name: &str, lang: Lang) -> Texts {
    let mut english = parse(Lang::EN, name);
    english.fill_from(&borrowed_panels(Lang::EN, name));
    english.fill_from(common_in(Lang::EN));
    if lang == Lang::EN {
        return english;
    }
    let mut texts = parse(lang, name);
    texts.fill_from(&borrowed_panels(lang, name));
    texts.fill_from(&parse(lang, "common"));
    texts.fill_from(&english);
    texts
}

/// A user's program (`mpviz run`) shows the pool's panel too: its words
/// (`pool_*`, not the pool scenario's narration) from the pool's texts.
fn borrowed_panels(lang: Lang, name: &str) -> Texts {
    if name != "program" {
        return Texts::default();
    }
    let pool = parse(lang, "pool");
    Texts(
        pool.0
            .into_iter()
            .filter(|(key, _)| key.starts_with("pool_") && !Body::KINDS.contains(&key.as_str()))
            .collect(),
    )
}

impl Texts {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Takes from `other` every text these texts have no key for.
    fn fill_from(&mut self, other: &Texts) {
        for (key, text) in &other.0 {
            self.0.entry(key.clone()).or_insert_with(|| text.clone());
        }
    }

    /// Every key and its template.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The text for `key` with its holes filled from `args` (`{n}`, and
    /// `{n|one|many}` for the word for the number `n`). A key no file has
    /// shows as `⟦key⟧`, and a hole `args` does not fill stays as it is,
    /// so that neither goes unseen (the tests look for both).
    pub fn say(&self, key: &str, args: &[(&str, &dyn Display)]) -> String {
        match self.get(key) {
            Some(template) => fill(template, |hole| {
                args.iter()
                    .find(|(name, _)| *name == hole)
                    .map(|(_, v)| v.to_string())
            }),
            None => format!("{MISSING}{key}⟧"),
        }
    }

    /// The text for `key` with each hole filled by `value(hole)`.
    pub fn say_by(&self, key: &str, value: impl FnMut(&str) -> Option<String>) -> String {
        match self.get(key) {
            Some(template) => fill(template, value),
            None => format!("{MISSING}{key}⟧"),
        }
    }

    /// The words for what a process waits at its gate to do: the action's
    /// text (`act_take_lock`), its holes filled from the action's values.
    pub fn act(&self, act: &Act) -> String {
        let key = format!("act_{}", act.action);
        match self.get(&key) {
            Some(template) => fill(template, |hole| {
                act.args.get(hole).map(|v| match v {
                    PyValue::Str(s) => s.clone(),
                    other => other.to_string(),
                })
            }),
            None => format!("{MISSING}{key}⟧"),
        }
    }

    /// The key of the template that explains `ev`.
    pub fn key_for(ev: &Event, model: &Model) -> String {
        let pid = ev.pid;
        match &ev.body {
            Body::Spawn { role, .. } => format!("spawn_{role}"),
            Body::LockWait { lock } => {
                let held = model
                    .locks
                    .get(lock.as_str())
                    .and_then(|l| l.holder)
                    .is_some_and(|h| Some(h) != pid);
                if held { "lock_wait_held" } else { "lock_wait" }.into()
            }
            Body::Read { value: None, .. } => "read_torn".into(),
            Body::Write { .. } => {
                let lost = pid
                    .and_then(|p| model.proc(p))
                    .is_some_and(|p| p.overwrote.is_some());
                if lost { "write_lost" } else { "write" }.into()
            }
            Body::Outcome { result } => format!("outcome_{}", result.as_str()),
            Body::LockAcquire { lock }
                if model
                    .locks
                    .get(lock.as_str())
                    .and_then(|l| l.taken_after_death)
                    .is_some_and(|taken| Some(taken.by) == pid) =>
            {
                "lock_acquire_after_death".into()
            }
            Body::ProcessCall {
                exitcode: Some(_), ..
            } => "process_call_reaped".into(),
            Body::ProcessCall {
                alive: Some(true), ..
            } => "process_call_still_running".into(),
            Body::Put { .. } if pid.is_some() && pid == model.parent_pid => "put_stop".into(),
            Body::Get { queue, item, .. }
                if model
                    .queues
                    .get(queue.as_str())
                    .is_some_and(|q| q.parent_items.contains(item)) =>
            {
                "get_stop".into()
            }
            Body::Blocked { op, .. } => format!("blocked_{op}"),
            Body::TaskDone { ok: false, .. } => "task_failed".into(),
            Body::Callback { ok: true, .. } => "callback_ok".into(),
            Body::Callback { .. } => "callback_error".into(),
            Body::ResultWait { expired: true, .. } => "result_wait_expired".into(),
            Body::ResultGet { ok: false, .. } => "result_get_error".into(),
            Body::Exit { exitcode } => match exitcode {
                0 => "exit_ok",
                c if *c > 0 => "exit_error",
                _ => "exit_signal",
            }
            .into(),
            Body::File { content, .. } if content.trim().is_empty() => "file_empty".into(),
            Body::Pace { paused: true, .. } => "pace_paused".into(),
            Body::Pace { speed: None, .. } => "pace_max".into(),
            Body::Pace { .. } => "pace_running".into(),
            Body::Rerun { inexact, .. } if !inexact.is_empty() => "rerun_inexact".into(),
            Body::Diverged { why, .. } if why == "ended" => "diverged_ended".into(),
            _ => ev.kind().into(),
        }
    }

    /// The sentence for a log entry: a moment has its own text where the
    /// scenario gives one (`outcome_success_oversold`), else the event's.
    pub fn explain_entry(&self, entry: &LogEntry, model: &Model) -> Option<String> {
        let ev = &entry.event;
        let moment = entry
            .moment
            .map(|m| format!("{}_{}", Self::key_for(ev, model), m.as_str()))
            .and_then(|key| self.get(&key));
        match moment {
            Some(template) => Some(fill(template, |hole| hole_value(self, hole, ev, model))),
            None => self.explain(ev, model),
        }
    }

    /// The sentence for `ev`, or `None` if the scenario has none for it.
    pub fn explain(&self, ev: &Event, model: &Model) -> Option<String> {
        let key = Self::key_for(ev, model);
        // An exit may have a text for its role (a thread ends, it is not reaped).
        let by_role = matches!(ev.body, Body::Exit { .. })
            .then(|| ev.pid.and_then(|p| model.proc(p)))
            .flatten()
            .and_then(|p| self.get(&format!("{key}_{}", p.role)));
        // A call may have a text of its own ("call run()").
        let by_call = match &ev.body {
            Body::ProcessCall { call, .. } => self.get(&format!("call {call}")),
            _ => None,
        };
        let template = by_role.or(by_call).or_else(|| self.get(&key)).or_else(|| {
            // A role without its own spawn text uses the general one, and a
            // case without its own text (`file_empty`) its kind's.
            key.starts_with("spawn_")
                .then(|| self.get("spawn"))
                .flatten()
                .or_else(|| self.get(ev.kind()))
        })?;
        Some(fill(template, |hole| hole_value(self, hole, ev, model)))
    }

    /// The events panel's line for `ev` is the text `log_` and this: its
    /// kind, and the case where the kind has several (`read_torn`).
    pub fn log_key(ev: &Event) -> String {
        let case = match &ev.body {
            Body::Read { value: Some(_), .. } => "",
            Body::Read { reset: Some(_), .. } => "_reset",
            Body::Read { .. } => "_torn",
            Body::Write { value: None, .. } => "_bytes",
            Body::TaskDone { ok: false, .. }
            | Body::Callback { ok: false, .. }
            | Body::ResultGet { ok: false, .. } => "_error",
            Body::ResultWait { expired: true, .. } => "_expired",
            Body::Blocked { op, .. } if op == "put" => "_put",
            Body::Blocked { .. } => "_get",
            Body::File { content, .. } if content.trim().is_empty() => "_empty",
            Body::Pace { paused: true, .. } => "_paused",
            Body::Diverged { why, .. } if why == "ended" => "_ended",
            Body::ProcessCall {
                exitcode: Some(_), ..
            } => "_reaped",
            _ => "",
        };
        format!("{}{case}", ev.kind())
    }

    /// The events panel's line for `ev`: what happened in a few words, the
    /// event's data as it is (the narration says it in full).
    pub fn log_line(&self, ev: &Event, model: &Model) -> String {
        self.say_by(&format!("log_{}", Self::log_key(ev)), |hole| {
            hole_value(self, hole, ev, model).or_else(|| match hole {
                // What an event may lack, the line says without.
                "error_type" => Some(self.say("word_an_error", &[])),
                "error" | "result" => Some(String::new()),
                _ => None,
            })
        })
    }
}

/// A cycle of waits, in words: each process, the lock it waits for, and
/// the next process, which holds it.
pub fn cycle_words(
    texts: &Texts,
    model: &Model,
    cycle: &[(crate::protocol::Pid, impl AsRef<str>)],
) -> String {
    let links: Vec<String> = cycle
        .iter()
        .enumerate()
        .map(|(i, (pid, lock))| {
            let holder = cycle[(i + 1) % cycle.len()].0;
            texts.say(
                "word_cycle_link",
                &[
                    ("who", &who(texts, model, *pid)),
                    ("lock", &lock.as_ref()),
                    ("holder", &who(texts, model, holder)),
                ],
            )
        })
        .collect();
    links.join(&texts.say("word_cycle_joiner", &[]))
}

/// A request to the manager's server, as Python writes it (`d[1] = 2`):
/// the text `code_OP`, its `{key}` and `{value}` filled (`?` where the
/// request has none).
pub fn request(texts: &Texts, op: &str, key: Option<i64>, value: Option<i64>) -> String {
    let number = |x: Option<i64>| Some(x.map_or_else(|| "?".into(), |x| x.to_string()));
    texts.say_by(&format!("code_{op}"), |hole| match hole {
        "key" => number(key),
        "value" => number(value),
        _ => None,
    })
}

/// A process as the texts name it: "buyer-3 (PID 1003)"; a thread by its
/// TID, since `ps -p` does not find a thread's id.
pub fn who(texts: &Texts, model: &Model, pid: crate::protocol::Pid) -> String {
    match model.proc(pid) {
        Some(p) if p.role == crate::worker::THREAD_ROLE => {
            texts.say("who_thread", &[("name", &p.name), ("pid", &pid)])
        }
        Some(p) => texts.say("who", &[("name", &p.name), ("pid", &pid)]),
        None => texts.say("who_unknown", &[("pid", &pid)]),
    }
}

/// Ranges of numbers as a reader writes them: `3, 7–12`.
pub fn ranges(ranges: &[(u64, u64)]) -> String {
    let said: Vec<String> = ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    said.join(", ")
}

fn hole_value(texts: &Texts, hole: &str, ev: &Event, model: &Model) -> Option<String> {
    let proc = ev.pid.and_then(|p| model.proc(p));
    let lock_name = match &ev.body {
        Body::LockWait { lock } | Body::LockAcquire { lock } | Body::LockRelease { lock } => {
            Some(lock.as_str())
        }
        _ => None,
    };
    let lock = lock_name.and_then(|l| model.locks.get(l));
    let who = |pid: crate::protocol::Pid| who(texts, model, pid);
    Some(match hole {
        "pid" => match &ev.body {
            // The run's start is the parent's, which the event names.
            Body::Start { parent_pid, .. } => parent_pid.to_string(),
            _ => ev.pid?.to_string(),
        },
        "name" => proc.map_or_else(|| texts.say("word_a_process", &[]), |p| p.name.clone()),
        "who" => who(ev.pid?),
        "lock" => match &ev.body {
            Body::LockMade { lock, .. }
            | Body::Deadlock { lock, .. }
            | Body::LockGaveUp { lock, .. } => lock.to_string(),
            _ => lock_name?.to_string(),
        },
        "holder_pid" => match &ev.body {
            Body::Deadlock { holder, .. } => holder.to_string(),
            _ => return None,
        },
        "scenario" => match &ev.body {
            Body::Start { scenario, .. } => scenario.clone(),
            _ => return None,
        },
        "seed" => match &ev.body {
            Body::Start { seed, .. } => seed.to_string(),
            _ => return None,
        },
        "reset" => match &ev.body {
            Body::Read { reset, .. } => (*reset)?.to_string(),
            _ => return None,
        },
        "bytes" => match &ev.body {
            Body::Write { bytes, .. } => format!("{:?}", bytes.as_deref().unwrap_or_default()),
            _ => return None,
        },
        "outcome" => match &ev.body {
            Body::Outcome { result } => outcome_word(texts, *result),
            _ => return None,
        },
        "key" => match &ev.body {
            Body::PlainSet { key, .. } => key.to_string(),
            _ => return None,
        },
        "holder" => lock?
            .holder
            .map_or_else(|| texts.say("word_nobody", &[]), who),
        "waiters" => lock?.waiters.len().to_string(),
        "value" => match &ev.body {
            Body::Deadlock { value, .. } => value.to_string(),
            Body::Read { value, .. } => {
                value.map_or_else(|| texts.say("word_nothing", &[]), |v| v.to_string())
            }
            Body::Qsize { value, .. } => value.to_string(),
            Body::PlainSet { value, .. } => value.to_string(),
            Body::Write { value, bytes, .. } => match (value, bytes) {
                (Some(v), _) => v.to_string(),
                (None, Some(b)) => format!("{b:?}"),
                (None, None) => return None,
            },
            _ => return None,
        },
        "text" => match &ev.body {
            Body::Read { text, .. } => format!("{text:?}"),
            Body::Output { text, .. } => text.clone(),
            _ => return None,
        },
        "file" => match &ev.body {
            Body::Read { file, .. }
            | Body::Write { file, .. }
            | Body::Truncate { file }
            | Body::File { file, .. } => file.to_string(),
            _ => return None,
        },
        // On one line: each line break shown as ⏎ (a file of lines, such as
        // the append race's, would otherwise read as one run of words).
        "content" => match &ev.body {
            Body::File { content, .. } => content.replace('\n', "⏎ ").trim_end().to_string(),
            _ => return None,
        },
        "task" => match &ev.body {
            Body::TaskSubmit { task }
            | Body::TaskStart { task }
            | Body::TaskDone { task, .. }
            | Body::Callback { task, .. }
            | Body::ResultGet { task, .. }
            | Body::ResultWait { task, .. } => task.to_string(),
            _ => return None,
        },
        "tid" => match &ev.body {
            Body::Callback { tid, .. } => tid.to_string(),
            _ => return None,
        },
        "returned" => match &ev.body {
            Body::TaskDone { result, .. }
            | Body::Callback { result, .. }
            | Body::ResultGet { result, .. } => (*result)?.to_string(),
            _ => return None,
        },
        "error_type" => match &ev.body {
            Body::TaskDone { error_type, .. }
            | Body::Callback { error_type, .. }
            | Body::ResultGet { error_type, .. } => error_type.clone()?,
            _ => return None,
        },
        "error" => match &ev.body {
            Body::TaskDone { error, .. }
            | Body::Callback { error, .. }
            | Body::ResultGet { error, .. } => error.clone()?,
            _ => return None,
        },
        "parsed" => match &ev.body {
            Body::Callback { parsed, .. } => parsed.clone()?,
            _ => return None,
        },
        "workers" => match &ev.body {
            Body::PoolJoined { workers } => workers.len().to_string(),
            _ => return None,
        },
        "thread" => match &ev.body {
            Body::Callback { thread, .. } => thread.clone(),
            _ => return None,
        },
        "timeout_ms" => match &ev.body {
            Body::ResultWait { timeout_ms, .. } => timeout_ms.to_string(),
            Body::LockGaveUp {
                timeout_ms: Some(ms),
                ..
            } => ms.to_string(),
            _ => return None,
        },
        "call" => match &ev.body {
            Body::PoolCall { call } | Body::ProcessCall { call, .. } => call.clone(),
            _ => return None,
        },
        "item" => match &ev.body {
            Body::Put { item, .. } | Body::Get { item, .. } | Body::Full { item, .. } => {
                item.to_string()
            }
            _ => return None,
        },
        "depth" => match &ev.body {
            Body::Put { depth, .. } | Body::Get { depth, .. } | Body::QueueDepth { depth, .. } => {
                depth.to_string()
            }
            _ => return None,
        },
        "ms" => match &ev.body {
            Body::Sleep { ms } => ms.to_string(),
            _ => return None,
        },
        "code" => match &ev.body {
            Body::Exit { exitcode }
            | Body::ProcessCall {
                exitcode: Some(exitcode),
                ..
            } => exitcode.to_string(),
            _ => return None,
        },
        "dead" => match &ev.body {
            Body::LockAcquire { .. } => lock?.taken_after_death.map(|taken| who(taken.dead))?,
            _ => return None,
        },
        "signal" => match &ev.body {
            Body::Exit { exitcode } if *exitcode < 0 => signal_name(-exitcode),
            _ => return None,
        },
        "action" => match &ev.body {
            Body::Ready { action } => texts.act(action),
            _ => return None,
        },
        "speed" => match &ev.body {
            Body::Pace { speed, .. } => speed_words(texts, *speed),
            _ => return None,
        },
        "lost_pid" => proc?.overwrote.map(who)?,
        "steps" => match &ev.body {
            Body::Rerun { steps, .. } => steps.to_string(),
            _ => return None,
        },
        "inexact" => match &ev.body {
            Body::Rerun { inexact, .. } if !inexact.is_empty() => ranges(inexact),
            _ => return None,
        },
        "step" => match &ev.body {
            Body::Diverged { step, .. } => step.to_string(),
            _ => return None,
        },
        "why" => match &ev.body {
            Body::Diverged { why, .. } => texts.say(&format!("why_left_{why}"), &[]),
            _ => return None,
        },
        "expected" => match &ev.body {
            Body::Diverged {
                expected: Some(act),
                ..
            } => texts.act(act),
            _ => return None,
        },
        "found" => match &ev.body {
            Body::Diverged {
                found: Some(act), ..
            } => texts.act(act),
            _ => return None,
        },
        "message" => match &ev.body {
            Body::Error { message } => message.clone(),
            _ => return None,
        },
        "queue" => match &ev.body {
            Body::Put { queue, .. }
            | Body::Get { queue, .. }
            | Body::Blocked { queue, .. }
            | Body::Full { queue, .. }
            | Body::Empty { queue }
            | Body::Qsize { queue, .. }
            | Body::QueueDepth { queue, .. } => queue.to_string(),
            _ => return None,
        },
        "cycle" => match &ev.body {
            Body::DeadlockCycle { cycle, .. } => cycle_words(texts, model, cycle),
            _ => return None,
        },
        "proxy_call" => match &ev.body {
            Body::ProxyCall {
                typeid,
                method,
                args,
                ..
            } => format!("{typeid}.{method}({args})"),
            _ => return None,
        },
        "answer" => match &ev.body {
            Body::ProxyCall {
                result: Some(r), ..
            } => r.clone(),
            Body::ProxyCall { error: Some(e), .. } => e.clone(),
            _ => return None,
        },
        "request" => match &ev.body {
            Body::Request { op, key, value } | Body::Served { op, key, value, .. } => {
                request(texts, op, *key, *value)
            }
            _ => return None,
        },
        "client" => match &ev.body {
            Body::Served { client, .. } => who(*client),
            _ => return None,
        },
        "client_pid" => match &ev.body {
            Body::Served { client, .. } => client.to_string(),
            _ => return None,
        },
        "dict_len" => match &ev.body {
            Body::Served { dict_len, .. } => dict_len.to_string(),
            Body::Reply { dict, .. } => dict.len().to_string(),
            _ => return None,
        },
        "list_len" => match &ev.body {
            Body::Served { list_len, .. } => list_len.to_string(),
            Body::Reply { list, .. } => list.len().to_string(),
            _ => return None,
        },
        "len" => match &ev.body {
            Body::PlainSet { len, .. } | Body::PlainRead { len } => len.to_string(),
            _ => return None,
        },
        "result" => match &ev.body {
            Body::ProcessCall { result, .. } => result.to_string(),
            Body::TaskDone {
                shown: Some(shown), ..
            } => shown.clone(),
            Body::TaskDone { result, .. } | Body::ResultGet { result, .. } => {
                (*result)?.to_string()
            }
            _ => return None,
        },
        "lock_kind" => match &ev.body {
            Body::LockMade { lock_kind, .. } => lock_kind.clone(),
            _ => return None,
        },
        "holder_who" => match &ev.body {
            Body::Deadlock { holder, .. } => who(*holder),
            _ => return None,
        },
        "stuck" => match &ev.body {
            Body::Deadlock { waiters, .. } => waiters
                .iter()
                .map(|&w| who(w))
                .collect::<Vec<_>>()
                .join(&texts.say("word_and", &[])),
            _ => return None,
        },
        "seen" => match &ev.body {
            Body::Deadlock { seen, .. } => seen
                .iter()
                .map(|s| {
                    texts.say(
                        "seen_blocked",
                        &[
                            ("pid", &s.pid),
                            ("state", &s.state),
                            ("wchan", &s.wchan),
                            ("syscall", &s.syscall),
                        ],
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => return None,
        },
        "state" => match &ev.body {
            Body::State { state } => state.to_string(),
            _ => return None,
        },
        "role" => match &ev.body {
            Body::Spawn { role, .. } => role.clone(),
            _ => proc?.role.clone(),
        },
        "ppid" => proc?.ppid.to_string(),
        "sold" => model.procs.outcomes.success.to_string(),
        "tickets" => model.params.get("tickets")?.to_string(),
        _ => return None,
    })
}

/// A field of a scenario's summary, as a text's hole shows it (JSON).
pub fn summary_value(
    texts: &Texts,
    summary: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Option<String> {
    summary.get(field).map(|v| value_words(texts, v))
}

/// A summary's value as a reader reads it, not as JSON: a number as it is,
/// no value as the word for unknown, yes or no, a list with commas, counts
/// by number as `0 ×6, -15 ×1`, values by name as `main: 0, hello: 1`.
fn value_words(texts: &Texts, value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => texts.say("word_unknown", &[]),
        Value::Bool(yes) => texts.say(if *yes { "word_yes" } else { "word_no" }, &[]),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let said: Vec<String> = items.iter().map(|v| value_words(texts, v)).collect();
            said.join(", ")
        }
        Value::Object(by_key) => {
            // Counts by number (exit codes: how many processes had each),
            // or values by name (each process's exit code).
            let counts = by_key.keys().all(|key| key.parse::<i64>().is_ok());
            let said: Vec<String> = by_key
                .iter()
                .map(|(key, v)| match v {
                    Value::Number(n) if counts => format!("{key} ×{n}"),
                    _ => format!("{key}: {}", value_words(texts, v)),
                })
                .collect();
            said.join(", ")
        }
        Value::Number(n) => n.to_string(),
    }
}

/// The key of the words for a run with or without a lock, in its `report`
/// or its `variant`: `report_lock`, `variant_no_lock`.
pub fn lock_key(of: &str, lock: bool) -> &'static str {
    match (of, lock) {
        ("report", true) => "report_lock",
        ("report", false) => "report_no_lock",
        (_, true) => "variant_lock",
        (_, false) => "variant_no_lock",
    }
}

/// The pacer's speed as the screen says it: "10/s", "1 per 5 s", "max".
/// A speed in `texts`' words: `max`, `5/s`, `1 per 4 s`.
pub fn speed_words(texts: &Texts, speed: Option<f64>) -> String {
    match speed {
        None => texts.say("speed_max", &[]),
        Some(per_second) if per_second >= 1.0 => format!("{per_second:.0}/s"),
        Some(per_second) => {
            let every = format!("{:.0}", 1.0 / per_second);
            texts.say("speed_one_per", &[("s", &every)])
        }
    }
}

pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// `n` and the word for `n` things: "1 ticket", "2 tickets".
pub fn counted(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let word = if n.trim_start_matches('-') == "1" {
        one
    } else {
        many
    };
    format!("{n} {word}")
}

/// Replaces each `{hole}` with its value; unknown holes stay as they are.
/// `{name|one|many}` is the word for the number `name` holds: `one` for 1
/// (or -1), `many` otherwise ("{sold} {sold|ticket was|tickets were} sold").
fn fill(template: &str, mut value: impl FnMut(&str) -> Option<String>) -> String {
    let mut value = |hole: &str| match hole.split_once('|') {
        Some((name, words)) => {
            let (one, many) = words.split_once('|')?;
            let n = value(name)?;
            Some(
                if n.trim_start_matches('-') == "1" {
                    one
                } else {
                    many
                }
                .to_string(),
            )
        }
        None => value(hole),
    };
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let hole = &after[..close];
                match value(hole) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(hole);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// An outcome in `texts`' words, for tables.
pub fn outcome_word(texts: &Texts, outcome: Outcome) -> String {
    texts.say(&format!("word_outcome_{}", outcome.as_str()), &[])
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The holes a template has: `{n}` and `{n|one|many}` both name `n`.
    pub(crate) fn holes(template: &str) -> Vec<&str> {
        template
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}'))
            .map(|(hole, _)| hole.split('|').next().unwrap_or(hole))
            .collect()
    }

    /// Every other language has each English file, with exactly its keys,
    /// and each text has exactly the English text's holes.
    #[test]
    fn every_language_has_every_key_of_english_with_the_same_holes() {
        let english: Vec<&str> = TEXT_FILES
            .iter()
            .filter(|(lang, _, _)| *lang == Lang::EN.code())
            .map(|(_, name, _)| *name)
            .collect();
        assert!(
            english.contains(&"common") && english.len() > 7,
            "{english:?}"
        );
        let mut wrong = Vec::new();
        for lang in Lang::all().into_iter().filter(|l| *l != Lang::EN) {
            for name in &english {
                let at = format!("scenarios/{}/{name}.toml", lang.code());
                if file(lang, name).is_none() {
                    wrong.push(format!("{at}: missing"));
                    continue;
                }
                let (en, other) = (parse(Lang::EN, name), parse(lang, name));
                for (key, text) in en.iter() {
                    match other.get(key) {
                        None => wrong.push(format!("{at}: no {key}")),
                        Some(t) => {
                            let (mut a, mut b) = (holes(text), holes(t));
                            a.sort_unstable();
                            a.dedup();
                            b.sort_unstable();
                            b.dedup();
                            if a != b {
                                wrong.push(format!("{at}: {key} has holes {b:?}, English {a:?}"));
                            }
                        }
                    }
                }
                for (key, _) in other.iter() {
                    if en.get(key).is_none() {
                        wrong.push(format!("{at}: {key} is not in English"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_parity_check_reads_holes_and_finds_files_by_language() {
        // The check above compares these, so it can fail.
        assert_eq!(
            holes("{n} {n|item|items} in {queue}"),
            vec!["n", "n", "queue"]
        );
        let zh = Lang::named("zh").expect("Chinese is built in");
        assert!(file(zh, "common").is_some());
        assert!(file(zh, "no such file").is_none());
    }

    /// Whether `text` shows a key no file has or a hole nobody filled.
    pub(crate) fn unfinished(text: &str) -> bool {
        text.contains(MISSING)
            || text.split('{').skip(1).any(|rest| {
                rest.split_once('}').is_some_and(|(hole, _)| {
                    !hole.is_empty()
                        && hole
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '|')
                })
            })
    }

    /// The string literals at the start of `text` and after each `from`.
    fn literals_after<'a>(text: &'a str, from: &str) -> Vec<&'a str> {
        text.split(from)
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(lit, _)| lit))
            .collect()
    }

    /// The actions a source file gates on, as (key, names of its values):
    /// `.gate("take_lock")`, `.gate(("write", [("value", new)]))`,
    /// `.gate(Act::new("serve").with("request", ..))`, `.gate(py(..))`, and
    /// lifecycle's `work_forever(c, "work")`.
    fn gated_actions(source: &str) -> Vec<(String, Vec<String>)> {
        let mut found = Vec::new();
        for (at, _) in source.match_indices(".gate(") {
            let rest = &source[at + ".gate(".len()..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let arg = rest[..end].trim();
            let names = |lits: Vec<&str>| lits.into_iter().map(String::from).collect();
            let call = if let Some(lit) = arg.strip_prefix('"') {
                lit.split_once('"').map(|(key, _)| (key, Vec::new()))
            } else if let Some(tuple) = arg
                .strip_prefix('(')
                .and_then(|t| t.trim_start().strip_prefix('"'))
            {
                let (key, values) = tuple.split_once('"').unwrap_or((tuple, ""));
                Some((key, names(literals_after(values, "(\""))))
            } else if let Some(act) = arg.strip_prefix("Act::new(\"") {
                let (key, values) = act.split_once('"').unwrap_or((act, ""));
                Some((key, names(literals_after(values, ".with(\""))))
            } else if arg.starts_with("py(") {
                Some(("py", vec!["code".to_string()]))
            } else {
                // A variable: its callers' literals are found below.
                assert!(
                    arg.chars().all(|c| c.is_alphanumeric() || c == '_'),
                    "a gate call this test cannot read: .gate({arg})"
                );
                None
            };
            if let Some((key, args)) = call {
                found.push((key.to_string(), args));
            }
        }
        for key in literals_after(source, "work_forever(c, \"") {
            found.push((key.to_string(), Vec::new()));
        }
        found
    }

    /// The keys the code asks for by name, `say("KEY"`, and the prefixes
    /// of those it builds, `say(&format!("PREFIX_{..}"`, in `source`.
    fn keys_said(source: &str) -> Vec<&str> {
        let mut found = Vec::new();
        for call in ["say(", "say_by("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                let rest = rest.strip_prefix("&format!(").unwrap_or(rest);
                if let Some((key, _)) = rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
                    found.push(key.split('{').next().unwrap_or(key));
                }
            }
        }
        found
    }

    /// Every `.rs` file under `dir`, and its text.
    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// A text's key and an event kind's share one namespace: the narration
    /// of a kind is its name's text (`put`, `blocked_put`, `spawn_worker`,
    /// `outcome_success_oversold`). A text the code asks for by name must
    /// never be one, or it silently becomes that kind's narration (as a
    /// gauge's `queue_depth` would): its key, or the prefix it is built
    /// from, is neither a kind's name nor begins with one and `_`, and no
    /// kind's name begins with the prefix.
    #[test]
    fn a_text_the_code_asks_for_by_name_is_never_an_events_narration() {
        let narration = |key: &str| {
            Body::KINDS
                .iter()
                .find(|&&kind| key == kind || key.starts_with(&format!("{kind}_")))
        };
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut checked = 0;
        for (file, source) in &files {
            for key in keys_said(source) {
                if key.is_empty() {
                    continue;
                }
                let kind = narration(key).or_else(|| {
                    // A built key: a kind its prefix could end up naming.
                    (key.ends_with('_'))
                        .then(|| Body::KINDS.iter().find(|k| k.starts_with(key)))
                        .flatten()
                });
                assert!(
                    kind.is_none(),
                    "{file}: the text {key:?} the code asks for by name is in the namespace \
                     of the event kind {kind:?}, whose narration it would be: give it a \
                     prefix of its own (`panel_`, `word_`, `log_`, ...)"
                );
                checked += 1;
            }
        }
        // The reading of the sources found the calls (about two hundred).
        assert!(checked > 150, "only {checked} keys found");
    }

    /// Every text the code asks for by name (a refusal of bad input, a
    /// panel's words) is in the shared file or a scenario's own.
    #[test]
    fn every_text_the_code_asks_for_by_name_is_in_the_files() {
        // The scenarios' texts, a program's (`mpviz run`) and the
        // challenges'.
        let mut scenarios: Vec<Texts> = crate::scenario::SPECS
            .iter()
            .chain(std::iter::once(&crate::scenario::PROGRAM_SPEC))
            .map(|(name, _)| crate::scenario::spec(name).unwrap().texts)
            .collect();
        scenarios.push(crate::challenge::texts(Lang::EN));
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut checked = 0;
        for (file, source) in &files {
            // A test's own keys are made up (`no_such_key`); a built key's
            // prefix names no text.
            let source = source.split("#[cfg(test)]").next().unwrap_or(source);
            for key in keys_said(source) {
                if key.is_empty() || key.ends_with('_') {
                    continue;
                }
                assert!(
                    scenarios.iter().any(|t| t.get(key).is_some()),
                    "{file}: no file has the text {key:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 150, "only {checked} keys found");
    }

    #[test]
    fn every_action_the_code_gates_on_has_a_text_whose_holes_it_fills() {
        let sources = [
            (None, include_str!("../worker/mod.rs")),
            (Some("ticket"), include_str!("ticket.rs")),
            (Some("race"), include_str!("race.rs")),
            (Some("append"), include_str!("append.rs")),
            (Some("lifecycle"), include_str!("lifecycle.rs")),
            (Some("pool"), include_str!("pool.rs")),
            (Some("queue"), include_str!("queue.rs")),
            (Some("manager"), include_str!("manager.rs")),
        ];
        let mut checked = 0;
        for (name, source) in sources {
            let texts = match name {
                Some(n) => crate::scenario::spec(n).unwrap().texts,
                None => common().clone(),
            };
            for (key, args) in gated_actions(source) {
                let template = texts.get(&format!("act_{key}"));
                let template = template.unwrap_or_else(|| panic!("{name:?}: no text act_{key}"));
                for hole in holes(template) {
                    assert!(
                        args.iter().any(|a| a == hole),
                        "{name:?}: act_{key} = {template:?} has a hole {{{hole}}} the gate \
                         does not fill (it gives {args:?})"
                    );
                }
                checked += 1;
            }
        }
        // The reading of the sources found the calls (about seventy).
        assert!(checked > 60, "only {checked} gate calls found");
    }

    #[test]
    fn an_action_is_said_in_its_scenarios_words_and_a_missing_one_shows() {
        let race = crate::scenario::spec("race").unwrap();
        let write: Act = ("write", [("value", 5)]).into();
        assert_eq!(race.texts.act(&write), "write 5");
        assert_eq!(race.texts.act(&"take_lock".into()), "take the lock");
        let unknown = race.texts.act(&"fly".into());
        assert!(unfinished(&unknown), "{unknown}");
        assert!(unfinished(&race.texts.say("no_such_key", &[])));
        assert!(unfinished(&race.texts.say("doing_read", &[])));
        assert!(!unfinished(&race.texts.say("doing_read", &[("value", &3)])));
    }

    #[test]
    fn a_count_says_its_word_in_the_singular_for_one() {
        let value = |h: &str| match h {
            "one" => Some("1".to_string()),
            "two" => Some("2".to_string()),
            _ => None,
        };
        let s = fill(
            "{one} {one|ticket|tickets}, {two} {two|ticket|tickets}",
            value,
        );
        assert_eq!(s, "1 ticket, 2 tickets");
        assert_eq!(counted(1, "chunk", "chunks"), "1 chunk");
        assert_eq!(counted("3", "consumer", "consumers"), "3 consumers");
    }

    #[test]
    fn holes_are_filled_and_unknown_ones_kept() {
        let s = fill("{a} and {b} and {", |h| (h == "a").then(|| "A".to_string()));
        assert_eq!(s, "A and {b} and {");
    }

    #[test]
    fn a_wait_on_a_held_lock_names_the_holder() {
        let spec = crate::scenario::spec("ticket").unwrap();
        let mut m = Model::new();
        for (pid, slot) in [(10, 0), (11, 1)] {
            m.apply(&Event::new(
                0,
                Some(pid),
                Body::Spawn {
                    name: format!("buyer-{slot}"),
                    role: "buyer".into(),
                    slot,
                    ppid: 1,
                },
            ));
        }
        let lock = crate::protocol::Name::from("tickets");
        m.apply(&Event::new(
            1,
            Some(10),
            Body::LockAcquire { lock: lock.clone() },
        ));
        let wait = Event::new(2, Some(11), Body::LockWait { lock });
        m.apply(&wait);
        assert_eq!(Texts::key_for(&wait, &m), "lock_wait_held");
        let text = spec.texts.explain(&wait, &m).unwrap();
        assert!(text.contains("buyer-0 (PID 10)"), "{text}");
        assert!(text.contains("buyer-1"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn a_files_line_breaks_show_in_its_log_line() {
        let spec = crate::scenario::spec("append").unwrap();
        let file = Event::new(
            0,
            None,
            Body::File {
                file: "a.txt".into(),
                content: "writer 5\nwriter 9\n".into(),
            },
        );
        let line = spec.texts.log_line(&file, &Model::new());
        assert_eq!(line, "a.txt = writer 5⏎ writer 9⏎");
    }

    #[test]
    fn lifecycle_texts_phrase_the_data_of_calls_deadlocks_and_a_lock_let_go() {
        use crate::protocol::{PyValue, SeenBlocked};
        let spec = crate::scenario::spec("lifecycle").unwrap();
        let mut m = Model::new();
        let lock = || crate::protocol::Name::from("lock");
        let say = |m: &mut Model, e: Event| {
            m.apply(&e);
            let text = spec.texts.explain(&e, m).unwrap();
            assert!(!text.contains('{'), "{text}");
            text
        };
        for (pid, name, role) in [
            (40, "main", "main"),
            (41, "holder", "holder"),
            (42, "waiter-1", "waiter"),
            (43, "o", "worker"),
        ] {
            let spawn = Body::Spawn {
                name: name.into(),
                role: role.into(),
                slot: 0,
                ppid: 1,
            };
            m.apply(&Event::new(0, Some(pid), spawn));
        }
        let joined = say(
            &mut m,
            Event::new(
                1,
                Some(40),
                Body::ProcessCall {
                    call: "h.join()".into(),
                    target: Some(41),
                    result: PyValue::None,
                    timeout_ms: None,
                    alive: Some(false),
                    exitcode: Some(-15),
                },
            ),
        );
        assert!(joined.contains("h.join() → None"), "{joined}");
        assert!(joined.contains("exit code -15"), "{joined}");
        let returned = say(
            &mut m,
            Event::new(
                1,
                Some(43),
                Body::ProcessCall {
                    call: "run()".into(),
                    target: None,
                    result: PyValue::None,
                    timeout_ms: None,
                    alive: None,
                    exitcode: None,
                },
            ),
        );
        assert!(
            returned.contains("joins its non-daemon children"),
            "{returned}"
        );
        m.apply(&Event::new(2, Some(41), Body::LockAcquire { lock: lock() }));
        m.apply(&Event::new(2, Some(42), Body::LockWait { lock: lock() }));
        m.apply(&Event::new(3, Some(41), Body::Exit { exitcode: -15 }));
        let seen = SeenBlocked {
            pid: 42,
            state: 'S',
            wchan: "futex_do_wait".into(),
            syscall: "202 0x7f0000001000".into(),
        };
        let deadlock = Event::new(
            4,
            Some(40),
            Body::Deadlock {
                lock: lock(),
                holder: 41,
                waiters: vec![42],
                value: 0,
                seen: vec![seen],
            },
        );
        let text = say(&mut m.clone(), deadlock);
        assert!(text.contains("value is 0"), "{text}");
        assert!(text.contains("holder (PID 41) is dead"), "{text}");
        assert!(
            text.contains("PID 42: state S, wchan futex_do_wait"),
            "{text}"
        );
        // Not a deadlock but an flock: the next waiter takes it.
        let taken = say(
            &mut m,
            Event::new(5, Some(42), Body::LockAcquire { lock: lock() }),
        );
        assert!(
            taken.contains("let go of the flock when its holder holder (PID 41) died"),
            "{taken}"
        );
    }

    #[test]
    fn a_summary_value_is_said_in_words_not_json() {
        let texts = common_in(crate::lang::Lang::named("en").unwrap());
        let summary = serde_json::json!({
            "lost": null,
            "zombie": true,
            "codes": {"0": 6, "-15": 1},
            "by_name": {"main": 0, "hello": 1},
            "pids": [7, 8],
            "n": 3,
        });
        let summary = summary.as_object().unwrap();
        let say = |field| summary_value(texts, summary, field).unwrap();
        assert_eq!(say("lost"), "?");
        assert_eq!(say("zombie"), "yes");
        assert_eq!(say("codes"), "0 ×6, -15 ×1");
        assert_eq!(say("by_name"), "main: 0, hello: 1");
        assert_eq!(say("pids"), "7, 8");
        assert_eq!(say("n"), "3");
    }
}
