//! Selecting the files a command or a test checks: a file is taken as given, a directory is
//! searched for files with one of the wanted extensions. Output is sorted per directory, so runs
//! are reproducible; symbolic links to directories are not followed (no cycles).

use std::path::{Path, PathBuf};

use syncodec_runtime::artifact::Artifact;

use crate::OracleError;

/// Adds `path` (a file, taken as is) or the files under it with one of `extensions`, sorted.
pub fn collect(path: &Path, extensions: &[String], out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut stack = vec![path.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let p = entry.path();
            if kind.is_dir() {
                stack.push(p);
            } else if (kind.is_file() || (kind.is_symlink() && p.is_file())) && p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.iter().any(|x| x == e)) {
                found.push(p);
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

/// The files to check: `paths` as given (files) or searched (directories) for `extensions`, or
/// the grammar's file extensions when `extensions` is empty.
pub fn collect_files(artifact: &Artifact, paths: &[PathBuf], extensions: &[String]) -> Result<Vec<PathBuf>, OracleError> {
    let extensions: Vec<String> = if extensions.is_empty() {
        artifact.grammar().file_extensions.iter().map(|e| e.as_str().to_string()).collect()
    } else {
        extensions.iter().map(|e| e.trim_start_matches('.').to_string()).collect()
    };
    let mut files = Vec::new();
    for path in paths {
        collect(path, &extensions, &mut files).map_err(|error| OracleError::Files { path: path.display().to_string(), error })?;
    }
    Ok(files)
}

