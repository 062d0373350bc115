//! The command line: `mpviz SCENARIO [options]`, `mpviz list`.
//!
//! Every scenario takes the same run options ([`RunArgs`]); its own options
//! default to the values in `scenarios/NAME.toml`.

use clap::{Args, Parser, Subcommand};

use crate::engine::Speed;
use crate::lang::Lang;
use crate::scenario::texts::messages;

#[derive(Debug, Parser)]
#[command(
    name = "mpviz",
    version,
    about = "Watch real processes race for locks, files and queues: Python's multiprocessing, made visible",
    long_about = "Watch real processes race for locks, files and queues: Python's multiprocessing, made visible.\n\n\
Every process on the screen is a real OS process (see it in `ps`); locks, files and queues are real kernel objects. \
Space pauses, n steps one action, +/- change the speed, ? shows every key.",
    after_help = "Start with: mpviz ticket"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// The language mpviz speaks: zh (中文) or en; without it, LC_ALL, LC_MESSAGES or LANG (zh… means Chinese)
    #[arg(long, global = true, value_name = "LANG", value_parser = parse_lang)]
    pub lang: Option<Lang>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Workers add 1 to a shared counter by read-then-write: without a lock, updates are lost (tutorial 1)
    Race(RaceArgs),
    /// The life of a process: start, run, join, exit codes, terminate, kill, daemon, zombie, orphan, a lock held at death (tutorial 2.1-2.3)
    Lifecycle(LifecycleArgs),
    /// Buyers race for the last tickets in a file; a lock keeps the count right (tutorial 2.4)
    Ticket(TicketArgs),
    /// Writers append a line each to one file: the order is who got there first (tutorial 2.4)
    Append(AppendArgs),
    /// A pool of workers runs every task; callbacks run in the main process (tutorial 2.5)
    Pool(PoolArgs),
    /// Producers and consumers share a bounded queue: full blocks puts, empty blocks gets (tutorial 2.6.1)
    Queue(QueueArgs),
    /// A server process holds a dict and a list that workers change through it; a plain dict stays each process's own (tutorial 2.6.2)
    Manager(ManagerArgs),
    /// Run your own Python program (any multiprocessing program) with the real Python, live, paced and stepped
    Run(ProgramArgs),
    /// Challenges: you are the scheduler; make the race happen on real processes
    Challenge(ChallengeArgs),
    /// List the scenarios, one line each
    List,
    /// Write a recording as a trace that Perfetto (ui.perfetto.dev) and chrome://tracing open
    Export(ExportArgs),
    /// Show a recording made with --record: its events as recorded (--json) or its summary line (--headless)
    Replay(ReplayArgs),
    /// Run a recording again on new processes, granting their permits in the recorded order: the same race, new PIDs
    Rerun(RerunArgs),
}

/// `mpviz rerun FILE`: the recording's scenario, options and seed, its
/// pacer following the recorded permits; shown as any run.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The recording (a file written by --record)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Steps per second, from 0.25 to 5000, or `max`: each step as soon as the last is done [default: the recording's]
    #[arg(long, value_name = "N|max", allow_negative_numbers = true, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Start paused: press space to run, n to take the recording's next step
    #[arg(long)]
    pub paused: bool,
    /// No dashboard: run to the end and print a short summary
    #[arg(long)]
    pub headless: bool,
    /// No dashboard: print every event as a JSON line, then a summary line
    #[arg(long)]
    pub json: bool,
    /// Record the rerun to FILE, as --record does for any run
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
}

/// `mpviz run [options] PROG.py [ARGS...]`: mpviz's options come before
/// the program; everything after it is the program's.
#[derive(Debug, Args)]
pub struct ProgramArgs {
    /// The Python interpreter to run the program with [default: python3 on PATH]
    #[arg(long, value_name = "PATH")]
    pub python: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// The program (a Python file), then its own arguments (its
    /// sys.argv[1:]): everything after the program is the program's
    #[arg(
        value_name = "PROG.py [ARGS]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

impl ProgramArgs {
    /// The program's path and its own arguments.
    pub fn program(&self) -> (std::path::PathBuf, Vec<String>) {
        let mut words = self.command.iter();
        let program = words.next().map(Into::into).unwrap_or_default();
        (program, words.cloned().collect())
    }
}

/// The options of `mpviz run` that take a value (as the next word).
pub const RUN_VALUE_OPTIONS: &[&str] = &["--python", "--seed", "--speed", "--record", "--lang"];

/// A command line (without mpviz's own name) split where the program of
/// `mpviz run` begins: mpviz's words, then the program and its arguments,
/// which are the program's whatever they look like. Another command's
/// words are all mpviz's.
pub fn split_program(words: &[String]) -> (Vec<String>, Vec<String>) {
    if words.first().map(String::as_str) != Some("run") {
        return (words.to_vec(), Vec::new());
    }
    let mut at = 1;
    while let Some(word) = words.get(at) {
        if !word.starts_with('-') || word == "-" {
            break;
        }
        at += 1;
        if RUN_VALUE_OPTIONS.contains(&word.as_str()) {
            at += 1;
        }
    }
    let at = at.min(words.len());
    (words[..at].to_vec(), words[at..].to_vec())
}

/// `mpviz challenge [NAME --moves LIST]`.
#[derive(Debug, Args)]
pub struct ChallengeArgs {
    /// The challenge (without it, the list)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Play these moves headless: a process's slot (its next step), n (the pacer picks), or a slot and * (that process runs to its end), comma-separated: 0,1,0*,1*
    #[arg(long, value_name = "LIST")]
    pub moves: Option<String>,
}

/// `mpviz export FILE -o TRACE`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The recording (a file written by --record)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Where to write the trace (Chrome Trace Event Format, JSON)
    #[arg(short, long, value_name = "TRACE")]
    pub output: std::path::PathBuf,
}

/// `mpviz replay FILE`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording (a file written by --record)
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print the recorded events as they were recorded, then the summary line
    #[arg(long, conflicts_with = "headless")]
    pub json: bool,
    /// Print the run's summary line
    #[arg(long)]
    pub headless: bool,
}

/// Options every scenario has.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Seed for every random choice (delays, which waiting process goes next); the same seed repeats a run's choices
    #[arg(long, value_name = "S", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// Instrumented actions per second across all processes, from 0.25 (one every four seconds) to 5000, or `max` for no pacing
    #[arg(long, value_name = "N|max", allow_negative_numbers = true, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Start paused: press space to run, n to step
    #[arg(long)]
    pub paused: bool,
    /// No dashboard: run to the end and print a short summary
    #[arg(long)]
    pub headless: bool,
    /// No dashboard: print every event as a JSON line, then a summary line
    #[arg(long)]
    pub json: bool,
    /// Record the run to FILE as it goes (JSON Lines: a header, every event, the summary), for `mpviz replay`
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// Predict the scenario's answer (how many tickets will be sold? what will the counter read?): the dashboard asks before the run starts, or give ANSWER here; it is said beside what happened at the end
    #[arg(long, value_name = "ANSWER", num_args = 0..=1, default_missing_value = "")]
    pub predict: Option<String>,
}

#[derive(Debug, Args)]
pub struct TicketArgs {
    /// How many buyer processes to start [default: 100]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub buyers: Option<u32>,
    /// How many tickets the file holds at the start [default: 10]
    #[arg(long, value_name = "T", allow_negative_numbers = true, value_parser = parse_count)]
    pub tickets: Option<u32>,
    /// Buy without the lock: see lost updates, overselling and torn reads
    #[arg(long)]
    pub no_lock: bool,
    /// The longest random "network delay" a buyer waits before writing, in milliseconds [default: 1000]
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = parse_delay)]
    pub delay_ms: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct AppendArgs {
    /// How many writer processes to start [default: 10]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub writers: Option<u32>,
    /// Write each line in K separate writes, so that parts of different lines can mix [default: 1]
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = parse_count)]
    pub chunks: Option<u32>,
    /// Hold a lock while writing a whole line: every line stays whole
    #[arg(long)]
    pub lock: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// How many workers add to the counter [default: 4]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub workers: Option<u32>,
    /// How many times each worker adds 1 [default: 50]
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = parse_count)]
    pub increments: Option<u32>,
    /// Hold a lock around each read-and-write: no update is lost
    #[arg(long)]
    pub lock: bool,
    /// Workers are threads of one process instead of processes
    #[arg(long)]
    pub threads: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ManagerArgs {
    /// How many workers write through the manager [default: 10]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub workers: Option<u32>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// The lock a process is terminated holding: a semaphore (like Python's Lock) stays taken, an flock is let go by the kernel
    #[arg(long, value_name = "KIND", value_enum, default_value = "semaphore")]
    pub lock_kind: crate::scenario::lifecycle::LockKind,
    /// How many processes wait for that lock (at most 50) [default: 2]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_waiters)]
    pub waiters: Option<u32>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct PoolArgs {
    /// How many worker processes the pool starts [default: 3]
    #[arg(long, value_name = "W", allow_negative_numbers = true, value_parser = parse_count)]
    pub workers: Option<u32>,
    /// How many tasks the main process submits [default: 9]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub tasks: Option<u32>,
    /// Make K of the tasks raise an error: the error callback runs, the worker lives on
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = parse_count)]
    pub fail: Option<u32>,
    /// Submit with blocking apply instead of apply_async: one task after another
    #[arg(long)]
    pub sync: bool,
    /// The tutorial's crawler: tasks fetch pages from a web server the main process runs on 127.0.0.1, callbacks parse them
    #[arg(long)]
    pub crawl: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// How many producer processes to start [default: 2]
    #[arg(long, value_name = "P", allow_negative_numbers = true, value_parser = parse_count)]
    pub producers: Option<u32>,
    /// How many consumer processes to start [default: 2]
    #[arg(long, value_name = "C", allow_negative_numbers = true, value_parser = parse_count)]
    pub consumers: Option<u32>,
    /// The most items the queue holds at once [default: 3]
    #[arg(long, value_name = "M", allow_negative_numbers = true, value_parser = parse_count)]
    pub maxsize: Option<u32>,
    /// How many items the producers put in all [default: 20]
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub items: Option<u32>,
    /// A put or get gives up after this many milliseconds (Full, Empty) and tries again; without it they wait as long as it takes
    #[arg(long, value_name = "MS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub timeout_ms: Option<u64>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// The longest delay accepted: a minute.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The slowest and the fastest paced speeds accepted: the ends of the
/// ladder that `+` and `-` climb (beyond the top, `max`).
pub const MIN_SPEED: f64 = Speed::LADDER[0];
pub const MAX_SPEED: f64 = Speed::LADDER[Speed::LADDER.len() - 1];

fn parse_count(s: &str) -> Result<u32, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| messages().say("usage_count", &[]))?;
    if n < 1 {
        return Err(messages().say("usage_at_least_1", &[]));
    }
    u32::try_from(n).map_err(|_| messages().say("usage_at_most", &[("max", &u32::MAX)]))
}

/// The most lifecycle waiters: main joins each one with a 1 s timeout (and
/// then watches it), so every waiter adds a second or more to the run; 50
/// keep a run under a few minutes and fit the lock panel.
pub const MAX_WAITERS: u32 = 50;

fn parse_waiters(s: &str) -> Result<u32, String> {
    let n = parse_count(s)?;
    if n > MAX_WAITERS {
        return Err(format!(
            "must be at most {MAX_WAITERS} (main joins each waiter with a 1 s timeout)"
        ));
    }
    Ok(n)
}

fn parse_delay(s: &str) -> Result<u64, String> {
    let n: i64 = s
        .trim()
        .parse()
        .map_err(|_| messages().say("usage_delay", &[]))?;
    if n < 0 {
        return Err(messages().say("usage_negative", &[]));
    }
    let n = n as u64;
    if n > MAX_DELAY_MS {
        return Err(messages().say("usage_delay_too_long", &[("max", &MAX_DELAY_MS)]));
    }
    Ok(n)
}

fn parse_timeout(s: &str) -> Result<u64, String> {
    match parse_delay(s)? {
        0 => Err(messages().say("usage_at_least_1", &[])),
        n => Ok(n),
    }
}

fn parse_seed(s: &str) -> Result<u64, String> {
    s.trim()
        .parse()
        .map_err(|_| messages().say("usage_seed", &[("max", &u64::MAX)]))
}

pub fn parse_speed(s: &str) -> Result<Speed, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("max") {
        return Ok(Speed::Max);
    }
    let say = |key| messages().say(key, &[("min", &MIN_SPEED), ("max", &MAX_SPEED)]);
    let n: f64 = s.parse().map_err(|_| say("usage_speed"))?;
    // NaN fails both comparisons: it is refused too.
    if !(MIN_SPEED..=MAX_SPEED).contains(&n) {
        return Err(say("usage_speed_bounds"));
    }
    Ok(Speed::PerSecond(n))
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::named(s).ok_or_else(|| {
        let known: Vec<&str> = Lang::all().into_iter().map(Lang::code).collect();
        messages().say("usage_lang", &[("known", &known.join(", "))])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn counts_must_be_positive_whole_numbers() {
        assert_eq!(parse_count("5"), Ok(5));
        assert!(parse_count("0").unwrap_err().contains("at least 1"));
        assert!(parse_count("-3").unwrap_err().contains("at least 1"));
        assert!(parse_count("ten").unwrap_err().contains("whole number"));
        assert!(parse_count("99999999999").unwrap_err().contains("at most"));
    }

    #[test]
    fn speed_is_a_positive_number_or_max() {
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert_eq!(parse_speed("0.5"), Ok(Speed::PerSecond(0.5)));
        assert_eq!(parse_speed("0.25"), Ok(Speed::PerSecond(0.25)));
        assert_eq!(parse_speed("5000"), Ok(Speed::PerSecond(5000.0)));
        for bad in [
            "0", "-1", "nan", "inf", "1e-19", "1e-9", "0.2", "5001", "1e300",
        ] {
            let err = parse_speed(bad).unwrap_err();
            assert!(err.contains("from 0.25 to 5000"), "{bad}: {err}");
        }
        assert!(parse_speed("fast").is_err());
    }

    #[test]
    fn a_programs_words_are_its_own_whatever_they_look_like() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let (mine, theirs) = split_program(&words("run --speed 5 --json prog.py --json -x a"));
        assert_eq!(mine, words("run --speed 5 --json"));
        assert_eq!(theirs, words("prog.py --json -x a"));
        let (mine, theirs) = split_program(&words("ticket --buyers 3 --json"));
        assert_eq!((mine.len(), theirs.len()), (4, 0));
        let cli = Cli::try_parse_from(words("mpviz run --headless prog.py --json --help")).unwrap();
        match cli.command {
            Command::Run(args) => {
                assert!(args.run.headless && !args.run.json);
                assert_eq!(args.program(), ("prog.py".into(), words("--json --help")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn delays_are_bounded() {
        assert_eq!(parse_delay("0"), Ok(0));
        assert!(parse_delay("-1").is_err());
        assert!(parse_delay("60001").is_err());
    }
}
