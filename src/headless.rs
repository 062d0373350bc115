//! `--headless` and `--json`: the same run and the same fold as the dashboard,
//! printed instead of drawn.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use crossbeam_channel::select;
use serde_json::{json, Map, Value};

use crate::app::{Front, Launch, EXIT_FAILED};
use crate::engine::Run;
use crate::model::Model;
use crate::signals;

pub fn run(launch: Launch) -> anyhow::Result<ExitCode> {
    let signals = signals::watch()?;
    let started = Instant::now();
    let mut run = Run::start(launch.scenario.clone(), launch.options.clone())?;
    let mut model = Model::new();
    let json = launch.front == Front::Json;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    loop {
        select! {
            recv(run.events()) -> batch => {
                let Ok(batch) = batch else { break };
                for event in &batch {
                    model.apply(event);
                    if json && writeln!(out, "{}", event.to_json()).is_err() {
                        // Whoever read our output has gone (a closed pipe): stop quietly.
                        run.stop();
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                // Flush whenever the stream is drained: a reader sees each
                // event promptly, and a fast run still writes in large blocks.
                if json && run.events().is_empty() && out.flush().is_err() {
                    run.stop();
                    return Ok(ExitCode::SUCCESS);
                }
                if model.ended {
                    break;
                }
            }
            recv(signals) -> signal => {
                run.stop();
                let _ = out.flush();
                let signal = signal.unwrap_or(nix::libc::SIGTERM);
                eprintln!("mpviz: stopped by {}; every process of the run was ended", crate::scenario::texts::signal_name(signal));
                return Ok(ExitCode::from(128 + signal as u8));
            }
        }
    }
    let wall_ms = started.elapsed().as_millis() as u64;
    run.stop();
    let summary = summary_line(&launch, &model, wall_ms);
    if json {
        writeln!(out, "{}", Value::Object(summary))?;
    } else {
        let line = launch.scenario.spec().texts.say(
            "headless_line",
            &[
                ("report", &launch.scenario.report(&model)),
                ("wall_ms", &wall_ms),
                ("seed", &model.seed),
            ],
        );
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if let Some(error) = model.errors.first() {
        eprintln!("mpviz: error: {error}");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

/// The last line of `--json`: `kind` first, then the scenario's fields.
pub fn summary_line(launch: &Launch, model: &Model, wall_ms: u64) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("t_ns".into(), json!(model.now_ns));
    line.insert("kind".into(), json!("summary"));
    line.extend(launch.scenario.summary(model));
    line.insert("wall_ms".into(), json!(wall_ms));
    line
}
