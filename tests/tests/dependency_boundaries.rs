//! Architecture invariants, read from `cargo metadata` (normal dependencies only; dev-dependencies
//! of tests may cross the lines):
//!
//! - an inference server links only the runtime (or the CUDA crate on top of it), so neither
//!   closure contains a compiler-side crate;
//! - the compiler library is a library: it depends on neither the runtime nor the command-line
//!   crates (clap, indicatif, annotate-snippets) nor the oracles;
//! - nothing but the CLI depends on the CLI crate, and nothing below the oracles uses them
//!   (`compiler -> artifacts <- runtime <- cuda`; the CLI, the oracles and the Python package sit
//!   on top).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use syncodec_e2e::workspace_root;

/// Compiler-side crates an inference server must not link.
const COMPILER_SIDE: &[&str] = &["pest", "pest_derive", "regex-syntax", "regex-automata", "petgraph", "tokenizers", "rayon", "syncodec", "syncodec-oracles", "syncodec-cli"];
/// What only the command line needs.
const CLI_SIDE: &[&str] = &["clap", "indicatif", "annotate-snippets", "syncodec-cli", "syncodec-oracles", "syncodec-runtime", "syncodec-cuda"];

/// Package name -> names of its normal dependencies, for the host platform.
struct Graph {
    names: HashMap<String, String>,
    deps: HashMap<String, Vec<String>>,
}

impl Graph {
    fn load() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Resolve for the host platform only: other platforms' crates need not be downloaded.
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let version = Command::new(rustc).arg("-vV").output().expect("run rustc -vV");
        let host = String::from_utf8_lossy(&version.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_string)).expect("rustc -vV names the host");
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--filter-platform", &host])
            .current_dir(workspace_root())
            .output()
            .expect("run cargo metadata");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let names = meta["packages"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string())).collect();
        let deps = meta["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let normal = n["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                    .map(|d| d["pkg"].as_str().unwrap().to_string())
                    .collect();
                (n["id"].as_str().unwrap().to_string(), normal)
            })
            .collect();
        Graph { names, deps }
    }

    fn id(&self, name: &str) -> &str {
        self.names.iter().find(|(_, n)| *n == name).map(|(id, _)| id.as_str()).unwrap_or_else(|| panic!("package {name} not in the workspace"))
    }

    /// Names of the packages `name` depends on, transitively (itself excluded).
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let root = self.id(name);
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = self.deps.get(root).into_iter().flatten().map(String::as_str).collect();
        while let Some(id) = stack.pop() {
            if seen.insert(self.names[id].clone()) {
                stack.extend(self.deps.get(id).into_iter().flatten().map(String::as_str));
            }
        }
        seen
    }

    /// Names of the direct normal dependencies of `name`.
    fn direct(&self, name: &str) -> BTreeSet<String> {
        self.deps.get(self.id(name)).into_iter().flatten().map(|id| self.names[id].clone()).collect()
    }
}

fn forbidden_in(closure: &BTreeSet<String>, forbidden: &[&str]) -> Vec<String> {
    closure.iter().filter(|n| forbidden.contains(&n.as_str())).cloned().collect()
}

#[test]
fn runtime_and_cuda_do_not_depend_on_compiler_crates() {
    let g = Graph::load();
    for package in ["syncodec-runtime", "syncodec-cuda", "syncodec-artifacts"] {
        let closure = g.closure(package);
        let bad = forbidden_in(&closure, COMPILER_SIDE);
        assert!(bad.is_empty(), "{package} depends on compiler-side crates: {bad:?} (closure: {closure:?})");
    }
}

#[test]
fn compiler_library_depends_on_neither_runtime_nor_cli_crates() {
    let g = Graph::load();
    let closure = g.closure("syncodec");
    let bad = forbidden_in(&closure, CLI_SIDE);
    assert!(bad.is_empty(), "the compiler library depends on {bad:?} (closure: {closure:?})");
    assert!(closure.contains("syncodec-artifacts"), "the compiler writes through syncodec-artifacts");
}

#[test]
fn cli_and_oracles_sit_on_top() {
    let g = Graph::load();
    for package in ["syncodec", "syncodec-runtime", "syncodec-artifacts", "syncodec-cuda", "syncodec-oracles"] {
        assert!(!g.closure(package).contains("syncodec-cli"), "{package} depends on the CLI crate");
        assert!(!g.closure(package).contains("syncodec-python"), "{package} depends on the Python extension crate");
    }
    let oracles = g.direct("syncodec-oracles");
    assert!(oracles.contains("syncodec") && oracles.contains("syncodec-runtime"), "the oracles use both sides: {oracles:?}");
    let bad = forbidden_in(&g.closure("syncodec-oracles"), &["clap", "indicatif", "annotate-snippets"]);
    assert!(bad.is_empty(), "the oracles library depends on command-line crates: {bad:?}");
    let cli = g.direct("syncodec-cli");
    assert!(cli.contains("syncodec-oracles") && cli.contains("clap"), "the CLI drives the oracles: {cli:?}");
}
