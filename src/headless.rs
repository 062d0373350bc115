//! `--headless` and `--json`: the same run and the same fold as the dashboard,
//! printed instead of drawn.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{select, Receiver, Sender};
use serde_json::{json, Map, Value};

use crate::engine::Run;
use crate::launch::{Front, Launch, EXIT_FAILED};
use crate::model::Model;
use crate::protocol::Body;
use crate::signals;

pub fn run(launch: Launch) -> anyhow::Result<ExitCode> {
    let signals = signals::watch(&[])?;
    let started = Instant::now();
    let mut run = Run::start(launch.scenario.clone(), launch.options.clone())?;
    let mut model = Model::new();
    let json = launch.front == Front::Json;
    // Standard output is written by a thread of its own: a reader that does
    // not read blocks that thread only, never the signals or the run.
    let (output, written) = spawn_writer()?;
    if !json {
        // `--json` starts with its `start` event; `--headless` with a line
        // of its own. Written at once, so that an output that cannot be
        // written (a full disk, a closed pipe) ends the run now, not after
        // it; and a long run says what runs and how to repeat it.
        let _ = output.send(format!("{}\n", start_line(&launch)).into_bytes());
        // `--predict`: the question, and the answer given before the run.
        if let Some(answer) = &launch.predict {
            let texts = &launch.scenario.spec().texts;
            let asked = format!(
                "{} {}\n",
                texts.say("predict_question", &[]),
                texts.say("predict_asked", &[("answer", answer)])
            );
            let _ = output.send(asked.into_bytes());
        }
    }
    let texts = &launch.scenario.spec().texts;
    let stopped = |run: &mut Run, signal: Result<i32, _>| {
        run.stop();
        let signal = signal.unwrap_or(nix::libc::SIGTERM);
        let name = crate::scenario::texts::signal_name(signal);
        eprintln!("{}", texts.say("stopped_by_signal", &[("signal", &name)]));
        Ok(ExitCode::from(128 + signal as u8))
    };
    let record = launch.record.as_deref();
    let never = crossbeam_channel::never();
    let record_failed = record.map_or(&never, |r| r.failed());
    loop {
        select! {
            recv(run.events()) -> batch => {
                let Ok(batch) = batch else { break };
                let mut lines = Vec::new();
                if let (Some(record), false) = (record, json) {
                    record.events(&batch);
                }
                for event in batch {
                    if json {
                        let _ = writeln!(lines, "{}", event.to_json());
                    } else if let Body::Output { text, .. } = &event.body {
                        // A program's own output, by the process that printed it.
                        let who = event.pid.and_then(|pid| model.proc(pid));
                        let who = who.map_or_else(String::new, |p| format!("{} {}", p.name, p.pid));
                        let _ = writeln!(lines, "[{who}] {text}");
                    }
                    model.fold(event);
                }
                if let (Some(record), true) = (record, json) {
                    record.lines_as_written(lines.clone());
                }
                if !lines.is_empty() {
                    let _ = output.send(lines);
                }
                if model.ended {
                    break;
                }
            }
            recv(written) -> result => {
                // The writer stops only when a write failed. The recording
                // keeps the run as far as it went.
                run.stop();
                if let Some(record) = record {
                    let wall_ms = started.elapsed().as_millis() as u64;
                    record.summary(&summary_line(&launch, &model, wall_ms));
                    let _ = record.close();
                }
                return write_failed(result);
            }
            recv(record_failed) -> error => {
                run.stop();
                return Err(recording_failed(&launch, error.ok()));
            }
            recv(signals) -> signal => {
                // What was recorded so far is kept, whole lines only.
                if let Some(record) = record {
                    let _ = record.close();
                }
                return stopped(&mut run, signal);
            }
        }
    }
    let wall_ms = started.elapsed().as_millis() as u64;
    run.stop();
    let summary = summary_line(&launch, &model, wall_ms);
    if let Some(record) = record {
        record.summary(&summary);
        if let Err(e) = record.close() {
            return Err(recording_failed(&launch, Some(e)));
        }
    }
    if !json {
        if let Some(said) = launch.prediction(&model) {
            let _ = output.send(format!("{said}\n").into_bytes());
        }
        for line in rerun_lines(&launch, &model) {
            let _ = output.send(format!("{line}\n").into_bytes());
        }
    }
    let last = if json {
        Value::Object(summary).to_string()
    } else {
        launch.scenario.spec().texts.say(
            "headless_line",
            &[
                ("report", &launch.scenario.report(&model)),
                ("wall_ms", &wall_ms),
                ("seed", &model.seed),
            ],
        )
    };
    let _ = output.send(format!("{last}\n").into_bytes());
    drop(output);
    select! {
        recv(written) -> result => {
            if let Ok(Err(e)) = result {
                return write_failed(Ok(Err(e)));
            }
        }
        recv(signals) -> signal => return stopped(&mut run, signal),
    }
    // One line: the first error, which the others followed from.
    if let Some(error) = model.errors.first() {
        eprintln!("mpviz: error: {error}");
    }
    if let Some(code) = launch.scenario.exit_code(&model) {
        return Ok(ExitCode::from(code));
    }
    if !model.errors.is_empty() {
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The recording could not be written (a full disk): the run fails, in
/// one line.
pub fn recording_failed(launch: &Launch, error: Option<std::io::Error>) -> anyhow::Error {
    let path = launch
        .record
        .as_ref()
        .map(|r| r.path().to_path_buf())
        .unwrap_or_default();
    let error = error.unwrap_or_else(|| std::io::Error::other("?"));
    recording_failed_at(&path, error)
}

/// The recording at `path` could not be written.
pub fn recording_failed_at(path: &std::path::Path, error: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(crate::scenario::texts::messages().say(
        "recording_failed",
        &[("path", &path.display()), ("error", &error)]
    ))
}

/// The writer's one report.
type Written = Receiver<std::io::Result<()>>;

/// The writer's thread: writes what it is sent to standard output, flushing
/// whenever nothing more is waiting (a reader sees each event promptly, and
/// a fast run still writes in large blocks). Reports once: the first error,
/// or `Ok` when every chunk is written and its channel has closed.
fn spawn_writer() -> anyhow::Result<(Sender<Vec<u8>>, Written)> {
    let (tx, chunks) = crossbeam_channel::unbounded::<Vec<u8>>();
    let (done, written) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("mpviz-output".into())
        .spawn(move || {
            let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            let mut write = || -> std::io::Result<()> {
                for chunk in chunks.iter() {
                    out.write_all(&chunk)?;
                    if chunks.is_empty() {
                        out.flush()?;
                    }
                }
                out.flush()
            };
            let _ = done.send(write());
        })
        .context("could not start the mpviz-output thread")?;
    Ok((tx, written))
}

/// The output could not be written. A closed pipe means that whoever read
/// it has gone (`| head`): stop quietly. Any other error (a full disk) is a
/// failure: one line, exit 1.
fn write_failed(
    result: Result<std::io::Result<()>, crossbeam_channel::RecvError>,
) -> anyhow::Result<ExitCode> {
    match result {
        Ok(Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("could not write the output"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// `--headless`'s first line: the scenario, how it is set up (the words of
/// the dashboard's title), the speed and the seed.
fn start_line(launch: &Launch) -> String {
    let texts = &launch.scenario.spec().texts;
    let speed = crate::scenario::texts::speed_words(texts, launch.options.speed.per_second());
    texts.say(
        "headless_start",
        &[
            ("scenario", &launch.scenario.name()),
            ("variant", &launch.scenario.variant()),
            ("speed", &speed),
            ("seed", &launch.options.seed),
        ],
    )
}

/// The last line of `--json`: `kind` first, then the scenario's fields.
pub fn summary_line(launch: &Launch, model: &Model, wall_ms: u64) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("t_ns".into(), json!(model.now_ns));
    line.insert("kind".into(), json!("summary"));
    line.extend(launch.scenario.summary(model));
    line.insert("wall_ms".into(), json!(wall_ms));
    // `--predict`: the answer given, beside what happened.
    if let (Some(answer), Some(actual)) = (&launch.predict, launch.actual(model)) {
        line.insert("predicted".into(), json!(answer));
        line.insert("actual".into(), json!(actual));
        line.insert(
            "predicted_right".into(),
            json!(launch.predicted_right(&actual)),
        );
    }
    line
}

/// What a rerun did with its recording's plan: how much of it it followed,
/// which steps were not exact, where it left it.
fn rerun_lines(launch: &Launch, model: &Model) -> Vec<String> {
    let Some(rerun) = &model.rerun else {
        return Vec::new();
    };
    let texts = &launch.scenario.spec().texts;
    let mut lines = Vec::new();
    if !rerun.inexact.is_empty() {
        let inexact = crate::scenario::texts::ranges(&rerun.inexact);
        lines.push(texts.say("headless_rerun_inexact", &[("inexact", &inexact)]));
    }
    lines.push(match &rerun.diverged {
        Some((_, why)) if why == "ended" => {
            texts.say("headless_rerun_ended", &[("steps", &rerun.steps)])
        }
        Some((step, why)) => texts.say(
            "headless_rerun_diverged",
            &[
                ("step", step),
                ("steps", &rerun.steps),
                ("why", &texts.say(&format!("why_left_{why}"), &[])),
            ],
        ),
        None => texts.say(
            "headless_rerun",
            &[("granted", &rerun.granted), ("steps", &rerun.steps)],
        ),
    });
    lines
}
