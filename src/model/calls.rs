//! Calls on Process objects (the lifecycle's `start`, `join`, `is_alive`…),
//! in the order their callers made them.

use std::ops::Deref;

use crate::protocol::{Body, Event, Pid, PyValue};

/// A call on a Process object, as its caller reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcCall {
    pub caller: Pid,
    pub call: String,
    pub target: Option<Pid>,
    pub result: PyValue,
    /// A timed join: whether the target still ran after it.
    pub alive: Option<bool>,
    /// A join that reaped its target: the exit code `waitpid` gave.
    pub exitcode: Option<i32>,
}

/// The calls, oldest first (read as a slice).
#[derive(Debug, Clone, Default)]
pub struct Calls {
    list: Vec<ProcCall>,
}

impl Deref for Calls {
    type Target = [ProcCall];

    fn deref(&self) -> &[ProcCall] {
        &self.list
    }
}

impl Calls {
    pub(super) fn apply(&mut self, ev: &Event) {
        if let (
            Body::ProcessCall {
                call,
                target,
                result,
                alive,
                exitcode,
                ..
            },
            Some(caller),
        ) = (&ev.body, ev.pid)
        {
            self.list.push(ProcCall {
                caller,
                call: call.clone(),
                target: *target,
                result: result.clone(),
                alive: *alive,
                exitcode: *exitcode,
            });
        }
    }
}

impl<'a> IntoIterator for &'a Calls {
    type Item = &'a ProcCall;
    type IntoIter = std::slice::Iter<'a, ProcCall>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}
