//! `mpviz replay FILE`: a recording shown again, starting no process.
//! `--json` prints its events as they were recorded, then its summary line;
//! `--headless` folds them as the run did and prints the run's summary line.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::model::Model;
use crate::record::{Recording, Unreadable};
use crate::scenario::texts::messages;
use crate::scenario::Scenario;

/// How a recording is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Front {
    Json,
    Headless,
}

/// Why `path` cannot be replayed, in one line of the current language.
pub fn unreadable(path: &Path, why: &Unreadable) -> String {
    let texts = messages();
    let path = path.display();
    match why {
        Unreadable::Io(error) => texts.say("usage_replay_io", &[("path", &path), ("error", error)]),
        Unreadable::NoHeader => texts.say("usage_replay_no_header", &[("path", &path)]),
        Unreadable::Newer(format) => texts.say(
            "usage_replay_newer",
            &[
                ("path", &path),
                ("format", format),
                ("known", &crate::record::FORMAT),
            ],
        ),
        Unreadable::NotJson(line, error) => texts.say(
            "usage_replay_not_json",
            &[("path", &path), ("line", line), ("error", error)],
        ),
        Unreadable::BadEvent(line, error) => texts.say(
            "usage_replay_bad_event",
            &[("path", &path), ("line", line), ("error", error)],
        ),
    }
}

pub fn run(path: &Path, recording: &Recording, scenario: &dyn Scenario, front: Front) -> ExitCode {
    if recording.truncated {
        eprintln!(
            "{}",
            messages().say(
                "replay_truncated",
                &[
                    ("path", &path.display()),
                    ("events", &recording.events.len()),
                ],
            )
        );
    }
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match front {
        Front::Json => recording
            .events
            .iter()
            .map(|(_, line)| line)
            .chain(recording.summary.as_ref().map(|(_, line)| line))
            .try_for_each(|line| writeln!(out, "{line}")),
        Front::Headless => {
            let mut model = Model::new();
            for (event, _) in &recording.events {
                model.apply(event);
            }
            let wall_ms = recording
                .summary
                .as_ref()
                .and_then(|(summary, _)| summary.get("wall_ms")?.as_u64())
                .unwrap_or(model.now_ns / 1_000_000);
            let line = scenario.spec().texts.say(
                "headless_line",
                &[
                    ("report", &scenario.report(&model)),
                    ("wall_ms", &wall_ms),
                    ("seed", &model.seed),
                ],
            );
            writeln!(out, "{line}")
        }
    };
    match written.and_then(|()| out.flush()) {
        // A reader that left (`| head`) is no failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!(
                "{}",
                messages().say(
                    "usage_error",
                    &[("message", &format!("could not write the output: {e}"))]
                )
            );
            ExitCode::from(crate::launch::EXIT_FAILED)
        }
        _ => ExitCode::SUCCESS,
    }
}
