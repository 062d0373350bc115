//! Colours, or none: `NO_COLOR` (any non-empty value) turns every colour off
//! and keeps only bold, dim and reverse.

use ratatui::style::{Color, Modifier, Style};

use crate::model::Salience;
use crate::protocol::Outcome;

/// The glyph that marks a moment (a lost update, an oversell, a torn read,
/// a deadlock) on its row, its log line and its header counter: it shows
/// where colours do not (`NO_COLOR`).
pub const MARK: &str = "✗";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn label(&self) -> Style {
        self.fg(Color::Gray)
    }

    pub fn value(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn holder(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// The line the last step ran, in the code panel.
    pub fn step(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    /// A comment in the tutorial's code.
    pub fn comment(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn paused(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// The `/proc` state letter: running stands out, zombies are a warning.
    pub fn state(&self, state: char) -> Style {
        match state {
            'R' => self.good().add_modifier(Modifier::BOLD),
            'Z' | 'X' => self.bad(),
            'D' | 'T' | 't' => self.warn(),
            _ => Style::new(),
        }
    }

    pub fn outcome(&self, outcome: Outcome) -> Style {
        match outcome {
            Outcome::Success => self.good(),
            Outcome::Fail => self.warn(),
        }
    }

    /// A moment, where it is marked: red, bold, and [`MARK`] beside it.
    pub fn alarm(&self) -> Style {
        self.bad()
    }

    /// A log line by how much it matters.
    pub fn salience(&self, salience: Salience) -> Style {
        match salience {
            Salience::Routine => self.dim(),
            Salience::Normal => Style::new(),
            Salience::Notable => self.warn(),
            Salience::Alarm => self.alarm(),
        }
    }

    pub fn exitcode(&self, code: i32) -> Style {
        match code {
            0 => self.good(),
            _ => self.bad(),
        }
    }
}
