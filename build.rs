//! Builds into the binary every language's texts: each directory under
//! `scenarios/` is a language (`en`, `zh`, ...), each `.toml` file in it the
//! texts of a scenario (or `common.toml`, the shared ones). Adding a language
//! is adding a directory; nothing in the code lists them.

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=scenarios");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut table = String::from(
        "/// Every language's text files: (language, file name without `.toml`, text).\n\
         pub const TEXT_FILES: &[(&str, &str, &str)] = &[\n",
    );
    for (lang, dir) in sorted(&root).into_iter().filter(|(_, p)| p.is_dir()) {
        for (file, path) in sorted(&dir) {
            let Some(stem) = file.strip_suffix(".toml") else {
                continue;
            };
            writeln!(
                table,
                "    ({lang:?}, {stem:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .expect("writing to a string");
        }
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("texts.rs");
    std::fs::write(out, table).expect("writing the texts table");
}

/// A directory's entries, by name.
fn sorted(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    entries
}
