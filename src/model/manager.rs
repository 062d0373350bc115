//! A Manager: the server process's shared dict and list, as its answers
//! tell them, beside each process's own plain dict.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::procs::Procs;
use crate::protocol::{Body, Event, Pid};

/// What a process read back from a manager's server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadBack {
    pub by: Pid,
    /// The dict's items as the server sent them: (key, value).
    pub dict: Vec<(i64, i64)>,
    pub list: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagerState {
    /// The server process (the one that served requests).
    pub server: Option<Pid>,
    /// In the order its keys were first set, as a Python dict keeps them.
    pub dict: IndexMap<i64, i64>,
    pub list: Vec<i64>,
    pub requests: u32,
    pub served: u32,
    /// The last read-back from the server.
    pub reply: Option<ReadBack>,
    /// Each worker's copy of the plain dict: its size, as it reported it.
    pub plain: BTreeMap<Pid, u32>,
    /// The main process's own plain dict (the process of role
    /// [`crate::worker::MAIN_ROLE`]): its size when main set its key, then as
    /// main read it at the end.
    pub main_plain: Option<u32>,
}

impl ManagerState {
    /// Folds in the manager's events: requests, what the server did for
    /// them, read-backs, and the plain dicts (`procs` tells main's apart).
    pub(super) fn apply(&mut self, ev: &Event, procs: &Procs) {
        let pid = ev.pid;
        match &ev.body {
            Body::Request { .. } => self.requests += 1,
            Body::Served { op, key, value, .. } => {
                self.server = pid;
                self.served += 1;
                match (op.as_str(), key, value) {
                    ("dict_set", Some(k), Some(v)) => {
                        self.dict.insert(*k, *v);
                    }
                    ("list_append", _, Some(v)) => self.list.push(*v),
                    _ => {}
                }
            }
            Body::Reply { dict, list } => {
                if let Some(by) = pid {
                    self.reply = Some(ReadBack {
                        by,
                        dict: dict.clone(),
                        list: list.clone(),
                    });
                }
            }
            Body::PlainSet { len, .. } => {
                let main = pid
                    .and_then(|p| procs.get(p))
                    .is_some_and(|p| p.role == crate::worker::MAIN_ROLE);
                match pid {
                    Some(_) if main => self.main_plain = Some(*len),
                    Some(p) => {
                        self.plain.insert(p, *len);
                    }
                    None => {}
                }
            }
            Body::PlainRead { len } => self.main_plain = Some(*len),
            _ => {}
        }
    }
}
