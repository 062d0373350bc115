//! From the command line to a run: resolve defaults, refuse bad input, pick
//! the front end (dashboard, `--headless`, `--json`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::cli::{
    AppendArgs, ChallengeArgs, Cli, Command, ExportArgs, LifecycleArgs, ManagerArgs, PoolArgs,
    ProgramArgs, QueueArgs, RaceArgs, ReplayArgs, RerunArgs, RunArgs, TicketArgs,
};
use crate::engine::{limits, RunOptions, Speed};
use crate::ipc::queue::MAX_SIZE as QUEUE_MAX_SIZE;
use crate::lang::{self, Lang};
use crate::launch::{Front, Launch, EXIT_FAILED, EXIT_USAGE};
use crate::scenario::texts::messages;
use crate::scenario::{self, append, lifecycle, manager, pool, queue, race, ticket, Scenario};
use crate::{cleanup, headless, record, replay, rerun, ui};

pub fn main() -> ExitCode {
    cleanup::install_panic_hook(ui::restore_terminal);
    // The language first: the command line's own errors are in it too.
    let args: Vec<String> = std::env::args().collect();
    lang::set_current(Lang::of_args(&args));
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e),
    };
    let cli = match cli.command {
        Command::List => {
            list();
            return ExitCode::SUCCESS;
        }
        Command::Replay(args) => return replay(&args),
        Command::Export(args) => return export(&args),
        Command::Rerun(args) => return rerun(&args),
        Command::Challenge(args) => return challenge(&args),
        _ => cli,
    };
    let _ = COMMAND_LINE.set(args.iter().skip(1).cloned().collect());
    let launch = match launch_of(cli.command, lang::current()) {
        Ok(launch) => launch,
        Err(message) => return usage_error(&message),
    };
    start(launch)
}

/// Runs `launch` in its front end.
fn start(launch: Launch) -> ExitCode {
    let result = match launch.front {
        Front::Dashboard => ui::run(launch),
        Front::Headless | Front::Json => headless::run(launch),
    };
    result.unwrap_or_else(run_failed)
}

/// The run a command asks for, its defaults resolved and its input checked.
fn launch_of(command: Command, lang: Lang) -> Result<Launch, String> {
    match command {
        Command::List
        | Command::Replay(_)
        | Command::Export(_)
        | Command::Rerun(_)
        | Command::Challenge(_) => {
            Err("`list`, `replay`, `export`, `rerun` and `challenge` are not scenarios".into())
        }
        Command::Race(args) => race_launch(args, lang),
        Command::Lifecycle(args) => lifecycle_launch(args, lang),
        Command::Ticket(args) => ticket_launch(args, lang),
        Command::Append(args) => append_launch(args, lang),
        Command::Queue(args) => queue_launch(args, lang),
        Command::Pool(args) => pool_launch(args, lang),
        Command::Manager(args) => manager_launch(args, lang),
        Command::Run(args) => program_launch(args, lang),
    }
}

/// The run the command line `args` (without the program's name) asks for,
/// as `main` resolves it: for a test that starts it through the engine in
/// its own process (e.g. paused, which `--headless` and `--json` refuse).
pub fn launch_from_args(args: &[&str]) -> Result<Launch, String> {
    let cli = Cli::try_parse_from(std::iter::once("mpviz").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    launch_of(cli.command, cli.lang.unwrap_or_else(Lang::from_env))
}

/// The command line, each scenario's line of `--help` in the language of
/// this process's messages (clap's own words stay English).
fn command() -> clap::Command {
    let mut command = Cli::command();
    for (name, _) in scenario::SPECS {
        if let Ok(spec) = scenario::spec_in(name, lang::current()) {
            let about = spec.texts.say("about", &[]);
            command = command.mut_subcommand(*name, |c| c.about(about));
        }
    }
    let (_, source) = scenario::PROGRAM_SPEC;
    if let Ok(spec) = scenario::Spec::parse(source, lang::current()) {
        let about = spec.texts.say("about", &[]);
        command = command.mut_subcommand("run", |c| c.about(about));
    }
    command
}

/// clap's errors are several lines (usage, tips); a user gets the first one.
fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        // `mpviz` alone: the help, on stdout, as asked for (cargo, docker
        // and kubectl do the same): it is how a new user starts.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = command().print_help();
            ExitCode::SUCCESS
        }
        _ => {
            let said = in_our_words(&e).unwrap_or_else(|| {
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or("invalid command line");
                first.strip_prefix("error: ").unwrap_or(first).to_string()
            });
            usage_error(&messages().say("usage_see_help", &[("message", &said)]))
        }
    }
}

/// A common mistake on the command line, said in mpviz's language (clap
/// says it in English): a bad or missing value, an unknown option or
/// command, an option given twice.
fn in_our_words(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let texts = messages();
    let context = |kind| match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg);
    let value = context(ContextKind::InvalidValue);
    Some(match e.kind() {
        ErrorKind::InvalidValue if value.as_deref() == Some("") => {
            texts.say("usage_arg_missing_value", &[("arg", &arg?)])
        }
        ErrorKind::InvalidValue => texts.say(
            "usage_arg_not_one_of",
            &[
                ("arg", &arg?),
                ("value", &value?),
                ("valid", &context(ContextKind::ValidValue)?),
            ],
        ),
        // Our own value parsers' reasons are already in our words.
        ErrorKind::ValueValidation => {
            let reason = std::error::Error::source(e)?.to_string();
            texts.say(
                "usage_arg_invalid",
                &[("arg", &arg?), ("value", &value?), ("reason", &reason)],
            )
        }
        ErrorKind::UnknownArgument => texts.say("usage_arg_unknown", &[("arg", &arg?)]),
        ErrorKind::MissingRequiredArgument => texts.say("usage_arg_required", &[("arg", &arg?)]),
        ErrorKind::InvalidSubcommand => texts.say(
            "usage_arg_unknown_command",
            &[("name", &context(ContextKind::InvalidSubcommand)?)],
        ),
        ErrorKind::ArgumentConflict if context(ContextKind::PriorArg) == arg => {
            texts.say("usage_arg_twice", &[("arg", &arg?)])
        }
        _ => return None,
    })
}

/// `mpviz replay FILE`: the recording read, its scenario rebuilt from the
/// header's command line (for its texts and its summary), then shown.
fn replay(args: &ReplayArgs) -> ExitCode {
    // The dashboard needs the events, not their lines.
    let dashboard = !args.json && !args.headless;
    let mut events = Vec::new();
    let read = if dashboard {
        record::read_with(&args.file, |event, _| events.push(event))
    } else {
        record::read(&args.file)
    };
    let recording = match read {
        Ok(recording) => recording,
        Err(unreadable) => return usage_error(&replay::unreadable(&args.file, &unreadable)),
    };
    // Only the scenario and its options matter here, not how it was paced;
    // and as a run without the dashboard, it needs no terminal.
    let (mut words, program) = recorded_run(&recording, &["--paused"]);
    words.push("--json".into());
    words.extend(program);
    let launch = if recording.scenario() == "program" {
        // Nothing is run: the program need not be here, nor a Python.
        program_replay_launch(&recording)
    } else {
        launch_of_words(&words)
    };
    let launch = match launch {
        Ok(launch) => launch,
        Err(e) => {
            return usage_error(&messages().say(
                "usage_replay_args",
                &[("path", &args.file.display()), ("error", &e)],
            ))
        }
    };
    let front = if args.json {
        replay::Front::Json
    } else if args.headless {
        replay::Front::Headless
    } else {
        // The dashboard, on the recording: it needs a terminal.
        if std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
            return usage_error(&messages().say("usage_dumb_terminal", &[]));
        }
        if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
            return usage_error(&messages().say("usage_no_terminal", &[]));
        }
        let mut launch = launch;
        // Events a second, to start (a recording's speed counted actions).
        launch.options.speed = Speed::PerSecond(10.0);
        // A last line cut short is said on screen, until the first key.
        let note = recording.truncated.then(|| {
            messages().say(
                "replay_truncated",
                &[("path", &args.file.display()), ("events", &events.len())],
            )
        });
        return ui::replay(launch, events, note).unwrap_or_else(run_failed);
    };
    replay::run(&args.file, &recording, &*launch.scenario, front)
}

/// `mpviz export FILE -o TRACE`: the recording as a Chrome trace.
fn export(args: &ExportArgs) -> ExitCode {
    // The events only (not their lines): a recording of millions of events
    // exports in little memory.
    let mut events = Vec::new();
    if let Err(unreadable) = record::read_with(&args.file, |event, _| events.push(event)) {
        return usage_error(&replay::unreadable(&args.file, &unreadable));
    }
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same(&args.file, &args.output) {
        return usage_error(&messages().say(
            "usage_export_over_recording",
            &[("path", &args.output.display())],
        ));
    }
    let file = match std::fs::File::create(&args.output) {
        Ok(file) => file,
        Err(e) => {
            return usage_error(&messages().say(
                "usage_export",
                &[("path", &args.output.display()), ("error", &e)],
            ))
        }
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    match crate::export::write_trace(events, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = messages().say(
                "usage_export",
                &[("path", &args.output.display()), ("error", &e)],
            );
            eprintln!(
                "{}",
                messages().say("usage_error", &[("message", &message)])
            );
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// A run (or a replay) that could not go on: the terminal given back, one
/// line, exit 1.
fn run_failed(e: anyhow::Error) -> ExitCode {
    ui::restore_terminal();
    let message = format!("{e:#}");
    eprintln!(
        "{}",
        messages().say("usage_error", &[("message", &message)])
    );
    ExitCode::from(EXIT_FAILED)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!(
        "{}",
        messages().say("usage_error", &[("message", &message)])
    );
    ExitCode::from(EXIT_USAGE)
}

fn list() {
    let width = scenario::SPECS
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0);
    for (name, _) in scenario::SPECS {
        let texts = messages();
        let line = match scenario::spec_in(name, lang::current()) {
            Ok(spec) => texts.say(
                "list_line",
                &[
                    ("about", &spec.texts.say("about", &[])),
                    ("tutorial", &spec.tutorial),
                ],
            ),
            Err(e) => texts.say("list_broken", &[("error", &e)]),
        };
        // A reader that left (`mpviz list | head -1`) ends the list.
        if writeln!(std::io::stdout(), "{name:width$}  {line}").is_err() {
            return;
        }
    }
}

fn run_options(args: &RunArgs, spec: &scenario::Spec) -> Result<(RunOptions, Front), String> {
    let front = if args.json {
        Front::Json
    } else if args.headless {
        Front::Headless
    } else {
        Front::Dashboard
    };
    if front == Front::Dashboard && std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return Err(messages().say("usage_dumb_terminal", &[]));
    }
    if front == Front::Dashboard
        && !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal())
    {
        return Err(messages().say("usage_no_terminal", &[]));
    }
    let speed = match (args.speed, front) {
        (Some(speed), _) => speed,
        (None, Front::Dashboard) => Speed::PerSecond(spec.default_speed()),
        (None, _) => Speed::Max,
    };
    if args.paused && front != Front::Dashboard {
        return Err(messages().say("usage_paused_headless", &[]));
    }
    Ok((
        RunOptions {
            seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
            speed,
            paused: args.paused,
            sample_every: Duration::from_millis(200),
            // The helper processes are this binary itself.
            helper: std::env::current_exe()
                .map_err(|e| format!("could not find the mpviz executable: {e}"))?,
            plan: None,
            pause_after_plan: false,
        },
        front,
    ))
}

/// Resolves the common options, checks that the machine can start
/// `processes` children (what `flag` `asked` for comes to), and builds the
/// scenario.
fn launch(
    lang: Lang,
    name: &str,
    run: &RunArgs,
    flag: &str,
    asked: u32,
    processes: u32,
    scenario: impl FnOnce() -> anyhow::Result<Box<dyn Scenario>>,
) -> Result<Launch, String> {
    let spec = scenario::spec(name).map_err(|e| e.to_string())?;
    let (options, front) = run_options(run, &spec)?;
    limits::check_processes(flag, u64::from(asked), u64::from(processes))?;
    let mut scenario = scenario().map_err(|e| e.to_string())?;
    scenario.spec_mut().speak(lang);
    let scenario: Arc<dyn Scenario> = Arc::from(scenario);
    if run.predict.is_some() && scenario.spec().predict.is_none() {
        return Err(messages().say("usage_no_question", &[]));
    }
    // Only the dashboard asks: with no screen, the answer comes with it.
    if run.predict.as_deref() == Some("") && (run.headless || run.json) {
        return Err(messages().say("usage_predict_answer", &[]));
    }
    if let (Some(predict), Some(answer)) = (
        &scenario.spec().predict,
        run.predict.as_deref().filter(|a| !a.is_empty()),
    ) {
        if !predict.takes(answer) {
            return Err(messages().say("usage_predict_number", &[("answer", &answer)]));
        }
    }
    // Last: a recording's file is made only for a run that will start.
    let record = match &run.record {
        Some(path) => Some(Arc::new(recorder(path, name, &*scenario, &options)?)),
        None => None,
    };
    Ok(Launch {
        scenario,
        options,
        front,
        record,
        predict: run.predict.clone(),
    })
}

/// The scenario's command line in a recording's header, without the
/// options named in `without` (each with its value, if it takes one) and
/// without `--record`: a header's command line makes no file. Returned in
/// two: mpviz's words, and a program's (`mpviz run`), which go last.
fn recorded_run(recording: &record::Recording, without: &[&str]) -> (Vec<String>, Vec<String>) {
    let takes_value = ["--record", "--speed"];
    let (mine, program) = crate::cli::split_program(&recording.args());
    let mut words = mine.into_iter();
    let mut kept = Vec::new();
    while let Some(word) = words.next() {
        let name = word.split('=').next().unwrap_or_default();
        if name == "--record" || without.contains(&name) {
            if takes_value.contains(&name) && !word.contains('=') {
                words.next();
            }
        } else {
            kept.push(word);
        }
    }
    (kept, program)
}

/// The run a command line (without the program's name) asks for, its
/// refusal in one line.
fn launch_of_words(words: &[String]) -> Result<Launch, String> {
    Cli::try_parse_from(std::iter::once("mpviz").chain(words.iter().map(String::as_str)))
        .map_err(|e| {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        })
        .and_then(|cli| launch_of(cli.command, lang::current()))
}

/// `mpviz rerun FILE`: the recording's command line (its scenario, options
/// and seed) with the rerun's own front end, speed and `--record`, its
/// pacer following the recording's permits.
fn rerun(args: &RerunArgs) -> ExitCode {
    let mut events = Vec::new();
    let recording = match record::read_with(&args.file, |event, _| events.push(event)) {
        Ok(recording) => recording,
        Err(unreadable) => return usage_error(&replay::unreadable(&args.file, &unreadable)),
    };
    // The recording's speed unless the rerun gives its own.
    let mut without = vec!["--paused", "--json", "--headless"];
    if args.speed.is_some() {
        without.push("--speed");
    }
    let (mut words, program) = recorded_run(&recording, &without);
    // The recording's speed, as it ran (its command line may not say it:
    // the dashboard's default), unless the rerun gives its own.
    let recorded_speed = recording
        .header
        .get("speed")
        .map(|s| s.as_f64().map_or(Speed::Max, Speed::PerSecond));
    let speed = args.speed.or(recorded_speed);
    if let Some(speed) = speed {
        words.retain(|w| !w.starts_with("--speed="));
        if let Some(at) = words.iter().position(|w| w == "--speed") {
            words.drain(at..(at + 2).min(words.len()));
        }
        words.extend(["--speed".into(), speed_word(speed)]);
    }
    for (given, flag) in [
        (args.paused, "--paused"),
        (args.headless, "--headless"),
        (args.json, "--json"),
    ] {
        if given {
            words.push(flag.into());
        }
    }
    if let Some(path) = &args.record {
        words.extend(["--record".into(), path.display().to_string()]);
    }
    words.extend(program);
    // The rerun's own recording says the scenario's command line.
    let _ = COMMAND_LINE.set(words.clone());
    let mut launch = match launch_of_words(&words) {
        Ok(launch) => launch,
        Err(e) => {
            return usage_error(&messages().say(
                "usage_replay_args",
                &[("path", &args.file.display()), ("error", &e)],
            ))
        }
    };
    let plan = rerun::plan_of(&events, launch.scenario.gate_slots());
    launch.options.plan = Some(Arc::new(plan));
    start(launch)
}

/// `mpviz challenge`: the list with this user's wins; `mpviz challenge
/// NAME --moves LIST`: the moves played headless, the verdict said, exit 0
/// on a win and 1 on a loss.
fn challenge(args: &ChallengeArgs) -> ExitCode {
    let texts = crate::challenge::texts(lang::current());
    let Some(name) = &args.name else {
        let won = crate::challenge::progress();
        let mut all = crate::challenge::all();
        // Grouped by the tutorial's section, in its order: 2.4 before 2.10.
        let numbers = |section: &str| -> Vec<u32> {
            section
                .split(['.', '-'])
                .map(|n| n.parse().unwrap_or(u32::MAX))
                .collect()
        };
        all.sort_by_key(|c| numbers(&c.section));
        let mut section = None;
        for c in all {
            if section.as_ref() != Some(&c.section) {
                let head = texts.say(
                    "challenge_section",
                    &[
                        ("section", &c.section),
                        ("title", &texts.say(&format!("section_{}", c.section), &[])),
                    ],
                );
                if writeln!(std::io::stdout(), "{head}").is_err() {
                    break;
                }
                section = Some(c.section.clone());
            }
            let mark = if won.contains_key(&c.name) {
                "challenge_won_mark"
            } else {
                "challenge_open_mark"
            };
            let line = texts.say(
                "challenge_line",
                &[
                    ("name", &format!("{:14}", c.name)),
                    ("won", &texts.say(mark, &[])),
                    ("goal", &texts.say(&format!("goal_{}", c.name), &[])),
                    ("budget", &c.budget),
                ],
            );
            if writeln!(std::io::stdout(), "{line}").is_err() {
                break;
            }
        }
        return ExitCode::SUCCESS;
    };
    let Some(c) = crate::challenge::named(name) else {
        return usage_error(&texts.say("challenge_unknown", &[("name", name)]));
    };
    let Some(moves) = &args.moves else {
        // The dashboard, paused on the challenge's run.
        let mut words = c.run.clone();
        words.extend(["--speed".into(), "max".into()]);
        let launch = match launch_of_words(&words) {
            Ok(launch) => launch,
            Err(e) => return usage_error(&e),
        };
        return ui::challenge(launch, c).unwrap_or_else(run_failed);
    };
    let moves = match crate::challenge::parse_moves(moves, &texts) {
        Ok(moves) => moves,
        Err(e) => return usage_error(&e),
    };
    let goal = match crate::challenge::Goal::parse(&c.goal) {
        Ok(goal) => goal,
        Err(e) => return usage_error(&e),
    };
    let mut words = c.run.clone();
    words.push("--json".into());
    let launch = match launch_of_words(&words) {
        Ok(launch) => launch,
        Err(e) => return usage_error(&e),
    };
    let verdict = match crate::challenge::play(launch, &goal, c.budget, &moves, &texts) {
        Ok(verdict) => verdict,
        Err(e) => return run_failed(e),
    };
    let mut out = std::io::stdout();
    for note in &verdict.notes {
        let _ = writeln!(out, "{note}");
    }
    if verdict.won {
        let (event, what) = verdict.at.clone().unwrap_or_default();
        let _ = writeln!(
            out,
            "{}",
            texts.say(
                "challenge_won",
                &[
                    ("moves", &verdict.moves),
                    ("event", &event),
                    ("what", &what)
                ],
            )
        );
        let _ = crate::challenge::record_win(&c.name, verdict.moves);
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(
            out,
            "{}",
            texts.say("challenge_lost", &[("moves", &verdict.moves)])
        );
        if !c.winnable {
            let _ = writeln!(out, "{}", texts.say(&format!("why_{}", c.name), &[]));
        }
        ExitCode::from(1)
    }
}

/// A speed as `--speed` takes it.
fn speed_word(speed: Speed) -> String {
    match speed {
        Speed::Max => "max".into(),
        Speed::PerSecond(n) => n.to_string(),
    }
}

/// The command line of the scenario this process runs (without the
/// program's name), for a recording's header.
static COMMAND_LINE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Opens `--record`'s file and writes its header. The header's command line
/// repeats the run: this one's, without what only shows it (the front end,
/// the language, the recording itself), with the seed.
fn recorder(
    path: &std::path::Path,
    name: &str,
    scenario: &dyn Scenario,
    options: &RunOptions,
) -> Result<record::Recorder, String> {
    let given = COMMAND_LINE
        .get()
        .cloned()
        .unwrap_or_else(|| vec![name.to_string()]);
    // A program's own words stay as they are, after mpviz's.
    let (given, program) = crate::cli::split_program(&given);
    let mut args = Vec::new();
    let mut given = given.into_iter();
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--json" | "--headless" => {}
            "--record" | "--lang" | "--seed" => {
                given.next();
            }
            _ if ["--record=", "--lang=", "--seed="]
                .iter()
                .any(|p| arg.starts_with(p)) => {}
            _ => args.push(arg),
        }
    }
    args.extend(["--seed".to_string(), options.seed.to_string()]);
    args.extend(program);
    let header = record::header(
        name,
        scenario.params(),
        options.seed,
        options.speed.per_second(),
        options.paused,
        &args,
    );
    record::Recorder::create(path, &header)
        .map_err(|e| messages().say("usage_record", &[("path", &path.display()), ("error", &e)]))
}

/// A count option's value, or the scenario file's default.
/// The scenario of a recording of `mpviz run`, for a replay: rebuilt from
/// the recorded parameters (the program's source among them), checking
/// neither the program nor the Python, which a replay does not run.
fn program_replay_launch(recording: &record::Recording) -> Result<Launch, String> {
    let params = recording
        .header
        .get("params")
        .cloned()
        .ok_or_else(|| "no params".to_string())?;
    let params: crate::program::ProgramParams =
        serde_json::from_value(params).map_err(|e| e.to_string())?;
    let mut program = crate::program::Program::new(params).map_err(|e| e.to_string())?;
    program.spec_mut().speak(lang::current());
    let spec = scenario::spec("program").map_err(|e| e.to_string())?;
    let run = RunArgs {
        seed: recording.header.get("seed").and_then(|s| s.as_u64()),
        speed: Some(Speed::Max),
        paused: false,
        headless: false,
        json: true,
        record: None,
        predict: None,
    };
    let (options, front) = run_options(&run, &spec)?;
    Ok(Launch {
        scenario: Arc::new(program),
        options,
        front,
        record: None,
        predict: None,
    })
}

/// `mpviz run PROG.py`: the program must be a readable file and the
/// Python a Python 3.8 or newer.
fn program_launch(args: ProgramArgs, lang: Lang) -> Result<Launch, String> {
    let (program, program_args) = args.program();
    let program = &program;
    let path = program.display();
    let cannot_read =
        |e: std::io::Error| messages().say("usage_cannot_read", &[("path", &path), ("error", &e)]);
    match std::fs::metadata(program) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(messages().say("usage_not_a_file", &[("path", &path)])),
        Err(e) => return Err(cannot_read(e)),
    }
    std::fs::File::open(program).map_err(cannot_read)?;
    let (python, _version) = crate::program::find_python(args.python.as_deref())?;
    let params = crate::program::ProgramParams {
        python,
        program: program.clone(),
        args: program_args,
        slots: crate::program::pid_slots(),
        source: crate::program::source_of(program),
    };
    launch(lang, "program", &args.run, "", 1, 1, || {
        Ok(Box::new(crate::program::Program::new(params)?))
    })
}

fn or_default(value: Option<u32>, spec: &scenario::Spec, key: &str) -> u32 {
    value.unwrap_or_else(|| spec.default_u64(key).clamp(1, u64::from(u32::MAX)) as u32)
}

fn ticket_launch(args: TicketArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("ticket").map_err(|e| e.to_string())?;
    let params = ticket::TicketParams {
        buyers: or_default(args.buyers, &spec, "buyers"),
        tickets: or_default(args.tickets, &spec, "tickets"),
        lock: !args.no_lock,
        delay_ms: args.delay_ms.unwrap_or(spec.default_u64("delay_ms")),
    };
    launch(
        lang,
        "ticket",
        &args.run,
        "--buyers",
        params.buyers,
        params.buyers,
        || Ok(Box::new(ticket::Ticket::new(params)?)),
    )
}

fn race_launch(args: RaceArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("race").map_err(|e| e.to_string())?;
    let params = race::RaceParams {
        workers: or_default(args.workers, &spec, "workers"),
        increments: or_default(args.increments, &spec, "increments"),
        lock: args.lock,
        threads: args.threads,
    };
    // Threads count against the same limit as processes (RLIMIT_NPROC).
    launch(
        lang,
        "race",
        &args.run,
        "--workers",
        params.workers,
        params.workers,
        || Ok(Box::new(race::Race::new(params)?)),
    )
}

fn manager_launch(args: ManagerArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("manager").map_err(|e| e.to_string())?;
    let params = manager::ManagerParams {
        workers: or_default(args.workers, &spec, "workers"),
    };
    // Main, the server and the workers.
    let processes = params.workers.saturating_add(2);
    launch(
        lang,
        "manager",
        &args.run,
        "--workers",
        params.workers,
        processes,
        || Ok(Box::new(manager::Manager::new(params)?)),
    )
}

fn lifecycle_launch(args: LifecycleArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("lifecycle").map_err(|e| e.to_string())?;
    let params = lifecycle::LifecycleParams {
        lock_kind: args.lock_kind,
        waiters: or_default(args.waiters, &spec, "waiters"),
    };
    // Main and the ten processes it starts, and the waiters.
    let processes = params.waiters.saturating_add(11);
    launch(
        lang,
        "lifecycle",
        &args.run,
        "--waiters",
        params.waiters,
        processes,
        || Ok(Box::new(lifecycle::Lifecycle::new(params)?)),
    )
}

fn append_launch(args: AppendArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("append").map_err(|e| e.to_string())?;
    let params = append::AppendParams {
        writers: or_default(args.writers, &spec, "writers"),
        chunks: or_default(args.chunks, &spec, "chunks"),
        lock: args.lock,
    };
    launch(
        lang,
        "append",
        &args.run,
        "--writers",
        params.writers,
        params.writers,
        || Ok(Box::new(append::Append::new(params)?)),
    )
}

fn queue_launch(args: QueueArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("queue").map_err(|e| e.to_string())?;
    let params = queue::QueueParams {
        producers: or_default(args.producers, &spec, "producers"),
        consumers: or_default(args.consumers, &spec, "consumers"),
        maxsize: or_default(args.maxsize, &spec, "maxsize"),
        items: or_default(args.items, &spec, "items"),
        timeout_ms: args.timeout_ms,
    };
    if params.maxsize > QUEUE_MAX_SIZE {
        return Err(messages().say(
            "usage_maxsize",
            &[("maxsize", &params.maxsize), ("max", &QUEUE_MAX_SIZE)],
        ));
    }
    let processes = params.producers.saturating_add(params.consumers);
    launch(
        lang,
        "queue",
        &args.run,
        "--producers and --consumers",
        processes,
        processes,
        || Ok(Box::new(queue::QueueScenario::new(params)?)),
    )
}

fn pool_launch(args: PoolArgs, lang: Lang) -> Result<Launch, String> {
    let spec = scenario::spec("pool").map_err(|e| e.to_string())?;
    let tasks = or_default(args.tasks, &spec, "tasks");
    let fail = args.fail.unwrap_or(0);
    if fail > tasks {
        return Err(messages().say("usage_fail", &[("fail", &fail), ("tasks", &tasks)]));
    }
    // The task queue holds up to ten tasks: the feeder runs a little ahead.
    let queue_size = 10u32.min(tasks);
    let params = pool::PoolParams {
        workers: or_default(args.workers, &spec, "workers"),
        tasks,
        fail,
        sync: args.sync,
        queue_size,
        crawl: args.crawl,
    };
    launch(
        lang,
        "pool",
        &args.run,
        "--workers",
        params.workers,
        params.workers,
        || Ok(Box::new(pool::Pool::new(params)?)),
    )
}
