//! What a run is and how it is shown: `app` resolves it from the command
//! line, and the front ends (`ui`, `headless`) take it. Kept apart so that
//! the front ends depend on it, not on `app`, which depends on them.

use std::sync::Arc;

use crate::engine::RunOptions;
use crate::record::Recorder;
use crate::scenario::Scenario;

/// Exit code for a user's mistake (clap's convention).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a run that could not finish (a fork failed, a limit was hit).
pub const EXIT_FAILED: u8 = 1;

/// How a run is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Front {
    Dashboard,
    Headless,
    Json,
}

/// Everything needed to start (and restart) a run.
#[derive(Clone)]
pub struct Launch {
    pub scenario: Arc<dyn Scenario>,
    pub options: RunOptions,
    pub front: Front,
    /// Where the run is recorded (`--record`), its file already open.
    pub record: Option<Arc<Recorder>>,
    /// The learner's answer to the scenario's question (`--predict`).
    pub predict: Option<String>,
}

impl Launch {
    /// The prediction and what happened, in a sentence, once the run has
    /// given its answer: the summary's field the scenario asks about.
    pub fn prediction(&self, model: &crate::model::Model) -> Option<String> {
        let answer = self.predict.as_ref()?;
        let actual = self.actual(model)?;
        let right = self.predicted_right(&actual)?;
        let texts = &self.scenario.spec().texts;
        // A word result in the learner's words: `main (the main process)`.
        let shown = texts
            .get(&format!("predict_value_{actual}"))
            .map_or(actual.clone(), str::to_string);
        Some(texts.say(
            "predict_said",
            &[
                ("answer", answer),
                ("actual", &shown),
                (
                    "verdict",
                    &texts.say(
                        if right {
                            "predict_right"
                        } else {
                            "predict_wrong"
                        },
                        &[],
                    ),
                ),
            ],
        ))
    }

    /// Whether the answer given is `actual`, what happened (see
    /// [`Launch::actual`]): the same number, or the same word (in any of the
    /// words the scenario gives it).
    pub fn predicted_right(&self, actual: &str) -> Option<bool> {
        let answer = self.predict.as_ref()?.trim().to_lowercase();
        let spec = self.scenario.spec();
        if spec.predict.as_ref()?.number {
            let number = |s: &str| s.trim().parse::<i64>().ok();
            return Some(number(&answer).is_some() && number(&answer) == number(actual));
        }
        let same = spec
            .texts
            .get(&format!("predict_same_{actual}"))
            .unwrap_or_default();
        Some(
            std::iter::once(actual)
                .chain(same.split('|'))
                .any(|word| word.trim().to_lowercase() == answer),
        )
    }

    /// Whether `answer` can answer the scenario's question (see
    /// [`crate::scenario::Predict::takes`]).
    pub fn answers(&self, answer: &str) -> bool {
        let predict = self.scenario.spec().predict.as_ref();
        predict.map_or(true, |p| p.takes(answer))
    }

    /// What happened, as the prediction is compared to: the summary's field
    /// the scenario's question is about.
    pub fn actual(&self, model: &crate::model::Model) -> Option<String> {
        let field = &self.scenario.spec().predict.as_ref()?.field;
        let value = self.scenario.summary(model).get(field)?.clone();
        Some(match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        })
    }
}
