//! The build kernel on the GPU against the CPU reference: `build_bitmask` and the fused
//! `apply_descriptions_*` kernels, every word and every logit compared bit
//! for bit.
//!
//! Every test first builds a [`GpuMasker`] on device 0; where that fails (no
//! driver, no device, no NVRTC) it prints `skipping: <reason>` and returns.
//!
//! - build: B ∈ {1, 3, 64, 4096} × random stores (n_tokens 32000, 32011,
//!   128256; padded widths) and the real `json.ebnf` × llama3 store with
//!   teacher-forced descriptions; host and device descriptions (upload, then
//!   `update` with another batch); 70000 rows (grid.y stride loop);
//! - fused, f32 / f16 / bf16: B ∈ {1, 3, 64, 4096}, contiguous, logits wider
//!   than the mask (padded vocabulary), narrower, row stride > width, an
//!   unaligned base, indices with duplicates and device-side out-of-range
//!   values, with and without the bitmask output;
//! - host-side errors launch nothing: mask id out of range (host and device
//!   descriptions), wrong `mask_words`, short output buffers.
//!
//! Device buffers carry poisoned guard words after their end, checked intact.
//!
//! `cargo test --release -p syncodec-cuda --test gpu_descriptions -- --nocapture`

mod common;

use common::{build_artifact, grammar_path, json_texts, random_descriptions, random_store, reference_rows, teacher_force, Elem, FusedPart, Rng};
use syncodec_cuda::cudarc::driver::CudaSlice;
use syncodec_cuda::runtime::apply::{BatchLayout, Dtype16};
use syncodec_cuda::{
    pack_descriptions, DescriptionError, DeviceDescriptions, DeviceMaskStore, GpuError, GpuMasker, HostMaskStore, MaskDescription, PackedDescriptions,
};

const GUARD: usize = 64;
const POISON: u32 = 0xA5A5_A5A5;

fn masker() -> Option<GpuMasker> {
    match GpuMasker::on_device(0) {
        Ok(m) => Some(m),
        Err(e) => {
            println!("skipping: {e}");
            None
        }
    }
}

/// Builds on the GPU (host or device descriptions) into a poisoned buffer
/// with guard words and compares with the CPU reference.
fn check_build(g: &GpuMasker, what: &str, host: &HostMaskStore, dev: &DeviceMaskStore, packed: &PackedDescriptions, device_desc: Option<&mut DeviceDescriptions>) {
    let s = g.stream();
    let words = host.words();
    let n = packed.rows() * words;
    let mut out: CudaSlice<u32> = s.clone_htod(&vec![POISON; n + GUARD]).unwrap();
    match device_desc {
        Some(d) => {
            d.update(s, packed).unwrap();
            g.build_bitmask(dev, &*d, &mut out).unwrap();
        }
        None => g.build_bitmask(dev, packed, &mut out).unwrap(),
    }
    let mut back = vec![!POISON; n + GUARD];
    s.memcpy_dtoh(&out, &mut back).unwrap();
    s.synchronize().unwrap();
    let want = reference_rows(host, packed, packed.rows());
    assert!(back[n..].iter().all(|&w| w == POISON), "{what}: guard words overwritten");
    if let Some(i) = (0..n).find(|&i| back[i] != want[i]) {
        panic!("{what}: row {} word {}: got {:#010x}, want {:#010x}", i / words, i % words, back[i], want[i]);
    }
}

fn random_case(rng: &mut Rng, n_tokens: u32, width: u32, rows: usize) -> (HostMaskStore, PackedDescriptions) {
    let store = random_store(rng, n_tokens, width, 40);
    let descs = random_descriptions(rng, &store, rows);
    let packed = pack_descriptions(&descs);
    (store, packed)
}

#[test]
fn build_bitmask_matches_cpu_reference() {
    let Some(g) = masker() else { return };
    let mut rng = Rng(1);
    for (n_tokens, width) in [(32000, 32000), (32011, 32064), (128256, 128256)] {
        let store = random_store(&mut rng, n_tokens, width, 60);
        let dev = DeviceMaskStore::upload(g.stream(), &store).unwrap();
        let mut ddesc = DeviceDescriptions::upload(g.stream(), &pack_descriptions(&[])).unwrap();
        for b in [1usize, 3, 64, 4096] {
            let packed = pack_descriptions(&random_descriptions(&mut rng, &store, b));
            check_build(&g, &format!("random V={n_tokens}/{width} B={b} host"), &store, &dev, &packed, None);
            check_build(&g, &format!("random V={n_tokens}/{width} B={b} device"), &store, &dev, &packed, Some(&mut ddesc));
        }
        println!("build, random store n_tokens {n_tokens} width {width}: B = 1, 3, 64, 4096 equal the CPU reference");
    }
    // More rows than grid.y.
    let (store, packed) = random_case(&mut rng, 100, 130, 70000);
    let dev = DeviceMaskStore::upload(g.stream(), &store).unwrap();
    check_build(&g, "70000 rows", &store, &dev, &packed, None);
    println!("build: 70000 rows equal the CPU reference");
}

#[test]
fn build_bitmask_on_a_real_store() {
    let Some(g) = masker() else { return };
    let Some(dir) = common::shared_data("tokenizers") else { return };
    let path = dir.join("llama3.json");
    let artifact = build_artifact(&grammar_path("json.ebnf"), &path, None);
    let tokenizer = syncodec::vocab::load_tokenizer(&path).unwrap();
    let store = HostMaskStore::from_artifact(&artifact).unwrap();
    let dev = DeviceMaskStore::from_artifact(g.stream(), &artifact).unwrap();
    let positions: Vec<common::Position> = json_texts().iter().filter_map(|(n, t)| teacher_force(&artifact, &tokenizer, n, t)).flatten().collect();
    let mut ddesc = DeviceDescriptions::upload(g.stream(), &pack_descriptions(&[])).unwrap();
    for b in [1usize, 3, 64, 4096] {
        let descs: Vec<MaskDescription> = (0..b).map(|i| positions[(i * 7) % positions.len()].desc.clone()).collect();
        let packed = pack_descriptions(&descs);
        check_build(&g, &format!("json/llama3 B={b}"), &store, &dev, &packed, Some(&mut ddesc));
        // And against fill_bitmask directly.
        let rows = reference_rows(&store, &packed, b);
        for i in 0..b {
            assert!(rows[i * store.words()..(i + 1) * store.words()] == positions[(i * 7) % positions.len()].row[..]);
        }
    }
    println!("build, json.ebnf x llama3 store ({} masks): B = 1, 3, 64, 4096 equal fill_bitmask", store.n_masks());
}

/// Runs the fused kernel for `part` and compares logits (and the bitmask
/// output when asked) with the reference.
fn check_fused(g: &GpuMasker, what: &str, host: &HostMaskStore, dev: &DeviceMaskStore, packed: &PackedDescriptions, part: &FusedPart, with_out: bool) {
    let s = g.stream();
    let rows = part.indices.as_ref().map_or(part.layout.rows, Vec::len);
    let words = host.words();
    let mut out: CudaSlice<u32> = s.clone_htod(&vec![POISON; rows * words + GUARD]).unwrap();
    let dix = part.indices.as_ref().map(|ix| s.clone_htod(ix).unwrap());
    let mut staged = part.logits.clone();
    let n = staged.len();
    staged.resize(n + GUARD, POISON);
    let ov = with_out.then(|| out.slice_mut(..));
    let back: Vec<u32> = match part.elem {
        Elem::F32 => {
            let h: Vec<f32> = staged.iter().map(|&b| f32::from_bits(b)).collect();
            let mut d = s.clone_htod(&h).unwrap();
            let mut v = d.slice_mut(part.offset..);
            g.apply_descriptions_f32(&mut v, part.layout, dev, packed, dix.as_ref().map(|x| x.as_view()), ov).unwrap();
            let mut b = vec![0f32; h.len()];
            s.memcpy_dtoh(&d, &mut b).unwrap();
            b.iter().map(|x| x.to_bits()).collect()
        }
        Elem::B16(dt) => {
            let h: Vec<u16> = staged.iter().map(|&b| b as u16).collect();
            let mut d = s.clone_htod(&h).unwrap();
            let mut v = d.slice_mut(part.offset..);
            g.apply_descriptions_u16(&mut v, dt, part.layout, dev, packed, dix.as_ref().map(|x| x.as_view()), ov).unwrap();
            let mut b = vec![0u16; h.len()];
            s.memcpy_dtoh(&d, &mut b).unwrap();
            b.iter().map(|&x| u32::from(x)).collect()
        }
    };
    let mut out_back = vec![!POISON; rows * words + GUARD];
    s.memcpy_dtoh(&out, &mut out_back).unwrap();
    s.synchronize().unwrap();
    let ref_rows = reference_rows(host, packed, rows);
    let want = part.expected(&ref_rows, words);
    let mask16 = if part.elem == Elem::F32 { u32::MAX } else { 0xFFFF };
    assert!(back[n..].iter().all(|&w| w == POISON & mask16), "{what}: logits guard overwritten");
    if let Some(i) = (0..n).find(|&i| back[i] != want[i]) {
        panic!("{what}: logits element {i}: got {:#x}, want {:#x}", back[i], want[i]);
    }
    if with_out {
        assert!(out_back[..rows * words] == ref_rows[..], "{what}: bitmask output differs");
    } else {
        assert!(out_back.iter().all(|&w| w == POISON), "{what}: bitmask written though not asked");
    }
    assert!(out_back[rows * words..].iter().all(|&w| w == POISON), "{what}: bitmask guard overwritten");
}

fn logits(rng: &mut Rng, elem: Elem, n: usize) -> Vec<u32> {
    (0..n).map(|_| if elem == Elem::F32 { rng.u32() } else { rng.u32() & 0xFFFF }).collect()
}

#[test]
fn fused_apply_matches_reference() {
    let Some(g) = masker() else { return };
    let mut rng = Rng(2);
    let store = random_store(&mut rng, 32011, 32064, 60);
    let dev = DeviceMaskStore::upload(g.stream(), &store).unwrap();
    let words = store.words();
    for elem in [Elem::F32, Elem::B16(Dtype16::F16), Elem::B16(Dtype16::Bf16)] {
        for b in [1usize, 3, 64, 4096] {
            let packed = pack_descriptions(&random_descriptions(&mut rng, &store, b));
            let width = store.width() as usize;
            let layouts = [
                ("contiguous", BatchLayout { rows: b, width, row_stride: width, mask_words: words }, 0),
                ("padded vocab", BatchLayout { rows: b, width: width + 77, row_stride: width + 80, mask_words: words }, 0),
                ("narrow, unaligned", BatchLayout { rows: b, width: width - 45, row_stride: width + 3, mask_words: words }, 1),
            ];
            for (name, layout, offset) in layouts {
                let n = layout.logits_len().unwrap();
                let part = FusedPart { elem, layout, indices: None, offset, logits: logits(&mut rng, elem, offset + n) };
                check_fused(&g, &format!("{elem:?} B={b} {name}"), &store, &dev, &packed, &part, b != 64);
            }
            // Indices: duplicates and out-of-range values (skipped by the kernel).
            let n_logit_rows = b.max(2);
            let ix: Vec<i32> = (0..b).map(|i| if i % 17 == 5 { -1 } else if i % 13 == 3 { n_logit_rows as i32 } else { (i / 2) as i32 }).collect();
            let layout = BatchLayout { rows: n_logit_rows, width, row_stride: width, mask_words: words };
            let part = FusedPart { elem, layout, indices: Some(ix), offset: 0, logits: logits(&mut rng, elem, layout.logits_len().unwrap()) };
            check_fused(&g, &format!("{elem:?} B={b} indices"), &store, &dev, &packed, &part, true);
        }
        println!("fused {elem:?}: B = 1, 3, 64, 4096 x layouts equal the CPU reference");
    }
}

#[test]
fn host_side_errors_launch_nothing() {
    let Some(g) = masker() else { return };
    let mut rng = Rng(3);
    let (store, _) = random_case(&mut rng, 1000, 1000, 1);
    let dev = DeviceMaskStore::upload(g.stream(), &store).unwrap();
    let bad = pack_descriptions(&[MaskDescription { masks: vec![store.n_masks() as u32], tokens: vec![], clear: vec![] }]);
    let mut out: CudaSlice<u32> = g.stream().alloc_zeros(store.words()).unwrap();
    assert!(matches!(g.build_bitmask(&dev, &bad, &mut out), Err(GpuError::Description(DescriptionError::MaskId { .. }))));
    let dbad = DeviceDescriptions::upload(g.stream(), &bad).unwrap();
    assert!(matches!(g.build_bitmask(&dev, &dbad, &mut out), Err(GpuError::Description(DescriptionError::MaskId { .. }))));
    let two = pack_descriptions(&[MaskDescription::default(), MaskDescription::default()]);
    assert!(matches!(g.build_bitmask(&dev, &two, &mut out), Err(GpuError::Description(DescriptionError::BufferTooShort { .. }))));
    let mut logits: CudaSlice<f32> = g.stream().alloc_zeros(2000).unwrap();
    let wrong = BatchLayout { rows: 1, width: 1000, row_stride: 1000, mask_words: store.words() + 1 };
    assert!(matches!(
        g.apply_descriptions_f32(&mut logits, wrong, &dev, &two, None, None),
        Err(GpuError::Description(DescriptionError::MaskWords { .. }))
    ));
    let three = BatchLayout { rows: 3, width: 500, row_stride: 500, mask_words: store.words() };
    assert!(g.apply_descriptions_f32(&mut logits, three, &dev, &two, None, None).is_err());
    println!("host-side errors: ok");
}

#[test]
fn loader_on_device() {
    let Some(_g) = masker() else { return };
    let Some(dir) = common::shared_data("tokenizers") else { return };
    let artifact = build_artifact(&grammar_path("json.ebnf"), &dir.join("gpt2.json"), Some(50304));
    let dev = DeviceMaskStore::on_device(0, &artifact).unwrap();
    assert_eq!(dev.width(), 50304);
    assert_eq!(dev.words(), 50304 / 32);
    println!("DeviceMaskStore::on_device: {} masks, {} bytes on the device", dev.n_masks(), dev.device_bytes());
}
