//! Architecture invariant: an inference server links only the runtime, so the runtime's
//! dependency closure must not contain any compiler-side crate. Read from `cargo metadata`.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use syncodec_e2e::workspace_root;

const FORBIDDEN: &[&str] = &["pest", "pest_derive", "regex-syntax", "regex-automata", "petgraph", "tokenizers", "rayon", "syncodec"];

#[test]
fn runtime_does_not_depend_on_compiler_crates() {
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
    let packages: HashMap<&str, &str> = meta["packages"].as_array().unwrap().iter().map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap())).collect();
    let nodes: HashMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let normal_deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), normal_deps)
        })
        .collect();
    let runtime = packages.iter().find(|(_, name)| **name == "syncodec-runtime").map(|(id, _)| *id).expect("runtime package");
    let mut seen = BTreeSet::new();
    let mut stack = vec![runtime];
    while let Some(id) = stack.pop() {
        if seen.insert(packages[id]) {
            stack.extend(nodes.get(id).into_iter().flatten().copied());
        }
    }
    let bad: Vec<_> = seen.iter().filter(|n| FORBIDDEN.contains(n)).collect();
    assert!(bad.is_empty(), "runtime depends on compiler-side crates: {bad:?} (closure: {seen:?})");
}
