//! The build kernel's host side (no GPU needed). On real artifacts: for
//! `grammars/json.ebnf` built with real tokenizers (`../shared/tokenizers`:
//! byte-level BPE with a padded logits width, SentencePiece with
//! first-position tokens, 128k and 152k vocabularies), teacher-force JSON texts
//! and check at every position that the CPU reference of the device kernel,
//! applied to `Session::describe_mask()`, equals `Session::fill_bitmask()` —
//! one row at a time and all positions as one packed batch. A sample of the
//! rows also goes through the host emulation of the kernel (build and fused
//! apply). Prints the bytes moved per step for B ∈ {1, 256, 4096}: host-built
//! bitmask rows (for the apply kernel) against packed descriptions (for the
//! build kernel), and the size of the description at the start of a sequence
//! (no prompt before the text), where
//! SentencePiece tokenizers list every first-position id.
//!
//! Also: the loader's no-GPU path (`DeviceMaskStore::on_device` and
//! `GpuMasker::on_device` return `GpuError::Unavailable`, never panic).
//!
//! The real-artifact test skips (printing why) when the tokenizers are
//! absent, except under `CI=true`.

mod common;

use common::{build_artifact, grammar_path, json_texts, reference_rows, shared_data, teacher_force, Elem, EmuCase, Emulator, FusedPart, Position, Rng};
use syncodec_cuda::runtime::apply::BatchLayout;
use syncodec_cuda::runtime::artifact::Artifact;
use syncodec_cuda::{build_bitmask_cpu, build_launch_shape, pack_descriptions, probe, DeviceMaskStore, GpuError, GpuMasker, HostMaskStore, MaskDescription, PackedDescriptions};

/// (tokenizer file, logits width to build for: None = the tokenizer's).
const TOKENIZERS: [(&str, Option<usize>); 4] = [("gpt2.json", Some(50304)), ("llama2.json", None), ("llama3.json", None), ("qwen2_5.json", None)];

/// `B` descriptions taken round-robin from `positions`.
fn batch(positions: &[Position], b: usize) -> Vec<MaskDescription> {
    (0..b).map(|i| positions[i % positions.len()].desc.clone()).collect()
}

#[test]
fn cpu_reference_of_descriptions_equals_fill_bitmask_on_real_artifacts() {
    let Some(dir) = shared_data("tokenizers") else { return };
    let emu = match Emulator::build("real") {
        Ok(e) => Some(e),
        Err(reason) => {
            println!("no host emulation: {reason}");
            None
        }
    };
    let texts = json_texts();
    let mut table = Vec::new();
    for (file, vocab_size) in TOKENIZERS {
        let path = dir.join(file);
        if !path.exists() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true but {} is missing", path.display());
            }
            println!("skipping {file}: not found");
            continue;
        }
        let artifact = build_artifact(&grammar_path("json.ebnf"), &path, vocab_size);
        let store = HostMaskStore::from_artifact(&artifact).expect("mask store");
        let tokenizer = syncodec::vocab::load_tokenizer(&path).expect("tokenizer");
        let words = store.words();
        let dense = store.kinds().iter().filter(|&&k| k == syncodec_cuda::MASK_DENSE).count();

        let mut positions: Vec<Position> = Vec::new();
        let mut files = 0;
        for (name, text) in &texts {
            if let Some(p) = teacher_force(&artifact, &tokenizer, name, text) {
                files += 1;
                positions.extend(p);
            }
        }
        assert!(files > 0 && !positions.is_empty(), "{file}: no text could be teacher-forced");

        // Row by row.
        let mut row = vec![0u32; words];
        for (i, p) in positions.iter().enumerate() {
            build_bitmask_cpu(&store, &pack_descriptions(std::slice::from_ref(&p.desc)), &mut row).unwrap();
            assert!(row == p.row, "{file}: position {i}: description {:?} gives another row than fill_bitmask", p.desc);
        }
        // All positions as one batch.
        let all: Vec<MaskDescription> = positions.iter().map(|p| p.desc.clone()).collect();
        let packed = pack_descriptions(&all);
        let rows = reference_rows(&store, &packed, all.len());
        for (i, p) in positions.iter().enumerate() {
            assert!(rows[i * words..(i + 1) * words] == p.row[..], "{file}: batched row {i} differs from fill_bitmask");
        }

        let with_set = all.iter().filter(|d| !d.tokens.is_empty()).count();
        let with_clear = all.iter().filter(|d| !d.clear.is_empty()).count();
        let max_masks = all.iter().map(|d| d.masks.len()).max().unwrap_or(0);
        let mean_masks = all.iter().map(|d| d.masks.len()).sum::<usize>() as f64 / all.len() as f64;
        println!(
            "{file}: n_tokens {} width {} | {} masks ({dense} dense) | {files} texts, {} positions: rows equal fill_bitmask; \
             mask ids per row mean {mean_masks:.2} max {max_masks}; rows with set tokens {with_set}, with clear tokens {with_clear}",
            store.n_tokens(),
            store.width(),
            store.n_masks(),
            positions.len()
        );

        // A sample through the emulated kernel: the rows with token edits
        // first, then spread over the file; build-only and fused f32.
        if let Some(emu) = &emu {
            let mut pick: Vec<usize> = (0..all.len()).filter(|&i| !all[i].tokens.is_empty() || !all[i].clear.is_empty()).take(3).collect();
            pick.extend((0..5).map(|k| k * all.len() / 5));
            let sample: Vec<MaskDescription> = pick.iter().map(|&i| all[i].clone()).collect();
            let sp = pack_descriptions(&sample);
            let mut rng = Rng(7);
            let n = sample.len();
            let layout = BatchLayout { rows: n, width: store.width() as usize + 5, row_stride: store.width() as usize + 8, mask_words: words };
            let logits: Vec<u32> = (0..layout.logits_len().unwrap() + 16).map(|_| rng.u32()).collect();
            let cover = words.max(layout.width.div_ceil(32));
            let cases = vec![
                EmuCase { schedule: 2, seed: 1, shape: build_launch_shape(words, n, 132), store: store.clone(), packed: sp.clone(), rows: n, write_out: true, fused: None },
                EmuCase {
                    schedule: 1,
                    seed: 2,
                    shape: build_launch_shape(cover, n, 1),
                    store: store.clone(),
                    packed: sp,
                    rows: n,
                    write_out: true,
                    fused: Some(FusedPart { elem: Elem::F32, layout, indices: None, offset: 0, logits }),
                },
            ];
            let (got, summary) = emu.run(&cases);
            for (c, g) in cases.iter().zip(&got) {
                let want = c.expected();
                assert!(*g == want, "{file}: emulated kernel: {}", common::first_difference(g, &want, words));
            }
            for (k, &i) in pick.iter().enumerate() {
                assert!(got[0].out.as_ref().unwrap()[k * words..(k + 1) * words] == positions[i].row[..]);
            }
            println!("{file}: emulated kernel on {n} real rows equals fill_bitmask ({summary})");
        }

        // Bytes per step, steady state: positions after the first token.
        let later: Vec<Position> = positions.iter().filter(|p| !p.first).map(|p| Position { first: false, desc: p.desc.clone(), row: Vec::new() }).collect();
        let start_bytes = positions.iter().filter(|p| p.first).map(|p| pack_descriptions(std::slice::from_ref(&p.desc)).bytes()).max().unwrap_or(0);
        for b in [1usize, 256, 4096] {
            let p: PackedDescriptions = pack_descriptions(&batch(&later, b));
            table.push((file, store.width(), b, b * words * 4, p.bytes(), start_bytes));
        }
    }
    if !table.is_empty() {
        println!("\nbytes moved per step (json.ebnf; B rows taken round-robin from the teacher-forced positions after the first token):");
        println!("{:<13} {:>7} {:>5} {:>16} {:>14} {:>6} {:>22}", "tokenizer", "width", "B", "bitmask bytes", "packed bytes", "ratio", "sequence-start bytes");
        for (file, width, b, a, p, first) in table {
            println!("{file:<13} {width:>7} {b:>5} {a:>16} {p:>14} {:>5.0}x {first:>22}", a as f64 / p as f64);
        }
    }
}

#[test]
fn loader_without_gpu_is_unavailable_not_a_panic() {
    // A grammar-only artifact (no mask store): without CUDA the loader must
    // say CUDA is unavailable (checked first), with CUDA that the store is
    // missing.
    let compilation = syncodec::compile_path(&grammar_path("json.ebnf"), &Default::default()).unwrap();
    let bytes = syncodec::emit::encode(compilation.ok().unwrap()).unwrap();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    assert!(matches!(HostMaskStore::from_artifact(&artifact), Err(syncodec_cuda::DescriptionError::NoMaskStore)));
    let loaded = DeviceMaskStore::on_device(0, &artifact);
    match probe() {
        Err(reason) => {
            println!("no CUDA here ({reason}): checking the no-GPU path");
            assert!(matches!(loaded, Err(GpuError::Unavailable(_))), "{loaded:?}");
            assert!(matches!(GpuMasker::on_device(0), Err(GpuError::Unavailable(_))));
        }
        Ok(info) => {
            println!("CUDA present ({}): the loader must report the missing store", info.name);
            assert!(matches!(loaded, Err(GpuError::Description(syncodec_cuda::DescriptionError::NoMaskStore))), "{loaded:?}");
        }
    }
}
