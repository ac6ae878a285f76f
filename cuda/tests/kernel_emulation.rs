//! Runs the CUDA kernel's logic on the host: `tests/emulate/apply_bitmask_emu.cpp`
//! compiles `kernels/apply_bitmask.cu` as plain C++ (it includes no CUDA
//! header), executes every block and thread of each launch sequentially and
//! compares with a naive reference over 3000 random cases (both element
//! sizes, both unroll variants, strides, padded vocabularies, short masks,
//! indices including out-of-range ones, misaligned bases, grid.y smaller
//! than the number of rows).
//!
//! This checks the kernel's indexing, tails and bit handling without a GPU;
//! it cannot check anything about the device (coalescing, NVRTC dialect,
//! launch configuration limits). Skips when no C++ compiler is found.

use std::path::Path;
use std::process::Command;

#[test]
fn kernel_logic_matches_reference_under_host_emulation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = dir.join("tests/emulate/apply_bitmask_emu.cpp");
    let out_dir = std::env::temp_dir().join(format!("syncodec-cuda-emu-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join("apply_bitmask_emu");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let built = Command::new(&cxx)
        .args(["-std=c++17", "-O2", "-Wall", "-Wno-unknown-pragmas", "-I"])
        .arg(dir.join("kernels"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output();
    let built = match built {
        Ok(o) => o,
        Err(e) => {
            println!("skipping: no C++ compiler ({cxx}: {e})");
            return;
        }
    };
    assert!(
        built.status.success(),
        "compiling the kernel as C++ failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(
        run.status.success(),
        "emulation found mismatches:\n{stdout}"
    );
    assert!(stdout.contains(" 0 failures"), "{stdout}");
    println!("{}", stdout.trim_end());
}

// ---- The build kernel: kernels/build_bitmask.cu ----

mod common;

use common::{first_difference, random_descriptions, random_descriptions_up_to, random_store_with, Elem, EmuCase, Emulator, FusedPart, Rng};
use syncodec_cuda::runtime::apply::{BatchLayout, Dtype16};
use syncodec_cuda::{build_launch_shape, pack_descriptions};

/// One random build-kernel launch: store, descriptions, mode, launch shape, thread
/// schedule, and for the fused kernel a logits batch.
fn random_case(rng: &mut Rng, i: usize) -> EmuCase {
    let n_tokens = match rng.below(10) {
        0 => rng.below(40) as u32,
        1 => 32000 + rng.below(40) as u32,
        2 => 8192 * (1 + rng.below(2) as u32),
        _ => rng.below(3000) as u32,
    };
    let width = if rng.chance(1, 2) { n_tokens } else { n_tokens + rng.below(100) as u32 };
    // Sometimes many masks per row: more than one per thread, and more dense
    // masks than the kernel's shared-memory list (SC_DENSE_MAX = 256).
    let many = rng.chance(1, 12);
    let (n_tokens, width) = if many {
        let n = 1000 + rng.below(3000) as u32;
        (n, n + rng.below(40) as u32)
    } else {
        (n_tokens, width)
    };
    let n_masks = if many { 300 + rng.below(200) as usize } else { rng.below(12) as usize };
    let store = random_store_with(rng, n_tokens, width, n_masks, many);
    let desc_rows = if many { 1 + rng.below(3) as usize } else { rng.below(6) as usize };
    let descs = if many { random_descriptions_up_to(rng, &store, desc_rows, 900) } else { random_descriptions(rng, &store, desc_rows) };
    let packed = pack_descriptions(&descs);
    let words = store.words();
    let mode = rng.below(3);
    let mut rows = if rng.chance(1, 4) { rng.below(desc_rows as u64 + 1) as usize } else { desc_rows };
    let fused = (mode != 0).then(|| {
        let elem = if mode == 1 { Elem::F32 } else if rng.chance(1, 2) { Elem::B16(Dtype16::F16) } else { Elem::B16(Dtype16::Bf16) };
        // Logits width: the vocabulary's, wider (padded vocabulary: -inf past
        // the mask), or narrower (surplus mask bits ignored).
        let lw = match rng.below(4) {
            0 => (32 * words as u64 + rng.below(70)) as usize,
            1 => rng.below(32 * words as u64 + 1) as usize,
            _ => width as usize,
        };
        let stride = lw + if rng.chance(1, 3) { 0 } else { rng.below(20) as usize };
        let with_indices = rng.chance(1, 2);
        let n_logit_rows = if with_indices { 1 + rng.below(5) as usize } else { rows };
        let indices = with_indices.then(|| {
            (0..rows).map(|_| rng.below(n_logit_rows as u64 + 2) as i32 - if rng.chance(1, 8) { 3 } else { 0 }).collect::<Vec<i32>>()
        });
        let layout = BatchLayout { rows: n_logit_rows, width: lw, row_stride: stride, mask_words: words };
        let offset = if rng.chance(1, 4) { 1 } else { 0 };
        let n = layout.logits_len().unwrap();
        let logits = (0..offset + n + 16)
            .map(|_| if elem == Elem::F32 { rng.u32() } else { rng.u32() & 0xFFFF })
            .collect();
        FusedPart { elem, layout, indices, offset, logits }
    });
    if fused.as_ref().is_some_and(|f| f.indices.is_none()) {
        rows = fused.as_ref().unwrap().layout.rows;
    }
    let cover = match &fused {
        None => words,
        Some(f) if f.layout.rows == 0 || f.layout.width == 0 => words,
        Some(f) => words.max(f.layout.width.div_ceil(32)),
    };
    // The crate's own launch shape for a few SM counts, or an arbitrary tile.
    let mut shape = build_launch_shape(cover, rows, [1, 2, 8, 132][rng.below(4) as usize]);
    if rng.chance(1, 4) && cover > 0 && rows > 0 {
        let max = if rng.chance(1, 2) { 64 } else { 1024 };
        let tile = 1 + rng.below(max) as u32;
        shape = (tile, cover.div_ceil(tile as usize) as u32, shape.2);
    }
    if rng.chance(1, 3) && shape.2 > 1 {
        shape.2 = 1 + rng.below(u64::from(shape.2) - 1) as u32;
    }
    EmuCase {
        schedule: rng.below(3) as u32,
        seed: i as u32,
        shape,
        store,
        packed,
        rows,
        write_out: mode == 0 || rng.chance(1, 2),
        fused,
    }
}

#[test]
fn build_kernel_matches_cpu_reference_under_host_emulation() {
    let emu = match Emulator::build("build") {
        Ok(e) => e,
        Err(reason) => {
            println!("skipping: {reason}");
            return;
        }
    };
    let mut rng = Rng(0x05EE_DB17);
    let cases: Vec<EmuCase> = (0..600).map(|i| random_case(&mut rng, i)).collect();
    let (results, summary) = emu.run(&cases);
    let mut failures = Vec::new();
    let mut by_mode = [0usize; 3];
    let max_ids = cases.iter().map(|c| (0..c.packed.rows()).map(|r| c.packed.mask_ids(r).len()).max().unwrap_or(0)).max().unwrap_or(0);
    let dense_max = cases
        .iter()
        .map(|c| (0..c.packed.rows()).map(|r| c.packed.mask_ids(r).iter().filter(|&&m| c.store.kinds()[m as usize] == syncodec_cuda::MASK_DENSE).count()).max().unwrap_or(0))
        .max()
        .unwrap_or(0);
    for (i, (case, got)) in cases.iter().zip(&results).enumerate() {
        by_mode[match case.fused.as_ref().map(|f| f.elem) {
            None => 0,
            Some(Elem::F32) => 1,
            Some(_) => 2,
        }] += 1;
        let want = case.expected();
        if *got != want {
            failures.push(format!(
                "case {i} (n_tokens {}, words {}, masks {}, rows {}/{}, shape {:?}, schedule {}, fused {:?}): {}",
                case.store.n_tokens(),
                case.store.words(),
                case.store.n_masks(),
                case.rows,
                case.packed.rows(),
                case.shape,
                case.schedule,
                case.fused.as_ref().map(|f| (f.elem, f.layout, f.indices.clone(), f.offset)),
                first_difference(got, &want, case.store.words())
            ));
        }
    }
    println!(
        "{summary}; build-only {}, fused f32 {}, fused f16/bf16 {}; up to {max_ids} mask ids ({dense_max} dense) per row; {} failures",
        by_mode[0],
        by_mode[1],
        by_mode[2],
        failures.len()
    );
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n"));
}
