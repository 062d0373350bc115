//! A scenario's declaration ([`Scenario::show`](super::Scenario::show)):
//! what the dashboard shows of it and what its stream needs kept in order,
//! in one place. The views lay the screen out from it and the reader holds
//! events back by it; neither knows a scenario by its name.

use crate::model::{Model, Moment};
use crate::order::Rule;

/// A panel of the column beside the process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The lock: its kind, its holder and its waiters in line.
    Lock,
    /// The real content of each watched file.
    File,
    /// A file of lines, each one writer's or torn
    /// ([`Scenario::file_lines`](super::Scenario::file_lines)).
    Lines,
    /// A number the processes share
    /// ([`Scenario::counter`](super::Scenario::counter)).
    Counter,
    /// The queue's depth, history and blocked processes.
    Queue,
    /// The pool's AsyncResults and where each callback ran.
    Pool,
    /// The manager's dict and list beside the plain dicts.
    Manager,
    /// The calls made on Process objects.
    Calls,
    /// What a program printed, by process (`mpviz run`).
    Output,
    /// The events; under the table instead where [`Show::log_under_table`]
    /// says so and it fits.
    Log,
}

/// How tall a panel wants to be in its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Height {
    /// As tall as what it shows (the panel knows how tall that is).
    Content,
    /// This percentage of the column; all that is left when the events go
    /// under the table.
    Percent(u16),
    /// What the other panels leave.
    Rest,
    /// A third of the column, at least three rows.
    Third,
}

/// How wide the column beside the process table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Three eighths of the terminal (30 to 72 columns).
    Narrow,
    /// Half of it (30 to 90 columns), for panels that say much per row.
    Half,
    /// Half from 100 columns, narrow below, where the table needs more.
    HalfWhenWide,
}

/// What a scenario shows and what its stream needs kept in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Show {
    /// The panels beside the table, top to bottom, with how tall each wants
    /// to be.
    pub panels: Vec<(Panel, Height)>,
    pub side: Side,
    /// Whether the events go under the table when the table leaves them
    /// room (a few processes leave the table's column mostly empty).
    pub log_under_table: bool,
    /// The header's counters that light up, by their key in
    /// [`Scenario::headline`](super::Scenario::headline), with the moment
    /// each counts.
    pub alarms: Vec<(&'static str, Moment)>,
    /// The ordering rules its stream needs besides [`Rule::Spawn`], which
    /// every stream keeps.
    pub order: Vec<Rule>,
}

impl Show {
    /// `panels` in a narrow column beside the table, nothing lit, no rule.
    pub fn panels(panels: &[(Panel, Height)]) -> Show {
        Show {
            panels: panels.to_vec(),
            side: Side::Narrow,
            log_under_table: false,
            alarms: Vec::new(),
            order: Vec::new(),
        }
    }

    pub fn side(mut self, side: Side) -> Show {
        self.side = side;
        self
    }

    pub fn log_under_table(mut self) -> Show {
        self.log_under_table = true;
        self
    }

    pub fn alarms(mut self, alarms: &[(&'static str, Moment)]) -> Show {
        self.alarms = alarms.to_vec();
        self
    }

    pub fn order(mut self, rules: &[Rule]) -> Show {
        self.order = rules.to_vec();
        self
    }

    /// The moment the header's counter `key` counts, if any.
    pub fn alarm(&self, key: &str) -> Option<Moment> {
        self.alarms
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, moment)| *moment)
    }

    /// Whether the header's counter `key` lights up: it is an alarm, and
    /// the number it shows, where the scenario counts it (`count`, from
    /// [`Scenario::alarm_count`](super::Scenario::alarm_count)), is above
    /// zero; else the fold saw its moment.
    pub fn lit(&self, key: &str, count: Option<u64>, model: &Model) -> bool {
        self.alarm(key)
            .is_some_and(|moment| count.map_or_else(|| model.moment_count(moment) > 0, |n| n > 0))
    }
}
