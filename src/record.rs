//! Recordings: a run as a file, and the file read back.
//!
//! A recording is JSON Lines: a `header` line (the format's version, mpviz's,
//! the scenario, every resolved option with the seed, the command line that
//! repeats it, the start time), then every event exactly as `--json` prints
//! it, then the `summary` line. [`Recorder`] writes it as the run goes, on a
//! thread of its own, flushing whenever it has nothing more to write: a run
//! killed at any moment leaves every complete line readable. [`read`] reads
//! one back, refusing what it cannot trust (a newer format, a line that is
//! not JSON, an unknown kind) with the line's number, and keeping what is
//! whole of a file whose last line was cut short.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};
use serde_json::{json, Map, Value};

use crate::protocol::Event;

/// The version of the recording format this mpviz writes, and the newest it
/// reads.
pub const FORMAT: u64 = 1;

/// A recording's first line.
pub fn header(
    scenario: &str,
    params: Value,
    seed: u64,
    speed: Option<f64>,
    paused: bool,
    args: &[String],
) -> Map<String, Value> {
    let mut line = Map::new();
    line.insert("kind".into(), json!("header"));
    line.insert("format".into(), json!(FORMAT));
    line.insert("mpviz".into(), json!(env!("CARGO_PKG_VERSION")));
    line.insert("scenario".into(), json!(scenario));
    line.insert("params".into(), params);
    line.insert("seed".into(), json!(seed));
    line.insert("speed".into(), json!(speed));
    line.insert("paused".into(), json!(paused));
    line.insert("args".into(), json!(args));
    line.insert("started".into(), json!(utc_now()));
    line
}

/// Writes a recording as the run goes (see the module's text).
pub struct Recorder {
    path: PathBuf,
    /// To the writing thread; taken when the recording is closed.
    lines: Mutex<Option<Sender<Vec<u8>>>>,
    failed: Receiver<std::io::Error>,
}

impl Recorder {
    /// Creates (or empties) `path` and writes the header: an error here is
    /// the user's (a path that cannot be written), before anything starts.
    pub fn create(path: &Path, header: &Map<String, Value>) -> std::io::Result<Recorder> {
        let file = std::fs::File::create(path)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        writeln!(out, "{}", Value::Object(header.clone()))?;
        out.flush()?;
        let (lines, to_write) = crossbeam_channel::unbounded::<Vec<u8>>();
        let (fail, failed) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("mpviz-record".into())
            .spawn(move || {
                let mut write = || -> std::io::Result<()> {
                    for chunk in to_write.iter() {
                        out.write_all(&chunk)?;
                        if to_write.is_empty() {
                            out.flush()?;
                        }
                    }
                    out.flush()
                };
                if let Err(e) = write() {
                    let _ = fail.send(e);
                }
            })?;
        Ok(Recorder {
            path: path.to_path_buf(),
            lines: Mutex::new(Some(lines)),
            failed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `events`, each as `--json` prints it.
    pub fn events<'a>(&self, events: impl IntoIterator<Item = &'a Event>) {
        let mut chunk = Vec::new();
        for event in events {
            let _ = writeln!(chunk, "{}", event.to_json());
        }
        self.lines_as_written(chunk);
    }

    /// Records lines already made (`--json`'s own).
    pub fn lines_as_written(&self, chunk: Vec<u8>) {
        if chunk.is_empty() {
            return;
        }
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lines) = lines.as_ref() {
            let _ = lines.send(chunk);
        }
    }

    /// Ends the recording with the run's summary line.
    pub fn summary(&self, summary: &Map<String, Value>) {
        self.lines_as_written(format!("{}\n", Value::Object(summary.clone())).into_bytes());
    }

    /// Reports a write that failed (a full disk): the run cannot be recorded.
    pub fn failed(&self) -> &Receiver<std::io::Error> {
        &self.failed
    }

    /// Waits until every line sent is written; the first error, if any.
    /// Nothing is recorded after.
    pub fn close(&self) -> std::io::Result<()> {
        drop(self.lines.lock().unwrap_or_else(|e| e.into_inner()).take());
        // The thread ends once its channel is empty and closed; it reports
        // an error, or nothing.
        match self.failed.recv() {
            Ok(e) => Err(e),
            Err(_) => Ok(()),
        }
    }
}

/// A recording read back.
#[derive(Debug)]
pub struct Recording {
    pub header: Map<String, Value>,
    /// Every event, with its line as it was written.
    pub events: Vec<(Event, String)>,
    /// The summary line, if the run got to write it.
    pub summary: Option<(Map<String, Value>, String)>,
    /// The last line was cut short (a run killed as it wrote): left out.
    pub truncated: bool,
}

impl Recording {
    pub fn scenario(&self) -> &str {
        self.header
            .get("scenario")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The command line that repeats the recorded run (its seed included).
    pub fn args(&self) -> Vec<String> {
        self.header
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Why a recording cannot be read, in data: the texts say it.
#[derive(Debug, PartialEq)]
pub enum Unreadable {
    /// The file cannot be opened or read.
    Io(String),
    /// Line 1 is not a recording's header.
    NoHeader,
    /// Written by a newer mpviz, in a format this one does not know.
    Newer(u64),
    /// Line `n` is not JSON.
    NotJson(usize, String),
    /// Line `n` is an event of a kind this mpviz does not know, or malformed.
    BadEvent(usize, String),
}

/// Reads the recording at `path`.
pub fn read(path: &Path) -> Result<Recording, Unreadable> {
    let mut events = Vec::new();
    let mut recording = read_with(path, |event, line| events.push((event, line.to_string())))?;
    recording.events = events;
    Ok(recording)
}

/// Reads the recording at `path`, handing each event to `on_event` with its
/// line as it goes (none are kept: a recording of millions of events reads
/// in little memory).
pub fn read_with(
    path: &Path,
    mut on_event: impl FnMut(Event, &str),
) -> Result<Recording, Unreadable> {
    let file = std::fs::File::open(path).map_err(|e| Unreadable::Io(e.to_string()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut header = None;
    let mut summary = None;
    let mut truncated = false;
    let mut line = String::new();
    for number in 1.. {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| Unreadable::Io(e.to_string()))?;
        if read == 0 {
            break;
        }
        let whole = line.ends_with('\n');
        let text = line.trim_end_matches(['\n', '\r']);
        if text.is_empty() && whole {
            continue;
        }
        // Most lines are events: read as one at once.
        if header.is_some() {
            if let Ok(event) = serde_json::from_str::<Event>(text) {
                on_event(event, text);
                continue;
            }
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            // A last line without its newline was being written when the
            // run was killed.
            Err(_) if !whole => {
                truncated = true;
                break;
            }
            Err(e) => return Err(Unreadable::NotJson(number, e.to_string())),
        };
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if header.is_none() {
            let Value::Object(map) = value else {
                return Err(Unreadable::NoHeader);
            };
            if kind != "header" {
                return Err(Unreadable::NoHeader);
            }
            let format = map.get("format").and_then(Value::as_u64).unwrap_or(0);
            if format > FORMAT {
                return Err(Unreadable::Newer(format));
            }
            header = Some(map);
            continue;
        }
        if kind == "summary" {
            if let Value::Object(map) = value {
                summary = Some((map, text.to_string()));
            }
            continue;
        }
        // JSON, but no event this mpviz knows: say why.
        match serde_json::from_value::<Event>(value) {
            Ok(event) => on_event(event, text),
            Err(e) => return Err(Unreadable::BadEvent(number, e.to_string())),
        }
    }
    Ok(Recording {
        header: header.ok_or(Unreadable::NoHeader)?,
        events: Vec::new(),
        summary,
        truncated,
    })
}

/// Now, as `2026-11-27T16:55:00Z` (UTC, to the second).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since 1970 as an RFC 3339 UTC time (the civil calendar from a
/// day count, as in Howard Hinnant's `civil_from_days`).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_798_500), "2026-11-27T16:55:00Z");
    }

    fn file_with(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    const HEADER: &str = r#"{"kind":"header","format":1,"scenario":"ticket"}"#;
    const SPAWN: &str =
        r#"{"t_ns":5,"pid":11,"kind":"spawn","name":"buyer-0","role":"buyer","slot":0,"ppid":10}"#;

    #[test]
    fn a_recording_reads_back_with_its_lines_as_written() {
        let f = file_with(&format!(
            "{HEADER}\n{SPAWN}\n{{\"t_ns\":9,\"kind\":\"summary\",\"sold\":1}}\n"
        ));
        let r = read(f.path()).unwrap();
        assert_eq!(r.scenario(), "ticket");
        assert_eq!(r.events.len(), 1);
        assert_eq!(r.events[0].1, SPAWN);
        assert_eq!(r.events[0].0.kind(), "spawn");
        assert_eq!(r.summary.unwrap().0["sold"], 1);
        assert!(!r.truncated);
    }

    #[test]
    fn what_cannot_be_trusted_is_refused_with_its_line() {
        let newer = file_with(r#"{"kind":"header","format":2}"#);
        assert_eq!(read(newer.path()).unwrap_err(), Unreadable::Newer(2));
        let no_header = file_with(&format!("{SPAWN}\n"));
        assert_eq!(read(no_header.path()).unwrap_err(), Unreadable::NoHeader);
        let not_json = file_with(&format!("{HEADER}\n{SPAWN}\nnot json\n{SPAWN}\n"));
        assert!(matches!(
            read(not_json.path()).unwrap_err(),
            Unreadable::NotJson(3, _)
        ));
        let unknown = file_with(&format!("{HEADER}\n{{\"t_ns\":1,\"kind\":\"teleport\"}}\n"));
        assert!(matches!(
            read(unknown.path()).unwrap_err(),
            Unreadable::BadEvent(2, _)
        ));
    }

    #[test]
    fn a_last_line_cut_short_is_left_out_and_said() {
        let f = file_with(&format!("{HEADER}\n{SPAWN}\n{{\"t_ns\":7,\"pid\":1"));
        let r = read(f.path()).unwrap();
        assert_eq!(r.events.len(), 1);
        assert!(r.truncated);
        assert!(r.summary.is_none());
    }

    #[test]
    fn the_recorder_writes_header_events_and_summary_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let h = header("ticket", json!({"buyers": 2}), 7, Some(10.0), false, &[]);
        let recorder = Recorder::create(&path, &h).unwrap();
        let event: Event = serde_json::from_str(SPAWN).unwrap();
        recorder.events([&event]);
        let mut summary = Map::new();
        summary.insert("kind".into(), json!("summary"));
        recorder.summary(&summary);
        recorder.close().unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.header["seed"], 7);
        assert_eq!(r.header["format"], FORMAT);
        assert_eq!(r.events[0].1, SPAWN);
        assert!(r.summary.is_some());
    }
}
