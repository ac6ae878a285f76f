//! Helpers shared by the end-to-end tests: where the workspace, its grammars and `../shared` are.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives inside the workspace").to_path_buf()
}

/// `../shared` next to the workspace, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = workspace_root().parent()?.join("shared");
    dir.is_dir().then_some(dir)
}

/// A real-data directory under `../shared`. Outside CI a missing directory means "skip"
/// (returns `None` after printing why); under `CI=true` it is a test failure.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let found = shared_dir().map(|d| d.join(relative)).filter(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but ../shared/{relative} is missing: real-data tests must not be skipped in CI");
        }
        eprintln!("skipping: ../shared/{relative} not found");
    }
    found
}

pub mod generate;
pub mod masks;
pub mod mutate;
pub mod sdists;
