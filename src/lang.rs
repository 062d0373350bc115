//! The language mpviz speaks to a person: `--lang`, else the locale
//! variables, as programs usually read them. Every language is a directory of
//! text files (`scenarios/LANG/`), built in; English is the one every other
//! falls back on.

use std::sync::OnceLock;

use crate::scenario::texts::TEXT_FILES;

/// The language of this process's messages (its command line's, set once
/// by `main` before the command line is read).
static CURRENT: OnceLock<Lang> = OnceLock::new();

/// Sets the language of this process's messages; the first call wins.
pub fn set_current(lang: Lang) {
    let _ = CURRENT.set(lang);
}

/// The language of this process's messages: its command line's, or English
/// where `main` did not set one (a test).
pub fn current() -> Lang {
    CURRENT.get().copied().unwrap_or(Lang::EN)
}

/// A language whose texts are built in, named by its directory (`en`, `zh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(&'static str);

impl Lang {
    /// English: every text exists in it.
    pub const EN: Lang = Lang("en");

    pub fn code(self) -> &'static str {
        self.0
    }

    /// Every built-in language, in order.
    pub fn all() -> Vec<Lang> {
        let mut langs: Vec<Lang> = Vec::new();
        for (lang, _, _) in TEXT_FILES {
            if !langs.iter().any(|l| l.0 == *lang) {
                langs.push(Lang(lang));
            }
        }
        langs
    }

    /// The built-in language named `code` (`zh`, `en`), if there is one.
    pub fn named(code: &str) -> Option<Lang> {
        Lang::all().into_iter().find(|l| l.0 == code)
    }

    /// The language of a locale value (`zh_CN.UTF-8` → `zh`): its part
    /// before `_`, `.` or `@`, if built in; English otherwise (`C`, `POSIX`,
    /// a language mpviz does not speak).
    pub fn of_locale(value: &str) -> Lang {
        let code = value.split(['_', '.', '@', '-']).next().unwrap_or("");
        Lang::named(&code.to_ascii_lowercase()).unwrap_or(Lang::EN)
    }

    /// The language the environment asks for: the first of `LC_ALL`,
    /// `LC_MESSAGES` and `LANG` that is set and not empty, as `setlocale`
    /// reads them for messages.
    pub fn from_env() -> Lang {
        Lang::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any source of variables (for the tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()))
            .map_or(Lang::EN, |value| Lang::of_locale(&value))
    }

    /// The language of a command line: its `--lang` (`--lang zh` or
    /// `--lang=zh`), else the environment's. Read before the command line
    /// is parsed, so that even its errors are in the user's language.
    pub fn of_args<S: AsRef<str>>(args: &[S]) -> Lang {
        let mut args = args.iter().map(AsRef::as_ref);
        while let Some(arg) = args.next() {
            let value = match arg.strip_prefix("--lang") {
                Some("") => args.next(),
                Some(rest) => rest.strip_prefix('='),
                None => None,
            };
            if let Some(lang) = value.and_then(Lang::named) {
                return lang;
            }
        }
        Lang::from_env()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_locale_variables_are_read_in_order_and_zh_means_chinese() {
        let zh = Lang::named("zh").expect("Chinese is built in");
        assert_eq!(Lang::from_vars(vars(&[("LANG", "zh_CN.UTF-8")])), zh);
        assert_eq!(Lang::from_vars(vars(&[("LANG", "zh_TW")])), zh);
        // LC_ALL wins over LC_MESSAGES, which wins over LANG.
        let all = [
            ("LC_ALL", "en_US.UTF-8"),
            ("LC_MESSAGES", "zh_CN"),
            ("LANG", "zh_CN"),
        ];
        assert_eq!(Lang::from_vars(vars(&all)), Lang::EN);
        let messages = [("LC_MESSAGES", "zh_CN"), ("LANG", "en_GB")];
        assert_eq!(Lang::from_vars(vars(&messages)), zh);
        // An empty variable is as good as unset.
        let empty = [("LC_ALL", ""), ("LANG", "zh_CN.UTF-8")];
        assert_eq!(Lang::from_vars(vars(&empty)), zh);
        // Anything else is English.
        for other in ["C", "POSIX", "fr_FR.UTF-8", "C.UTF-8"] {
            assert_eq!(
                Lang::from_vars(vars(&[("LANG", other)])),
                Lang::EN,
                "{other}"
            );
        }
        assert_eq!(Lang::from_vars(vars(&[])), Lang::EN);
    }

    #[test]
    fn lang_on_the_command_line_wins_over_the_environment() {
        let zh = Lang::named("zh").expect("Chinese is built in");
        assert_eq!(Lang::of_args(&["ticket", "--lang", "zh"]), zh);
        assert_eq!(Lang::of_args(&["ticket", "--lang=zh"]), zh);
        assert_eq!(Lang::of_args(&["--lang", "en", "list"]), Lang::EN);
    }
}
