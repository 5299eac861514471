//! Golden files under `tests/data/golden/`: what a test produced must match
//! the pinned file, and `UPDATE_GOLDEN=1` rewrites the file instead after a
//! deliberate change.

use std::path::PathBuf;

/// Compares `actual` with `tests/data/golden/<name>`, or rewrites the file
/// when `UPDATE_GOLDEN=1`.
pub fn golden(name: &str, actual: &[u8]) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "golden", name].iter().collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("create the golden folder");
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 to create it", path.display()));
    let changed = || format!("{} changed; rerun with UPDATE_GOLDEN=1 if the change is intended", path.display());
    // Text is compared as text, so that a failure shows the lines that moved.
    match (std::str::from_utf8(actual), std::str::from_utf8(&expected)) {
        (Ok(actual), Ok(expected)) => assert_eq!(actual, expected, "{}", changed()),
        _ => assert!(expected == actual, "{}", changed()),
    }
}
