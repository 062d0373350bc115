//! The dashboard: a small loop that folds the run's events into the model,
//! turns keys into pacer commands, and redraws when something changed.

pub mod history;
pub mod keys;
pub mod step;
pub mod theme;
pub mod timeline;
pub mod view;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{select, Receiver};
use crossterm::cursor::{Hide, Show};
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyCode, KeyEventKind,
    KeyModifiers, MouseButton, MouseEventKind,
};
use crossterm::terminal::EnterAlternateScreen;
use nix::sys::signal::Signal;
use signal_hook::consts::SIGTSTP;

use crate::engine::{PacerCmd, Run, Speed};
use crate::launch::{Launch, EXIT_FAILED};
use crate::model::Model;
use crate::protocol::Event;
use crate::signals;
use keys::Action;
use theme::Theme;
use view::{row_order, Focus, Screen, ViewState};

/// At most this many frames a second, however fast events come.
const FRAME: Duration = Duration::from_millis(33);
/// For tests only: pressing this key panics, to check that a panic still
/// restores the terminal and leaves no process or file behind.
pub const PANIC_KEY_VAR: &str = "MPVIZ_TEST_PANIC_KEY";

pub fn run(launch: Launch) -> anyhow::Result<ExitCode> {
    // Ctrl-Z reaches mpviz as a key (the terminal is raw); SIGTSTP sent by
    // `kill` is the same request.
    let signals = signals::watch(&[SIGTSTP])?;
    // `--predict` with no answer: the question comes before the run.
    let mut launch = launch;
    let asked = if launch.predict.as_deref() == Some("") {
        let mut terminal = take_terminal()?;
        let input = read_input()?;
        match ask_prediction(&mut terminal, &input, &signals, &launch) {
            Ok(Ok(answer)) => {
                launch.predict = Some(answer);
                Some((terminal, input))
            }
            Ok(Err(code)) => {
                restore_terminal();
                return Ok(code);
            }
            Err(e) => {
                restore_terminal();
                return Err(e);
            }
        }
    } else {
        None
    };
    // Start the run first: if it cannot start, the error is printed on an
    // untouched terminal.
    let mut app = match App::start(launch) {
        Ok(app) => app,
        Err(e) => {
            restore_terminal();
            return Err(e);
        }
    };
    let (mut terminal, input) = match asked {
        Some(taken) => taken,
        None => (take_terminal()?, read_input()?),
    };
    let result = app.main_loop(&mut terminal, &input, &signals);
    app.stop();
    // Quit before the end: the recording ends with the run as far as it went.
    let recorded = app.end_recording();
    restore_terminal();
    let result = result.and_then(|code| recorded.map(|()| code));
    // A run that failed (a fork, a limit) says so once the screen is
    // given back, and mpviz exits 1.
    match (result, app.model.errors.first()) {
        (Ok(code), Some(error)) if code == ExitCode::SUCCESS => {
            eprintln!("mpviz: error: {error}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
        (result, _) => result,
    }
}

/// `mpviz challenge NAME`: the dashboard on the challenge's run, started
/// paused; the learner moves with `n` and Enter, the goal and the moves
/// left under the header, the verdict there when it comes.
pub fn challenge(
    mut launch: Launch,
    challenge: crate::challenge::Challenge,
) -> anyhow::Result<ExitCode> {
    let signals = signals::watch(&[SIGTSTP])?;
    launch.options.paused = true;
    let goal = crate::challenge::Goal::parse(&challenge.goal).map_err(anyhow::Error::msg)?;
    let mut app = App::start(launch)?;
    let game = Game {
        challenge,
        goal,
        tally: Default::default(),
        texts: crate::challenge::texts(crate::lang::current()),
        hints: 0,
        over: None,
        lost_why: "challenge_why_budget",
        news_at: Instant::now(),
    };
    app.view.challenge = Some(game.line());
    app.challenge = Some(game);
    let mut terminal = take_terminal()?;
    let input = read_input()?;
    let result = app.main_loop(&mut terminal, &input, &signals);
    app.stop();
    restore_terminal();
    result
}

impl Game {
    /// The line under the header: the goal and the moves left, or the
    /// verdict.
    fn line(&self) -> (String, Option<bool>) {
        let c = &self.challenge;
        let moves = self.tally.moves;
        let text = match self.over {
            Some(true) => {
                let what = self
                    .tally
                    .met
                    .as_ref()
                    .map_or("", |(_, what)| what.as_str());
                self.texts
                    .say("challenge_won_line", &[("moves", &moves), ("what", &what)])
            }
            Some(false) => {
                let lost = self.texts.say(
                    "challenge_lost_line",
                    &[
                        ("moves", &moves),
                        ("why", &self.texts.say(self.lost_why, &[])),
                    ],
                );
                if c.winnable {
                    lost
                } else {
                    let why = self.texts.say(&format!("why_{}", c.name), &[]);
                    self.texts
                        .say("challenge_lost_why", &[("lost", &lost), ("why", &why)])
                }
            }
            None => self.texts.say(
                "challenge_goal_line",
                &[
                    ("goal", &self.texts.say(&format!("goal_{}", c.name), &[])),
                    ("left", &c.budget.saturating_sub(moves)),
                ],
            ),
        };
        (text, self.over)
    }

    /// The next hint: `hint_NAME`, then `hint_NAME_2`, ... as far as the
    /// challenge has them; then the last again.
    fn hint(&self) -> String {
        let name = &self.challenge.name;
        let key = |n: usize| match n {
            0 | 1 => format!("hint_{name}"),
            n => format!("hint_{name}_{n}"),
        };
        let n = (1..=self.hints)
            .rev()
            .find(|&n| self.texts.get(&key(n)).is_some())
            .unwrap_or(1);
        self.texts.say(&key(n), &[])
    }
}

/// `mpviz replay FILE`: the dashboard on a recording's events, starting no
/// process. It opens paused on the first event; space plays the events at
/// the speed (`+`/`-`), and every key that moves through a live run's
/// history moves through the recording.
pub fn replay(
    launch: Launch,
    events: Vec<Event>,
    note: Option<String>,
) -> anyhow::Result<ExitCode> {
    let signals = signals::watch(&[SIGTSTP])?;
    let mut app = App::from_recording(launch, events);
    app.view.status = note;
    let mut terminal = take_terminal()?;
    let input = read_input()?;
    let result = app.main_loop(&mut terminal, &input, &signals);
    restore_terminal();
    result
}

/// Whether the dashboard has the terminal (raw mode, the alternate screen,
/// the mouse), so that [`restore_terminal`] knows to give it back.
static TERMINAL_TAKEN: AtomicBool = AtomicBool::new(false);

/// Raw mode, the alternate screen, the mouse.
/// The scenario's question on the screen, and the answer as typed; or the
/// exit code if the learner quits instead (Esc, Ctrl-C) or a signal ends
/// mpviz.
fn ask_prediction(
    terminal: &mut ratatui::DefaultTerminal,
    input: &Receiver<TermEvent>,
    signals: &Receiver<i32>,
    launch: &Launch,
) -> anyhow::Result<Result<String, ExitCode>> {
    let texts = &launch.scenario.spec().texts;
    let theme = Theme::from_env();
    let about = format!(
        "mpviz {}: {}",
        launch.scenario.name(),
        launch.scenario.variant()
    );
    let mut answer = String::new();
    loop {
        terminal.draw(|frame| view::predict::draw(frame, texts, theme, &about, &answer))?;
        let event = select! {
            recv(input) -> event => event,
            recv(signals) -> signal => match signal {
                // Ctrl-Z is a key here: a SIGTSTP from elsewhere waits.
                Ok(SIGTSTP) => continue,
                signal => return Ok(Err(ExitCode::from(128 + signal.unwrap_or(15) as u8))),
            },
        };
        let Ok(event) = event else {
            return Ok(Err(ExitCode::SUCCESS));
        };
        let TermEvent::Key(key) = event else {
            continue;
        };
        if key.kind == KeyEventKind::Release {
            continue;
        }
        let control = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Ok(Err(ExitCode::SUCCESS)),
            KeyCode::Char('c') if control => return Ok(Err(ExitCode::SUCCESS)),
            KeyCode::Enter if !answer.trim().is_empty() && launch.answers(&answer) => {
                return Ok(Ok(answer.trim().to_string()))
            }
            KeyCode::Backspace => {
                answer.pop();
            }
            // Where the answer is a number, only what can start one is
            // typed: a character that a digit after it makes a number.
            KeyCode::Char(c)
                if !control
                    && !c.is_control()
                    && answer.chars().count() < view::predict::LONGEST
                    && launch.answers(&format!("{answer}{c}0")) =>
            {
                answer.push(c)
            }
            _ => {}
        }
    }
}

fn take_terminal() -> anyhow::Result<ratatui::DefaultTerminal> {
    let terminal = ratatui::try_init()?;
    TERMINAL_TAKEN.store(true, Ordering::SeqCst);
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    Ok(terminal)
}

/// Gives the terminal back as it was: mouse off, cursor shown, the main
/// screen, echo and line editing on. Safe to call from a panic hook and
/// more than once.
/// Whether the dashboard holds the terminal now. Reads one atomic: fit for
/// a signal handler.
pub fn terminal_taken() -> bool {
    TERMINAL_TAKEN.load(Ordering::SeqCst)
}

pub fn restore_terminal() {
    if TERMINAL_TAKEN.swap(false, Ordering::SeqCst) {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture, Show);
        ratatui::restore();
    }
}

/// Ctrl-Z: freeze the run's processes, give the terminal back and stop
/// mpviz as the shell expects; on `fg` (SIGCONT), take the terminal again,
/// draw the whole screen anew and let the processes go on.
fn suspend(terminal: &mut ratatui::DefaultTerminal, run: Option<&Run>) -> anyhow::Result<()> {
    if let Some(run) = run {
        run.freeze(true);
    }
    restore_terminal();
    // SIGSTOP, not SIGTSTP: with no shell (a session of its own) the
    // kernel would discard a SIGTSTP.
    let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGSTOP);
    // Here after SIGCONT.
    crossterm::terminal::enable_raw_mode()?;
    TERMINAL_TAKEN.store(true, Ordering::SeqCst);
    crossterm::execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableMouseCapture,
        Hide
    )?;
    // The alternate screen comes back blank: a blank frame makes ratatui
    // forget what it drew before, so that the next one draws every cell.
    // (`Terminal::clear` would ask the terminal where its cursor is.)
    terminal.draw(|frame| frame.render_widget(ratatui::widgets::Clear, frame.area()))?;
    if let Some(run) = run {
        run.freeze(false);
    }
    Ok(())
}

fn inside(area: ratatui::layout::Rect, column: u16, row: u16) -> bool {
    column >= area.x && column < area.x + area.width && row >= area.y && row < area.y + area.height
}

fn read_input() -> anyhow::Result<Receiver<TermEvent>> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    std::thread::Builder::new()
        .name("mpviz-input".into())
        .spawn(move || {
            while let Ok(event) = crossterm::event::read() {
                if tx.send(event).is_err() {
                    return;
                }
            }
        })?;
    Ok(rx)
}

struct App {
    launch: Launch,
    /// The run's processes; none in a replay.
    run: Option<Run>,
    /// Playing a recording: its pace.
    player: Option<Player>,
    events: Receiver<Vec<Event>>,
    model: Model,
    /// Every event folded, to step back through.
    history: history::History,
    /// What each process did when, for the timeline (`t`): built as the
    /// history is.
    timeline: timeline::Timeline,
    /// Stepped back: how many events the screen shows (`None`: the live
    /// edge), and the model after them.
    cursor: Option<(usize, Model)>,
    /// What the scenario's own alarm counters (append's torn lines) add up
    /// to: one more is a moment to jump to.
    alarms: u64,
    view: ViewState,
    theme: Theme,
    started: Instant,
    /// A challenge being played (`mpviz challenge NAME`).
    challenge: Option<Game>,
    /// After a run is started again: the name of the process that was
    /// selected, to select once a process of that name is spawned.
    reselect: Option<String>,
}

/// A challenge on the dashboard: its goal, what has been seen, the hints
/// given, and whether it is over (won or lost).
struct Game {
    challenge: crate::challenge::Challenge,
    goal: crate::challenge::Goal,
    tally: crate::challenge::Tally,
    texts: crate::scenario::texts::Texts,
    hints: usize,
    over: Option<bool>,
    /// Why it was lost, as a text's key: the moves used up, or the run over.
    lost_why: &'static str,
    /// When the last event came: with no move left, a run quiet this long
    /// (see [`OUT_OF_MOVES_QUIET`]) has lost.
    news_at: Instant,
}

/// With every move used, how long the run is quiet before the challenge is
/// lost: what the last move set going (a timeout, a process's end seen in
/// `/proc`) has this long to show.
const OUT_OF_MOVES_QUIET: Duration = Duration::from_secs(2);

/// A replay's pace: playing or not, events a second, and the part of an
/// event due since the last one shown.
struct Player {
    playing: bool,
    speed: f64,
    due: f64,
}

enum Next {
    Continue,
    Suspend,
    Quit(ExitCode),
}

impl App {
    /// A dashboard with nothing folded yet.
    fn new(
        launch: Launch,
        run: Option<Run>,
        events: Receiver<Vec<Event>>,
        player: Option<Player>,
    ) -> App {
        App {
            launch,
            run,
            player,
            events,
            model: Model::new(),
            history: history::History::new(),
            timeline: timeline::Timeline::new(),
            cursor: None,
            alarms: 0,
            view: ViewState::default(),
            theme: Theme::from_env(),
            started: Instant::now(),
            challenge: None,
            reselect: None,
        }
    }

    fn start(launch: Launch) -> anyhow::Result<App> {
        let run = Run::start(launch.scenario.clone(), launch.options.clone())?;
        let events = run.events().clone();
        let mut app = App::new(launch, Some(run), events, None);
        // `--predict`: the question, and the answer given, until a key.
        if let Some(answer) = &app.launch.predict {
            let texts = &app.launch.scenario.spec().texts;
            app.view.status = Some(format!(
                "{} {}",
                texts.say("predict_question", &[]),
                texts.say("predict_asked", &[("answer", answer)])
            ));
        }
        Ok(app)
    }

    /// The dashboard on a recording: every event folded into the history,
    /// the screen on the first one.
    fn from_recording(launch: Launch, events: Vec<Event>) -> App {
        let speed = launch.options.speed.per_second().unwrap_or(10.0);
        let player = Player {
            playing: false,
            speed,
            due: 0.0,
        };
        let mut app = App::new(launch, None, crossbeam_channel::never(), Some(player));
        for event in events {
            app.apply(event);
        }
        app.go_to(Some(1));
        app
    }

    /// Ends the run's processes, if there are any.
    fn stop(&mut self) {
        if let Some(run) = &mut self.run {
            run.stop();
        }
    }

    /// A pacing key for the run's pacer, or the replay's player.
    fn pace(&mut self, cmd: PacerCmd) {
        match (&self.run, &mut self.player) {
            (Some(run), _) => run.pace(cmd),
            (None, Some(player)) => match cmd {
                PacerCmd::TogglePause => {
                    player.playing = !player.playing;
                    player.due = 0.0;
                    // At the end, play from the start again.
                    if player.playing && self.cursor.is_none() {
                        self.go_to(Some(1));
                    }
                }
                PacerCmd::Faster => player.speed = (player.speed * 2.0).min(5000.0),
                PacerCmd::Slower => player.speed = (player.speed / 2.0).max(0.25),
                _ => {}
            },
            (None, None) => {}
        }
    }

    /// Plays the recording on: as many events as the speed allows in `dt`.
    fn play(&mut self, dt: Duration) -> bool {
        let Some(player) = &mut self.player else {
            return false;
        };
        if !player.playing {
            return false;
        }
        player.due += player.speed * dt.as_secs_f64();
        let whole = player.due.floor() as usize;
        if whole == 0 {
            return false;
        }
        player.due -= whole as f64;
        let at = self.cursor.as_ref().map_or(self.history.len(), |(k, _)| *k);
        let to = at + whole;
        if to >= self.history.len() {
            if let Some(player) = &mut self.player {
                player.playing = false;
            }
        }
        self.go_to(Some(to));
        true
    }

    /// Shows the screen after `to` events (`None`, or the end: the live
    /// edge, the last event).
    fn go_to(&mut self, to: Option<usize>) {
        let len = self.history.len();
        self.cursor = match to {
            Some(k) if k < len && len > 0 => Some((k, self.history.model_at(k))),
            _ => None,
        };
    }

    fn main_loop(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        input: &Receiver<TermEvent>,
        signals: &Receiver<i32>,
    ) -> anyhow::Result<ExitCode> {
        let tick = crossbeam_channel::tick(Duration::from_millis(250));
        // A replay plays on at its speed.
        let play_tick = if self.player.is_some() {
            crossbeam_channel::tick(Duration::from_millis(40))
        } else {
            crossbeam_channel::never()
        };
        let mut played = Instant::now();
        let never = crossbeam_channel::never();
        let mut dirty = true;
        let mut ticks = 0u64;
        let mut last_draw = Instant::now() - FRAME;
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                self.view.history = self.cursor.as_ref().map(|(k, _)| (*k, self.history.len()));
                self.view.replay = self.player.as_ref().map(|p| (p.playing, p.speed));
                terminal.draw(|frame| {
                    let screen = Screen {
                        model: self.cursor.as_ref().map_or(&self.model, |(_, m)| m),
                        view: &self.view,
                        scenario: &*self.launch.scenario,
                        theme: self.theme,
                        timeline: Some(&self.timeline),
                    };
                    view::draw(frame, &screen);
                })?;
                dirty = false;
                last_draw = Instant::now();
            }
            let wait = if dirty {
                FRAME.saturating_sub(last_draw.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            let record_failed = self
                .launch
                .record
                .as_ref()
                .map_or(&never, |r| r.failed())
                .clone();
            select! {
                recv(self.events) -> batch => match batch {
                    Ok(batch) => {
                        // Fold whatever else is waiting too before drawing again.
                        let more: Vec<_> = self.events.try_iter().take(1000).collect();
                        for batch in std::iter::once(batch).chain(more) {
                            if let Some(record) = &self.launch.record {
                                record.events(&batch);
                            }
                            for event in batch {
                                self.apply(event);
                            }
                        }
                        if self.model.ended {
                            self.end_recording()?;
                        }
                        dirty = true;
                    }
                    Err(_) => self.events = crossbeam_channel::never(),
                },
                recv(record_failed) -> error => {
                    return Err(crate::headless::recording_failed(&self.launch, error.ok()));
                },
                recv(input) -> event => {
                    let Ok(event) = event else { return Ok(ExitCode::SUCCESS) };
                    match self.on_input(event)? {
                        Next::Quit(code) => return Ok(code),
                        Next::Suspend => suspend(terminal, self.run.as_ref())?,
                        Next::Continue => {}
                    }
                    dirty = true;
                },
                recv(signals) -> signal => {
                    let signal = signal.unwrap_or(nix::libc::SIGTERM);
                    if signal == SIGTSTP {
                        suspend(terminal, self.run.as_ref())?;
                        dirty = true;
                        continue;
                    }
                    return Ok(ExitCode::from(128 + signal as u8));
                },
                recv(tick) -> _ => {
                    // The clock moves on screen; paused, once a second is enough.
                    ticks += 1;
                    dirty |= !self.model.ended && (!self.model.pace.paused || ticks % 4 == 0);
                    dirty |= self.out_of_moves();
                },
                recv(play_tick) -> _ => {
                    let now = Instant::now();
                    dirty |= self.play(now - played);
                    played = now;
                },
                default(wait) => {},
            }
        }
    }

    /// A challenge with no move left, and nothing new for a while: lost.
    /// True if that is news.
    fn out_of_moves(&mut self) -> bool {
        let Some(game) = &mut self.challenge else {
            return false;
        };
        if game.over.is_some()
            || game.tally.moves < game.challenge.budget
            || game.news_at.elapsed() < OUT_OF_MOVES_QUIET
        {
            return false;
        }
        game.over = Some(false);
        self.view.challenge = Some(game.line());
        true
    }

    /// Ends the recording, if the run is recorded: the summary of the run
    /// as far as it went, every line written, the file closed. A restart
    /// is not recorded (the file holds one run).
    fn end_recording(&mut self) -> anyhow::Result<()> {
        let Some(record) = self.launch.record.take() else {
            return Ok(());
        };
        let wall_ms = self.started.elapsed().as_millis() as u64;
        record.summary(&crate::headless::summary_line(
            &self.launch,
            &self.model,
            wall_ms,
        ));
        record
            .close()
            .map_err(|e| crate::headless::recording_failed_at(record.path(), e))
    }

    fn apply(&mut self, event: Event) {
        let moments: u32 = self.model.moments.values().sum();
        let alarms = self.alarms;
        let kept = event.clone();
        self.model.fold(event);
        // A counter the scenario counts itself (append's torn lines) moves
        // only when a file does.
        if matches!(kept.body, crate::protocol::Body::File { .. }) {
            let scenario = &*self.launch.scenario;
            self.alarms = scenario
                .show()
                .alarms
                .iter()
                .filter_map(|(key, _)| scenario.alarm_count(key, &self.model))
                .sum();
        }
        if let (Some(name), crate::protocol::Body::Spawn { name: spawned, .. }) =
            (&self.reselect, &kept.body)
        {
            if name == spawned {
                self.view.selected = kept.pid;
                self.reselect = None;
            }
        }
        if let Some(game) = &mut self.challenge {
            game.news_at = Instant::now();
            let scenario = &*self.launch.scenario;
            let met = game.tally.observe(&kept, &self.model, scenario, &game.goal);
            if met && game.over.is_none() {
                game.over = Some(true);
                // The event that met it is marked in the events panel, if
                // the panel shows it (a sample of /proc it does not).
                self.view.goal_met = kept
                    .is_logged()
                    .then(|| self.model.log.back().map(|e| e.seq))
                    .flatten();
                let _ = crate::challenge::record_win(&game.challenge.name, game.tally.moves);
            } else if game.over.is_none() && self.model.ended {
                game.over = Some(false);
                game.lost_why = "challenge_why_ended";
            }
            self.view.challenge = Some(game.line());
        }
        let notable = history::notable(&kept, &self.model, moments) || self.alarms > alarms;
        self.timeline.push(&kept, self.history.len());
        self.history.push(kept, &self.model, notable);
        if self.model.ended {
            self.events = crossbeam_channel::never();
            // `--predict`: the answer given, beside what happened.
            if let Some(said) = self.launch.prediction(&self.model) {
                self.view.status = Some(said);
            }
        }
    }

    fn on_input(&mut self, event: TermEvent) -> anyhow::Result<Next> {
        match event {
            TermEvent::Key(key)
                if key.kind != KeyEventKind::Release
                    && keys::action_for(key) == Some(Action::Suspend) =>
            {
                return Ok(Next::Suspend);
            }
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => {
                if let KeyCode::Char(c) = key.code {
                    if std::env::var(PANIC_KEY_VAR).is_ok_and(|k| k.starts_with(c)) {
                        panic!("a test asked for a panic with {c:?}");
                    }
                }
                let action = keys::action_for(key);
                if self.view.help {
                    // The arrows and pages scroll the help; any other key
                    // closes it; q still quits.
                    let by = match action {
                        Some(Action::Up) => -1,
                        Some(Action::Down) => 1,
                        Some(Action::PageUp) => -10,
                        Some(Action::PageDown) => 10,
                        _ => 0,
                    };
                    if by != 0 {
                        let at = i32::from(self.view.help_scroll) + by;
                        self.view.help_scroll = at.clamp(0, i32::from(u16::MAX)) as u16;
                        return Ok(Next::Continue);
                    }
                    self.view.help = false;
                    if action != Some(Action::Quit) {
                        return Ok(Next::Continue);
                    }
                }
                self.view.status = None;
                self.view.status_above = false;
                if let Some(action) = action {
                    return self.act(action);
                }
            }
            TermEvent::Mouse(mouse) => match mouse.kind {
                // The wheel scrolls the panel under the pointer.
                MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                    let by = if mouse.kind == MouseEventKind::ScrollDown {
                        3
                    } else {
                        -3
                    };
                    if inside(self.view.log_rows.get(), mouse.column, mouse.row) {
                        self.scroll_log(by);
                    } else {
                        self.move_selection(by);
                    }
                }
                MouseEventKind::Down(MouseButton::Left) => self.click(mouse.column, mouse.row),
                _ => {}
            },
            _ => {}
        }
        Ok(Next::Continue)
    }

    fn act(&mut self, action: Action) -> anyhow::Result<Next> {
        if self.view.focus == Focus::Events {
            let page = self.view.log_rows.get().height.saturating_sub(3).max(1) as isize;
            let by = match action {
                Action::Up => Some(-1),
                Action::Down => Some(1),
                Action::PageUp => Some(-page),
                Action::PageDown => Some(page),
                Action::Top => Some(isize::MIN / 2),
                Action::Bottom => Some(isize::MAX / 2),
                _ => None,
            };
            if let Some(by) = by {
                self.scroll_log(by);
                return Ok(Next::Continue);
            }
        }
        // A challenge's keys come first (its `h` is a hint where the
        // timeline is not shown).
        let timeline_shown = self.view.timeline.shown;
        if let Some(game) = &mut self.challenge {
            match action {
                // The learner is the scheduler: no free running.
                Action::TogglePause | Action::Faster | Action::Slower | Action::Restart => {
                    self.view.status = Some(game.texts.say("challenge_keys", &[]));
                    return Ok(Next::Continue);
                }
                Action::Step | Action::StepSelected if game.over.is_some() => {
                    self.view.status = Some(game.texts.say("challenge_over", &[]));
                    return Ok(Next::Continue);
                }
                // The verdict waits for what the last move set going
                // (`out_of_moves`).
                Action::Step | Action::StepSelected
                    if game.tally.moves >= game.challenge.budget =>
                {
                    self.view.status = Some(game.texts.say("challenge_no_moves", &[]));
                    return Ok(Next::Continue);
                }
                Action::Undo => {
                    self.undo()?;
                    return Ok(Next::Continue);
                }
                // `h`: the next hint (the timeline's `h` where it is shown).
                Action::Earlier if !timeline_shown => {
                    game.hints += 1;
                    self.view.status = Some(game.hint());
                    self.view.status_above = true;
                    return Ok(Next::Continue);
                }
                _ => {}
            }
        }
        if let Some(next) = self.act_in_history(action) {
            return Ok(next);
        }
        if self.act_in_timeline(action) {
            return Ok(Next::Continue);
        }
        let page = self.view.table_rows.get().height.max(1) as isize;
        match action {
            Action::Quit => return Ok(Next::Quit(ExitCode::SUCCESS)),
            Action::Help => {
                self.view.help = true;
                self.view.help_scroll = 0;
            }
            Action::TogglePause => self.pace(PacerCmd::TogglePause),
            Action::Step => self.step(step::any(self.texts(), &self.model), PacerCmd::Step),
            Action::Code => self.view.toggle_code(),
            Action::Focus => {
                self.view.focus = match self.view.focus {
                    Focus::Table => Focus::Events,
                    Focus::Events => Focus::Table,
                }
            }
            Action::StepSelected => {
                let plan = step::selected(self.texts(), &self.model, self.view.selected);
                let pid = self.view.selected.unwrap_or_default();
                self.step(plan, PacerCmd::StepPid(pid));
            }
            Action::Faster => self.pace(PacerCmd::Faster),
            Action::Slower => self.pace(PacerCmd::Slower),
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-page),
            Action::PageDown => self.move_selection(page),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => self.move_selection(isize::MAX / 2),
            Action::Sort => self.view.sort = self.view.sort.next(),
            Action::Restart => self.restart()?,
            // Only a challenge takes a move back.
            Action::Undo => {}
            Action::Suspend => return Ok(Next::Suspend),
            // Said by `act_in_history` and `act_in_timeline`.
            Action::Back | Action::PrevMoment | Action::NextMoment => {}
            Action::Timeline
            | Action::ZoomIn
            | Action::ZoomOut
            | Action::Earlier
            | Action::Later
            | Action::Follow => {}
        }
        Ok(Next::Continue)
    }

    /// The keys that move through the history: `←`/`b` back one event (once
    /// the run is paused or over), `→`/`n` forward (at the live edge they
    /// step the real processes), `[`/`]` to the previous and next moment,
    /// `Home`/`End` to the ends while stepped back. A key that paces the
    /// run (space, Enter) goes back to the live edge first. `None`: the key
    /// is not about the history.
    fn act_in_history(&mut self, action: Action) -> Option<Next> {
        let len = self.history.len();
        let at = self.cursor.as_ref().map(|(k, _)| *k);
        let still = self.model.pace.paused || self.model.ended || self.player.is_some();
        let to = match (action, at) {
            (Action::Back | Action::PrevMoment | Action::NextMoment, _) if !still => {
                self.view.status = Some(self.texts().say("history_pause_first", &[]));
                return Some(Next::Continue);
            }
            (Action::Back, at) => Some(at.unwrap_or(len).saturating_sub(1).max(1)),
            (Action::Step, Some(k)) => Some(k + 1),
            (Action::Top, Some(_)) => Some(1),
            // At the end of a replay, Home is its first event again.
            (Action::Top, None) if self.player.is_some() => Some(1),
            (Action::Bottom, Some(_)) => Some(len),
            // (At the live edge, a moment that is the newest event is on
            // screen already: the one before it.)
            (Action::PrevMoment, at) => match self.history.moment_before(at.unwrap_or(len)) {
                Some(k) => Some(k),
                None => {
                    self.view.status = Some(self.texts().say("history_no_moment_before", &[]));
                    return Some(Next::Continue);
                }
            },
            (Action::NextMoment, at) => match at.and_then(|k| self.history.moment_after(k)) {
                Some(k) => Some(k),
                None => {
                    self.view.status = Some(self.texts().say("history_no_moment_after", &[]));
                    return Some(Next::Continue);
                }
            },
            (Action::TogglePause | Action::StepSelected, Some(_)) if self.player.is_none() => {
                // Back to the live edge, then the key does what it does.
                self.cursor = None;
                return None;
            }
            _ => return None,
        };
        self.view.status = None;
        self.go_to(to);
        Some(Next::Continue)
    }

    /// `t` shows or hides the timeline; while it is shown, its own keys
    /// zoom, scroll and follow the cursor (hidden, they say where they
    /// work). `false`: the key is not about the timeline.
    fn act_in_timeline(&mut self, action: Action) -> bool {
        let now = self.shown().now_ns;
        let tl = &mut self.view.timeline;
        match action {
            Action::Timeline => tl.shown = !tl.shown,
            Action::ZoomIn | Action::ZoomOut | Action::Earlier | Action::Later | Action::Follow
                if !tl.shown =>
            {
                self.view.status = Some(self.texts().say("timeline_keys_hidden", &[]));
            }
            Action::ZoomIn => tl.zoom_in(),
            Action::ZoomOut => tl.zoom_out(now),
            Action::Earlier => tl.scroll(-1, now),
            Action::Later => tl.scroll(1, now),
            Action::Follow => tl.follow(),
            _ => return false,
        }
        true
    }

    /// The number of events the screen shows.
    fn shown_events(&self) -> usize {
        self.cursor.as_ref().map_or(self.history.len(), |(k, _)| *k)
    }

    /// The selectable processes top to bottom, as their PIDs: the table's
    /// rows, or the timeline's lanes while it is shown.
    fn row_pids(&self) -> Vec<crate::protocol::Pid> {
        if self.view.timeline.shown {
            return view::lane_order(&self.timeline, self.shown_events());
        }
        let model = self.shown();
        row_order(model, self.view.sort, self.texts())
            .into_iter()
            .map(|i| model.procs[i].pid)
            .collect()
    }

    /// Scrolls the events panel `by` lines; at the bottom it follows the
    /// newest again, like `tail -f`.
    fn scroll_log(&mut self, by: isize) {
        let rows = self.view.log_rows.get().height.saturating_sub(2) as usize;
        let model = self.shown();
        let log = &model.log;
        let newest_page = log.len().saturating_sub(rows);
        let start = view::log_first_row(model, self.view.log_top, rows);
        let to = (start as isize)
            .saturating_add(by)
            .clamp(0, newest_page as isize) as usize;
        self.view.log_top = (to < newest_page).then(|| log[to].seq);
    }

    /// The model the screen shows: the live one, or the one stepped back to.
    fn shown(&self) -> &Model {
        self.cursor.as_ref().map_or(&self.model, |(_, m)| m)
    }

    /// The scenario's texts, over the shared ones.
    fn texts(&self) -> &crate::scenario::Texts {
        &self.launch.scenario.spec().texts
    }

    /// One step for any process at the gate; if none is there now, or the
    /// selected one cannot move, says why.
    fn step(&mut self, plan: step::Plan, cmd: PacerCmd) {
        match plan {
            step::Plan::Refuse(why) => self.view.status = Some(why),
            step::Plan::Go(note) => {
                self.view.status = note;
                self.pace(cmd);
            }
        }
    }

    fn move_selection(&mut self, by: isize) {
        let order = self.row_pids();
        if order.is_empty() {
            return;
        }
        let current = self
            .view
            .selected
            .and_then(|pid| order.iter().position(|&p| p == pid));
        let target = match current {
            Some(at) => (at as isize)
                .saturating_add(by)
                .clamp(0, order.len() as isize - 1) as usize,
            // The first selection is the first process that takes steps:
            // not the fork server, which only starts the others.
            None => order
                .iter()
                .position(|&pid| self.model.proc(pid).is_some_and(|p| p.role != "forkserver"))
                .unwrap_or(0),
        };
        self.view.selected = Some(order[target]);
    }

    fn click(&mut self, column: u16, row: u16) {
        let rows = self.view.table_rows.get();
        if !inside(rows, column, row) {
            if inside(self.view.log_rows.get(), column, row) {
                self.view.focus = Focus::Events;
            }
            return;
        }
        self.view.focus = Focus::Table;
        let order = self.row_pids();
        let index = if self.view.timeline.shown {
            self.view.timeline.offset.get() + usize::from(row - rows.y)
        } else {
            view::row_at(&self.view, row - rows.y)
        };
        if let Some(&pid) = order.get(index) {
            self.view.selected = Some(pid);
        }
    }

    /// Ends this run (every process killed, files removed) and starts the same
    /// scenario again with a new seed, at the current speed.
    /// A challenge's `u`: the moves so far but the last, played again on
    /// new processes (the same seed, the permits in the recorded order, as
    /// `mpviz rerun` does), then paused for the learner. Honest: what the
    /// processes do again is what they do, not a model's memory.
    fn undo(&mut self) -> anyhow::Result<()> {
        let events: Vec<Event> = self.history.events().collect();
        let Some(last) = events
            .iter()
            .rposition(|e| matches!(e.body, crate::protocol::Body::Grant { .. }))
        else {
            return Ok(());
        };
        let plan = crate::rerun::plan_of(&events[..last], self.launch.scenario.gate_slots());
        let mut options = self.launch.options.clone();
        options.plan = Some(std::sync::Arc::new(plan));
        options.paused = false;
        options.speed = Speed::Max;
        options.pause_after_plan = true;
        self.start_again(options)?;
        if let Some(game) = &mut self.challenge {
            game.tally = Default::default();
            game.over = None;
            self.view.goal_met = None;
            game.news_at = Instant::now();
            self.view.challenge = Some(game.line());
        }
        Ok(())
    }

    fn restart(&mut self) -> anyhow::Result<()> {
        if self.run.is_none() {
            // A replay has nothing to run again.
            return Ok(());
        }
        self.stop();
        self.end_recording()?;
        let mut options = self.launch.options.clone();
        // A rerun runs its recording again, the same seed and plan: the same
        // race once more, on new processes.
        if options.plan.is_none() {
            options.seed = fastrand::u64(..);
        }
        options.paused = self.model.pace.paused && !self.model.ended;
        options.speed = self.model.pace.speed.map_or(Speed::Max, Speed::PerSecond);
        self.start_again(options)
    }

    /// The run again with `options`, on new processes, the screen anew.
    fn start_again(&mut self, options: crate::engine::RunOptions) -> anyhow::Result<()> {
        self.stop();
        self.launch.options = options;
        let run = Run::start(self.launch.scenario.clone(), self.launch.options.clone())?;
        self.events = run.events().clone();
        self.run = Some(run);
        // The same process is selected again once it is spawned anew.
        self.reselect = self
            .view
            .selected
            .take()
            .and_then(|pid| self.model.proc(pid))
            .map(|p| p.name.to_string());
        self.model = Model::new();
        self.history = history::History::new();
        self.timeline = timeline::Timeline::new();
        self.cursor = None;
        self.alarms = 0;
        self.view.offset.set(0);
        self.view.log_top = None;
        self.started = Instant::now();
        Ok(())
    }
}
