//! Challenges: the learner is the scheduler. A challenge is a scenario, its
//! options, a goal and a budget of moves (`scenarios/challenges.toml`; its
//! words in `scenarios/LANG/challenges.toml`). A move lets one process take
//! its next step, or lets the pacer pick. The verdict comes from the stream:
//! the goal is a condition over what the fold and the scenario's summary
//! say the processes did, looked at after every batch of events.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::engine::{PacerCmd, Run, RunOptions};
use crate::launch::Launch;
use crate::model::{Activity, Model};
use crate::protocol::{Body, Event, Pid};
use crate::scenario::texts::Texts;

const SOURCE: &str = include_str!("../scenarios/challenges.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Challenge {
    pub name: String,
    /// The tutorial's section it belongs to.
    pub section: String,
    /// The scenario's command line (`ticket --buyers 2 --no-lock`).
    pub run: Vec<String>,
    /// When it is won: `KEY OP NUMBER`, joined by ` and `.
    pub goal: String,
    /// How many moves the learner has.
    pub budget: u32,
    /// False for a challenge that cannot be won (to show what a lock
    /// guarantees): the screen says why once the moves run out.
    #[serde(default = "yes")]
    pub winnable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct File {
    challenge: Vec<Challenge>,
}

/// Every challenge, in the order of the file.
pub fn all() -> Vec<Challenge> {
    toml::from_str::<File>(SOURCE)
        .map(|f| f.challenge)
        .unwrap_or_default()
}

pub fn named(name: &str) -> Option<Challenge> {
    all().into_iter().find(|c| c.name == name)
}

/// A move: a slot's next step, the pacer's pick, or a slot run to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Slot(u32),
    Pacer,
    ToEnd(u32),
}

/// `0,1,n,0*`: the moves of `--moves`, or why not.
pub fn parse_moves(list: &str, texts: &Texts) -> Result<Vec<Move>, String> {
    if list.trim().is_empty() {
        return Err(texts.say("challenge_no_move_given", &[]));
    }
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            if m == "n" {
                return Ok(Move::Pacer);
            }
            let (slot, to_end) = match m.strip_suffix('*') {
                Some(slot) => (slot, true),
                None => (m, false),
            };
            let slot: u32 = slot
                .parse()
                .map_err(|_| texts.say("challenge_not_a_move", &[("move", &m)]))?;
            Ok(if to_end {
                Move::ToEnd(slot)
            } else {
                Move::Slot(slot)
            })
        })
        .collect()
}

/// A goal's one condition.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    key: String,
    op: String,
    value: f64,
}

/// The goal, parsed: every condition must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal(Vec<Condition>);

impl Goal {
    pub fn parse(text: &str) -> Result<Goal, String> {
        text.split(" and ")
            .map(|part| {
                let words: Vec<&str> = part.split_whitespace().collect();
                match words.as_slice() {
                    [key, op, value] if [">=", "<=", "==", ">", "<"].contains(op) => {
                        Ok(Condition {
                            key: key.to_string(),
                            op: op.to_string(),
                            value: value
                                .parse()
                                .map_err(|_| format!("{value}: not a number"))?,
                        })
                    }
                    _ => Err(format!("'{part}' is not KEY OP NUMBER")),
                }
            })
            .collect::<Result<_, _>>()
            .map(Goal)
    }

    /// Whether one of its conditions is on the scenario's summary.
    fn reads_summary(&self) -> bool {
        self.0.iter().any(|c| c.key.starts_with("summary."))
    }

    /// Whether what has been seen meets it: `summary.KEY` (the scenario's
    /// summary of the run so far), `moments.NAME` (the fold's moments),
    /// `events.KEY` (events seen, by their log key: `blocked_put`).
    pub fn met(&self, seen: &Seen) -> bool {
        self.0.iter().all(|c| {
            let Some(have) = seen.value(&c.key) else {
                return false;
            };
            match c.op.as_str() {
                ">=" => have >= c.value,
                "<=" => have <= c.value,
                "==" => have == c.value,
                ">" => have > c.value,
                _ => have < c.value,
            }
        })
    }
}

/// What a goal is judged on.
pub struct Seen<'a> {
    pub summary: serde_json::Map<String, serde_json::Value>,
    pub model: &'a Model,
    pub events: &'a HashMap<String, u64>,
}

impl Seen<'_> {
    fn value(&self, key: &str) -> Option<f64> {
        let (kind, name) = key.split_once('.')?;
        match kind {
            "summary" => match self.summary.get(name)? {
                serde_json::Value::Bool(yes) => Some(f64::from(u8::from(*yes))),
                value => value.as_f64(),
            },
            "moments" => Some(
                self.model
                    .moments
                    .iter()
                    .find(|(m, _)| m.as_str() == name)
                    .map_or(0.0, |(_, n)| f64::from(*n)),
            ),
            "events" => Some(self.events.get(name).copied().unwrap_or(0) as f64),
            "procs" if name == "zombies" => Some(
                self.model
                    .procs
                    .iter()
                    .filter(|p| p.alive() && p.state == Some('Z'))
                    .count() as f64,
            ),
            _ => None,
        }
    }
}

/// What a game has seen: the events by log key, the moves (permits the
/// processes were granted), and where the goal was first met.
#[derive(Debug, Default)]
pub struct Tally {
    pub events: HashMap<String, u64>,
    pub moves: u32,
    /// The goal's moment: the event's number in the stream and what it
    /// was, as the events panel says it (who, what).
    pub met: Option<(u64, String)>,
    seen: u64,
}

impl Tally {
    /// Takes in `event`, which `model` has just folded; true if it met
    /// `goal` (the first time).
    pub fn observe(
        &mut self,
        event: &Event,
        model: &Model,
        scenario: &dyn crate::scenario::Scenario,
        goal: &Goal,
    ) -> bool {
        self.seen += 1;
        if matches!(event.body, Body::Grant { .. }) {
            self.moves += 1;
        }
        if event.is_logged() {
            *self.events.entry(Texts::log_key(event)).or_default() += 1;
        }
        if self.met.is_some() {
            return false;
        }
        // The scenario's summary is made only for a goal that reads it.
        let seen = Seen {
            summary: if goal.reads_summary() {
                scenario.summary(model)
            } else {
                serde_json::Map::new()
            },
            model,
            events: &self.events,
        };
        if goal.met(&seen) {
            let texts = &scenario.spec().texts;
            let what = texts.log_line(event, model);
            let what = match event.pid {
                Some(pid) => format!("{} {what}", crate::scenario::texts::who(texts, model, pid)),
                None => what,
            };
            self.met = Some((self.seen, what));
            return true;
        }
        false
    }
}

/// How a play ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub won: bool,
    /// The moves made: permits granted, as on the dashboard (a move for a
    /// process that could not step is reported and not counted).
    pub moves: u32,
    /// Where the goal was met: the event's number in the stream and what it
    /// was.
    pub at: Option<(u64, String)>,
    /// What the player should know of the moves: one line each.
    pub notes: Vec<String>,
}

/// The words of the challenges in the language asked for.
pub fn texts(lang: crate::lang::Lang) -> Texts {
    crate::scenario::texts::scenario_texts("challenges", lang)
}

/// How long a move waits for its process to come to its gate, or for the
/// run to be still again, before it says so.
const PATIENCE: Duration = Duration::from_secs(20);

/// Plays `moves` on the run `launch` asks for, started paused, and judges
/// it by `goal`. Stops at the first move that meets the goal.
pub fn play(
    launch: Launch,
    goal: &Goal,
    budget: u32,
    moves: &[Move],
    texts: &Texts,
) -> anyhow::Result<Verdict> {
    let mut options: RunOptions = launch.options.clone();
    options.paused = true;
    let scenario = launch.scenario.clone();
    let mut run = Run::start(scenario.clone(), options)?;
    let mut game = Game {
        run: &run,
        model: Model::new(),
        main_at_gate: false,
        tally: Tally::default(),
        slots: HashMap::new(),
        scenario: &*scenario,
        goal,
    };
    let mut verdict = Verdict {
        won: false,
        moves: 0,
        at: None,
        notes: Vec::new(),
    };
    game.settle();
    'moves: for (i, &mv) in moves.iter().enumerate() {
        if game.tally.met.is_some() {
            break;
        }
        if game.model.ended {
            verdict
                .notes
                .push(texts.say("challenge_ended", &[("n", &(i + 1))]));
            break;
        }
        if game.tally.moves >= budget {
            verdict
                .notes
                .push(texts.say("challenge_budget", &[("budget", &budget)]));
            break;
        }
        let n = i + 1;
        match mv {
            Move::Pacer => {
                if !game.step(None) {
                    let why = if game.model.ended {
                        "challenge_ended"
                    } else {
                        "challenge_nobody"
                    };
                    verdict.notes.push(texts.say(why, &[("n", &n)]));
                    if game.model.ended {
                        break;
                    }
                }
            }
            Move::Slot(slot) => {
                if let Err(why) = game.step_slot(slot) {
                    verdict
                        .notes
                        .push(texts.say(why, &[("n", &n), ("slot", &slot)]));
                }
            }
            Move::ToEnd(slot) => {
                let mut stepped = false;
                loop {
                    if game.tally.met.is_some() {
                        break;
                    }
                    if game.tally.moves >= budget {
                        verdict
                            .notes
                            .push(texts.say("challenge_budget", &[("budget", &budget)]));
                        break 'moves;
                    }
                    match game.step_slot(slot) {
                        Ok(()) => stepped = true,
                        // Run to its end: done once it has ended.
                        Err("challenge_finished") if stepped => break,
                        Err(why) => {
                            verdict
                                .notes
                                .push(texts.say(why, &[("n", &n), ("slot", &slot)]));
                            break;
                        }
                    }
                }
            }
        }
    }
    // What the last move set going (a get that times out, a process that
    // ends and is seen a zombie in /proc) has its time.
    game.wait_quiet(|g| g.tally.met.is_some(), Duration::from_millis(1500));
    verdict.won = game.tally.met.is_some();
    verdict.moves = game.tally.moves;
    if !verdict.won && !game.model.ended && verdict.moves < budget {
        verdict.notes.push(texts.say(
            "challenge_list_done",
            &[("moves", &verdict.moves), ("budget", &budget)],
        ));
    }
    verdict.at = game.tally.met.clone();
    drop(game);
    run.stop();
    Ok(verdict)
}

struct Game<'a> {
    run: &'a Run,
    model: Model,
    /// Whether the main process (mpviz's own, a pool's or a queue's main
    /// program, which is no row of the table) waits at its gate.
    main_at_gate: bool,
    tally: Tally,
    slots: HashMap<u32, Pid>,
    scenario: &'a dyn crate::scenario::Scenario,
    goal: &'a Goal,
}

impl Game<'_> {
    fn fold(&mut self, batch: Vec<Event>) {
        for event in batch {
            if let (Body::Spawn { slot, role, .. }, Some(pid)) = (&event.body, event.pid) {
                if role != "forkserver" && role != "thread" {
                    self.slots.entry(*slot).or_insert(pid);
                }
            }
            if event.pid.is_some() && event.pid == self.model.parent_pid {
                match event.body {
                    Body::Ready { .. } => self.main_at_gate = true,
                    Body::Grant { .. } => self.main_at_gate = false,
                    _ => {}
                }
            }
            let kept = event.clone();
            self.model.fold(event);
            self.tally
                .observe(&kept, &self.model, self.scenario, self.goal);
        }
    }

    /// Folds what comes until `until` holds, or nothing has come for a
    /// while (the run is still); false in the second case.
    fn wait(&mut self, until: impl Fn(&Game) -> bool) -> bool {
        self.wait_quiet(until, Duration::from_millis(300))
    }

    /// As `wait`, where a run is still once nothing has come for `quiet`.
    fn wait_quiet(&mut self, until: impl Fn(&Game) -> bool, quiet: Duration) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if until(self) {
                return true;
            }
            let quiet = if self.model.ended {
                Duration::ZERO
            } else {
                quiet
            };
            match self.run.events().recv_timeout(quiet) {
                Ok(batch) => self.fold(batch),
                Err(_)
                    if Instant::now() < deadline
                        && !self.model.ended
                        && !self.still()
                        && !self.asleep_unseen() => {}
                Err(_) => return until(self),
            }
        }
    }

    /// Whether every live process of the run is at its gate, blocked, or
    /// gone: nothing will move until a move.
    fn still(&self) -> bool {
        self.model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver")
            .all(still_by_its_reports)
    }

    /// Whether every live process that is not still by what it reported
    /// sleeps in the kernel in a wait that is not a timed sleep of its own:
    /// on something no event names (a server waiting for a request, a
    /// parent in `waitpid`). Looked at once the run has been quiet a while.
    fn asleep_unseen(&self) -> bool {
        self.model
            .procs
            .iter()
            .filter(|p| p.role != "forkserver" && !still_by_its_reports(p))
            .all(|p| {
                !matches!(p.activity, Activity::Sleeping(_))
                    && crate::engine::pacer::asleep_in_kernel(p.pid)
            })
    }

    fn settle(&mut self) {
        self.wait(|g| g.model.ended || (g.still() && !g.slots.is_empty()));
    }

    /// One step by the pacer (`None`) or by `pid`, once there is one to
    /// take; waits until it is granted and the run is still again.
    fn step(&mut self, pid: Option<Pid>) -> bool {
        let granted = self.tally.moves;
        let at_gate = |g: &Game| match pid {
            Some(pid) => g.model.proc(pid).is_some_and(|p| p.at_gate.is_some()),
            None => g.main_at_gate || g.model.procs.iter().any(|p| p.at_gate.is_some()),
        };
        if !self.wait(at_gate) {
            return false;
        }
        self.run.pace(match pid {
            Some(pid) => PacerCmd::StepPid(pid),
            None => PacerCmd::Step,
        });
        if !self.wait(|g| g.tally.moves > granted) {
            return false;
        }
        self.settle();
        true
    }

    /// A step of the process in `slot`: why not, as a text's key.
    fn step_slot(&mut self, slot: u32) -> Result<(), &'static str> {
        self.wait(|g| g.slots.contains_key(&slot));
        let pid = *self.slots.get(&slot).ok_or("challenge_no_slot")?;
        let proc = self.model.proc(pid);
        if !proc.is_some_and(|p| p.alive() && p.state != Some('Z')) {
            return Err("challenge_finished");
        }
        if proc.is_some_and(|p| {
            p.at_gate.is_none()
                && matches!(
                    p.activity,
                    Activity::WaitingForLock(_) | Activity::Blocked(_)
                )
        }) {
            return Err("challenge_blocked");
        }
        if self.step(Some(pid)) {
            Ok(())
        } else if self.model.proc(pid).is_some_and(|p| p.alive()) {
            Err("challenge_blocked")
        } else {
            Err("challenge_finished")
        }
    }
}

/// Whether `p` is gone, at its gate, a zombie, or blocked in the kernel on
/// a lock or a queue, as its events say: it moves only when let.
fn still_by_its_reports(p: &crate::model::Proc) -> bool {
    !p.alive()
        || p.at_gate.is_some()
        || p.state == Some('Z')
        || matches!(
            p.activity,
            Activity::WaitingForLock(_) | Activity::Blocked(_)
        )
}

/// Where this user's progress is kept: `$XDG_STATE_HOME/mpviz`, else
/// `~/.local/state/mpviz`.
pub fn state_dir() -> Option<PathBuf> {
    // A relative one is ignored, as the XDG base directory spec says.
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("mpviz"))
}

/// The challenges won so far, with the fewest moves each took.
pub fn progress() -> HashMap<String, u32> {
    state_dir()
        .and_then(|d| std::fs::read_to_string(d.join("challenges.json")).ok())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// Keeps a win (the fewest moves). A state directory that cannot be
/// written costs the record, not the game.
pub fn record_win(name: &str, moves: u32) -> std::io::Result<()> {
    let Some(dir) = state_dir() else {
        return Ok(());
    };
    let mut won = progress();
    let best = won.entry(name.to_string()).or_insert(moves);
    *best = (*best).min(moves);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join("challenges.json.new");
    std::fs::write(&tmp, serde_json::to_string_pretty(&won)?)?;
    std::fs::rename(tmp, dir.join("challenges.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_challenge_parses_with_a_goal_and_words_in_every_language() {
        let all = all();
        assert!(all.len() >= 6);
        for c in &all {
            Goal::parse(&c.goal).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            for lang in crate::lang::Lang::all() {
                let t = texts(lang);
                assert!(
                    t.get(&format!("goal_{}", c.name)).is_some(),
                    "{} {lang:?}",
                    c.name
                );
                assert!(
                    t.get(&format!("hint_{}", c.name)).is_some(),
                    "{} {lang:?}",
                    c.name
                );
                // One that cannot be won says why, when it is lost.
                assert_eq!(
                    t.get(&format!("why_{}", c.name)).is_some(),
                    !c.winnable,
                    "why_{} {lang:?}",
                    c.name
                );
            }
            crate::app::launch_from_args(
                &c.run
                    .iter()
                    .map(String::as_str)
                    .chain(["--json"])
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        }
    }

    #[test]
    fn moves_are_slots_the_pacer_or_a_slot_to_its_end() {
        let t = texts(crate::lang::Lang::EN);
        assert_eq!(
            parse_moves("0, 1,n,0*", &t).unwrap(),
            vec![Move::Slot(0), Move::Slot(1), Move::Pacer, Move::ToEnd(0)]
        );
        assert!(parse_moves("0,x", &t).is_err());
        assert!(parse_moves("-1", &t).is_err());
        assert!(parse_moves(" ", &t).is_err());
    }

    #[test]
    fn a_goal_holds_when_each_of_its_conditions_does() {
        let goal = Goal::parse("summary.sold >= 2 and events.blocked_put > 0").unwrap();
        let model = Model::new();
        let mut events = HashMap::new();
        let mut summary = serde_json::Map::new();
        summary.insert("sold".into(), serde_json::json!(2));
        let seen = |events: &HashMap<String, u64>, summary: &serde_json::Map<_, _>| {
            goal.met(&Seen {
                summary: summary.clone(),
                model: &model,
                events,
            })
        };
        assert!(!seen(&events, &summary));
        events.insert("blocked_put".into(), 1);
        assert!(seen(&events, &summary));
        summary.insert("sold".into(), serde_json::Value::Null);
        assert!(!seen(&events, &summary), "a value not known is no value");
        assert!(Goal::parse("summary.sold >> 2").is_err());
    }
}
