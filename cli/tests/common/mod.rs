//! Helpers shared by the CLI integration tests: run the real binary from the workspace root.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `syncodec ARGS` in the workspace root.
pub fn syncodec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_syncodec")).args(args).current_dir(workspace()).output().expect("run syncodec")
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
