//! Every key in one table: the loop maps keys to [`Action`]s through it, and
//! the help screen is drawn from it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    TogglePause,
    Step,
    StepSelected,
    Faster,
    Slower,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Sort,
    Restart,
    /// A challenge's undo: the moves but the last, again.
    Undo,
    Focus,
    Code,
    Back,
    PrevMoment,
    NextMoment,
    Suspend,
    /// The timeline in the table's place, or the table again.
    Timeline,
    /// The timeline's own keys: they do nothing while it is hidden.
    ZoomIn,
    ZoomOut,
    Earlier,
    Later,
    Follow,
}

/// (keys as the help shows them, the key of the text that says what they
/// do, the action, the key codes).
pub struct Binding {
    pub keys: &'static str,
    pub does: &'static str,
    pub action: Action,
    codes: &'static [KeyCode],
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "space",
        does: "key_pause",
        action: Action::TogglePause,
        codes: &[KeyCode::Char(' ')],
    },
    Binding {
        keys: "n  →",
        does: "key_step",
        action: Action::Step,
        codes: &[KeyCode::Char('n'), KeyCode::Right],
    },
    Binding {
        keys: "←  b",
        does: "key_back",
        action: Action::Back,
        codes: &[KeyCode::Left, KeyCode::Char('b')],
    },
    Binding {
        keys: "[  ]",
        does: "key_moments",
        action: Action::PrevMoment,
        codes: &[KeyCode::Char('[')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::NextMoment,
        codes: &[KeyCode::Char(']')],
    },
    Binding {
        keys: "enter",
        does: "key_step_selected",
        action: Action::StepSelected,
        codes: &[KeyCode::Enter],
    },
    Binding {
        keys: "+  -",
        does: "key_speed",
        action: Action::Faster,
        codes: &[KeyCode::Char('+'), KeyCode::Char('=')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::Slower,
        codes: &[KeyCode::Char('-'), KeyCode::Char('_')],
    },
    Binding {
        keys: "Tab",
        does: "key_focus",
        action: Action::Focus,
        codes: &[KeyCode::Tab, KeyCode::BackTab],
    },
    Binding {
        keys: "c",
        does: "key_code",
        action: Action::Code,
        codes: &[KeyCode::Char('c')],
    },
    Binding {
        keys: "↑ ↓  j k",
        does: "key_select",
        action: Action::Up,
        codes: &[KeyCode::Up, KeyCode::Char('k')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::Down,
        codes: &[KeyCode::Down, KeyCode::Char('j')],
    },
    Binding {
        keys: "PgUp PgDn",
        does: "key_page",
        action: Action::PageUp,
        codes: &[KeyCode::PageUp],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::PageDown,
        codes: &[KeyCode::PageDown],
    },
    Binding {
        keys: "Home End",
        does: "key_ends",
        action: Action::Top,
        codes: &[KeyCode::Home, KeyCode::Char('g')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::Bottom,
        codes: &[KeyCode::End, KeyCode::Char('G')],
    },
    // One line of help for the timeline and its own keys.
    Binding {
        keys: "t  z Z  h l  f",
        does: "key_timeline",
        action: Action::Timeline,
        codes: &[KeyCode::Char('t')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::ZoomIn,
        codes: &[KeyCode::Char('z'), KeyCode::Char('>')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::ZoomOut,
        codes: &[KeyCode::Char('Z'), KeyCode::Char('<')],
    },
    Binding {
        keys: "h",
        does: "key_hint",
        action: Action::Earlier,
        codes: &[KeyCode::Char('h')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::Later,
        codes: &[KeyCode::Char('l')],
    },
    Binding {
        keys: "",
        does: "",
        action: Action::Follow,
        codes: &[KeyCode::Char('f')],
    },
    Binding {
        keys: "s",
        does: "key_sort",
        action: Action::Sort,
        codes: &[KeyCode::Char('s')],
    },
    Binding {
        keys: "r",
        does: "key_restart",
        action: Action::Restart,
        codes: &[KeyCode::Char('r')],
    },
    Binding {
        keys: "u",
        does: "key_undo",
        action: Action::Undo,
        codes: &[KeyCode::Char('u')],
    },
    Binding {
        keys: "?",
        does: "key_help",
        action: Action::Help,
        codes: &[KeyCode::Char('?'), KeyCode::F(1)],
    },
    Binding {
        keys: "Ctrl-Z",
        does: "key_suspend",
        action: Action::Suspend,
        // A control key: see `action_for`.
        codes: &[],
    },
    Binding {
        keys: "q  Esc  Ctrl-C",
        does: "key_quit",
        action: Action::Quit,
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
    },
];

pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') | KeyCode::Char('d') => Some(Action::Quit),
            KeyCode::Char('z') => Some(Action::Suspend),
            _ => None,
        };
    }
    BINDINGS
        .iter()
        .find(|b| b.codes.contains(&key.code))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_usual_keys_do_the_usual_things() {
        assert_eq!(action_for(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action_for(key(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(key(KeyCode::Char(' '))),
            Some(Action::TogglePause)
        );
        assert_eq!(action_for(key(KeyCode::Right)), Some(Action::Step));
        assert_eq!(action_for(key(KeyCode::Char('?'))), Some(Action::Help));
        assert_eq!(action_for(key(KeyCode::Char('x'))), None);
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL)),
            Some(Action::Suspend)
        );
        // Tab moves the arrows between the table and the events panel.
        assert_eq!(action_for(key(KeyCode::Tab)), Some(Action::Focus));
        assert_eq!(action_for(key(KeyCode::Char('c'))), Some(Action::Code));
        // The timeline and its own keys.
        assert_eq!(action_for(key(KeyCode::Char('t'))), Some(Action::Timeline));
        assert_eq!(action_for(key(KeyCode::Char('z'))), Some(Action::ZoomIn));
        assert_eq!(action_for(key(KeyCode::Char('Z'))), Some(Action::ZoomOut));
        assert_eq!(action_for(key(KeyCode::Char('h'))), Some(Action::Earlier));
        assert_eq!(action_for(key(KeyCode::Char('l'))), Some(Action::Later));
        assert_eq!(action_for(key(KeyCode::Char('f'))), Some(Action::Follow));
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for c in b.codes {
                assert!(!seen.contains(c), "{c:?} is bound twice");
                seen.push(*c);
            }
        }
    }
}
