//! GPU kernel against the CPU reference (`syncodec_runtime::apply`).
//!
//! Every test first builds a [`GpuMasker`] on device 0; where that fails (no
//! driver, no device, no NVRTC) it prints `skipping: <reason>` and returns,
//! so `cargo test` passes on machines without CUDA.
//!
//! Checks, each for f32, f16 and bf16, every element compared bit for bit:
//! - the sweep B ∈ {1, 3, 64, 4096} × V ∈ {32000, 32011, 128256, 151936},
//!   contiguous, random logits, random masks mixing all-zero, all-one and
//!   random words;
//! - padded vocabulary (logits wider than the mask), row stride larger than
//!   the width, an unaligned base pointer, row indices with duplicates,
//!   device-side out-of-range indices (skipped), more rows than grid.y;
//! - launch on a caller-provided stream; shape errors launch nothing.
//!
//! Every device buffer carries guard elements after its end, checked to be
//! intact (no out-of-bounds writes), and every download goes into a host
//! buffer poisoned beforehand. Run in release mode: the big sweep moves
//! about 17 GB through host memory.
//!
//! `cargo test --release -p syncodec-cuda --test gpu_correctness -- --nocapture`

use std::fmt::Debug;
use std::sync::Arc;

use syncodec_cuda::cudarc::driver::{CudaSlice, CudaStream, CudaView, DeviceRepr, ValidAsZeroBits};
use syncodec_cuda::runtime::apply::{self, ApplyError, BatchLayout, Dtype, Dtype16};
use syncodec_cuda::{GpuError, GpuMasker};

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

/// A logits element type: f32, or u16 holding f16 / bf16 bits.
trait Elem: DeviceRepr + ValidAsZeroBits + Copy + PartialEq + Debug + Send + Sync + 'static {
    fn from_bits(b: u32) -> Self;
    fn bits(self) -> u32;
    fn cpu(
        l: &mut [Self],
        d: Dtype,
        lay: BatchLayout,
        m: &[u32],
        ix: Option<&[i32]>,
    ) -> Result<(), ApplyError>;
    fn gpu(
        g: &GpuMasker,
        l: &mut CudaSlice<Self>,
        offset: usize,
        d: Dtype,
        lay: BatchLayout,
        m: &CudaSlice<u32>,
        ix: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError>;
}

impl Elem for f32 {
    fn from_bits(b: u32) -> Self {
        f32::from_bits(b)
    }
    fn bits(self) -> u32 {
        self.to_bits()
    }
    fn cpu(
        l: &mut [Self],
        _: Dtype,
        lay: BatchLayout,
        m: &[u32],
        ix: Option<&[i32]>,
    ) -> Result<(), ApplyError> {
        apply::apply_bitmask_batch_f32(l, lay, m, ix)
    }
    fn gpu(
        g: &GpuMasker,
        l: &mut CudaSlice<Self>,
        offset: usize,
        _: Dtype,
        lay: BatchLayout,
        m: &CudaSlice<u32>,
        ix: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError> {
        let mut v = l.slice_mut(offset..);
        g.apply_f32(&mut v, lay, m, ix)
    }
}

impl Elem for u16 {
    fn from_bits(b: u32) -> Self {
        b as u16
    }
    fn bits(self) -> u32 {
        u32::from(self)
    }
    fn cpu(
        l: &mut [Self],
        d: Dtype,
        lay: BatchLayout,
        m: &[u32],
        ix: Option<&[i32]>,
    ) -> Result<(), ApplyError> {
        apply::apply_bitmask_batch_u16(l, d16(d), lay, m, ix)
    }
    fn gpu(
        g: &GpuMasker,
        l: &mut CudaSlice<Self>,
        offset: usize,
        d: Dtype,
        lay: BatchLayout,
        m: &CudaSlice<u32>,
        ix: Option<CudaView<'_, i32>>,
    ) -> Result<(), GpuError> {
        let mut v = l.slice_mut(offset..);
        g.apply_u16(&mut v, d16(d), lay, m, ix)
    }
}

fn d16(d: Dtype) -> Dtype16 {
    match d {
        Dtype::Bf16 => Dtype16::Bf16,
        _ => Dtype16::F16,
    }
}

/// splitmix64: a seedable stream per chunk, so generation parallelizes.
fn splitmix(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .min(32)
}

/// Random element bit patterns (NaNs and infinities included: allowed logits
/// must come back bit for bit).
fn random_elems<E: Elem>(n: usize, seed: u64) -> Vec<E> {
    let mut v = vec![E::from_bits(0); n];
    let chunk = n.div_ceil(threads()).max(1 << 16);
    std::thread::scope(|s| {
        for (i, c) in v.chunks_mut(chunk).enumerate() {
            s.spawn(move || {
                let mut r = splitmix(seed ^ (i as u64) << 32);
                for x in c {
                    *x = E::from_bits(r() as u32);
                }
            });
        }
    });
    v
}

/// Mask words: a third all-zero, a third all-one, a third random, in runs so
/// that whole warps take each path.
fn random_mask(words: usize, seed: u64) -> Vec<u32> {
    let mut r = splitmix(seed);
    let mut v = Vec::with_capacity(words);
    while v.len() < words {
        let kind = r() % 3;
        let run = 1 + (r() % 40) as usize;
        for _ in 0..run.min(words - v.len()) {
            v.push(match kind {
                0 => 0,
                1 => u32::MAX,
                _ => r() as u32,
            });
        }
    }
    v
}

/// CPU reference, parallel over row blocks when there are no indices.
fn cpu_reference<E: Elem>(l: &mut [E], d: Dtype, lay: BatchLayout, m: &[u32], ix: Option<&[i32]>) {
    if ix.is_some() || lay.rows < 64 {
        E::cpu(l, d, lay, m, ix).unwrap();
        return;
    }
    let rows_per = lay.rows.div_ceil(threads());
    std::thread::scope(|s| {
        let mut rest = &mut l[..];
        let mut r0 = 0;
        while r0 < lay.rows {
            let n = rows_per.min(lay.rows - r0);
            let take = if r0 + n == lay.rows {
                rest.len()
            } else {
                n * lay.row_stride
            };
            let (head, tail) = rest.split_at_mut(take);
            rest = tail;
            let sub = BatchLayout { rows: n, ..lay };
            let ms = &m[r0 * lay.mask_words..(r0 + n) * lay.mask_words];
            s.spawn(move || E::cpu(head, d, sub, ms, None).unwrap());
            r0 += n;
        }
    });
}

/// Uploads `host` behind `offset` elements and in front of GUARD poisoned
/// elements, applies on the GPU, downloads into a poisoned buffer and
/// compares with the CPU reference element by element.
#[allow(clippy::too_many_arguments)]
fn check<E: Elem>(
    g: &GpuMasker,
    what: &str,
    d: Dtype,
    lay: BatchLayout,
    host: &[E],
    offset: usize,
    (mask, dev_ix): (&[u32], Option<&[i32]>),
    (cpu_mask, cpu_ix): (&[u32], Option<&[i32]>),
) {
    let s = g.stream();
    let poison = E::from_bits(POISON);
    let mut staged = vec![poison; offset + host.len() + GUARD];
    staged[offset..offset + host.len()].copy_from_slice(host);
    let mut dev = s.clone_htod(&staged).unwrap();
    let dmask = s
        .clone_htod(if mask.is_empty() { &[0][..] } else { mask })
        .unwrap();
    let dix = dev_ix.map(|ix| s.clone_htod(ix).unwrap());
    E::gpu(
        g,
        &mut dev,
        offset,
        d,
        lay,
        &dmask,
        dix.as_ref().map(|x| x.as_view()),
    )
    .unwrap();
    let mut back = vec![E::from_bits(!POISON); staged.len()];
    s.memcpy_dtoh(&dev, &mut back).unwrap();
    s.synchronize().unwrap();

    let mut want = host.to_vec();
    cpu_reference(&mut want, d, lay, cpu_mask, cpu_ix);

    for (i, x) in back[..offset]
        .iter()
        .chain(&back[offset + host.len()..])
        .enumerate()
    {
        assert_eq!(
            x.bits(),
            poison.bits(),
            "{what}: guard element {i} overwritten"
        );
    }
    let got = &back[offset..offset + host.len()];
    let chunk = got.len().div_ceil(threads()).max(1 << 16);
    // Per chunk: (mismatch count, first mismatching position).
    let bad: Vec<(usize, usize)> = std::thread::scope(|sc| {
        let hs: Vec<_> = got
            .chunks(chunk)
            .zip(want.chunks(chunk))
            .enumerate()
            .map(|(ci, (a, b))| {
                sc.spawn(move || {
                    let n = a
                        .iter()
                        .zip(b)
                        .filter(|(x, y)| x.bits() != y.bits())
                        .count();
                    let first = a.iter().zip(b).position(|(x, y)| x.bits() != y.bits());
                    first.map(|p| (n, ci * chunk + p))
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().unwrap()).collect()
    });
    if let Some(&(_, pos)) = bad.first() {
        let total: usize = bad.iter().map(|b| b.0).sum();
        let gpu_bits = got[pos].bits();
        let (row, col) = (pos / lay.row_stride.max(1), pos % lay.row_stride.max(1));
        panic!(
            "{what}: {total} mismatching elements; first at element {pos} (row {row}, col {col}): \
             gpu {gpu_bits:#x}, cpu {:#x}",
            want[pos].bits()
        );
    }
}

fn sweep<E: Elem>(g: &GpuMasker, d: Dtype) {
    for &b in &[1usize, 3, 64, 4096] {
        for &v in &[32000usize, 32011, 128256, 151936] {
            let lay = BatchLayout::contiguous(b, v);
            let seed = (b as u64) << 40 ^ (v as u64) << 8 ^ d.size() as u64;
            let host = random_elems::<E>(lay.logits_len().unwrap(), seed);
            let mask = random_mask(b * lay.mask_words, seed ^ 0x55);
            check(
                g,
                &format!("{d} B={b} V={v}"),
                d,
                lay,
                &host,
                0,
                (&mask, None),
                (&mask, None),
            );
        }
        println!("{d}: B={b} ok");
    }
}

#[test]
fn sweep_f32() {
    let Some(g) = masker() else { return };
    sweep::<f32>(&g, Dtype::F32);
}

#[test]
fn sweep_f16() {
    let Some(g) = masker() else { return };
    sweep::<u16>(&g, Dtype::F16);
}

#[test]
fn sweep_bf16() {
    let Some(g) = masker() else { return };
    sweep::<u16>(&g, Dtype::Bf16);
}

fn layouts<E: Elem>(g: &GpuMasker, d: Dtype) {
    // Padded vocabulary: 32064 logits per row, mask for 32000 tokens, stride
    // 32100 (not a multiple of 16 bytes for f16: vectors off), base offset 1
    // (unaligned), indices with duplicates over 40 of 64 rows.
    for (stride, offset) in [(32064usize, 0usize), (32100, 0), (32064, 1), (32100, 3)] {
        let lay = BatchLayout {
            rows: 64,
            width: 32064,
            row_stride: stride,
            mask_words: 1000,
        };
        let host = random_elems::<E>(lay.logits_len().unwrap(), stride as u64 + offset as u64);
        let mut r = splitmix(7);
        let ix: Vec<i32> = (0..40).map(|_| (r() % 64) as i32).collect();
        let mask = random_mask(40 * 1000, 9);
        let what = format!("{d} padded vocab, stride {stride}, offset {offset}, indices");
        check(
            g,
            &what,
            d,
            lay,
            &host,
            offset,
            (&mask, Some(&ix)),
            (&mask, Some(&ix)),
        );
        let mask = random_mask(64 * 1000, 10);
        let what = format!("{d} padded vocab, stride {stride}, offset {offset}, no indices");
        check(
            g,
            &what,
            d,
            lay,
            &host,
            offset,
            (&mask, None),
            (&mask, None),
        );
    }
    // Mask longer than the row (surplus bits ignored) and shorter (tail -inf).
    for words in [0usize, 1, 7, 40] {
        let lay = BatchLayout {
            rows: 5,
            width: 1000,
            row_stride: 1000,
            mask_words: words,
        };
        let host = random_elems::<E>(lay.logits_len().unwrap(), 11 + words as u64);
        let mask = random_mask(5 * words, 12);
        check(
            g,
            &format!("{d} mask_words {words}"),
            d,
            lay,
            &host,
            0,
            (&mask, None),
            (&mask, None),
        );
    }
    // Device-side out-of-range indices are skipped.
    let lay = BatchLayout::contiguous(8, 4000);
    let host = random_elems::<E>(lay.logits_len().unwrap(), 13);
    let mask = random_mask(5 * lay.mask_words, 14);
    let dev_ix = [3, -1, 8, 1 << 30, 0];
    let mut cpu_mask = mask[..lay.mask_words].to_vec();
    cpu_mask.extend_from_slice(&mask[4 * lay.mask_words..]);
    // CPU: only the valid entries (mask rows 0 and 4).
    let what = format!("{d} out-of-range device indices");
    check(
        g,
        &what,
        d,
        lay,
        &host,
        0,
        (&mask, Some(&dev_ix)),
        (&cpu_mask, Some(&[3, 0])),
    );
    // More mask rows than grid.y can hold.
    let lay = BatchLayout::contiguous(70_000, 40);
    let host = random_elems::<E>(lay.logits_len().unwrap(), 15);
    let mask = random_mask(70_000 * lay.mask_words, 16);
    check(
        g,
        &format!("{d} 70000 rows"),
        d,
        lay,
        &host,
        0,
        (&mask, None),
        (&mask, None),
    );
}

#[test]
fn layouts_f32() {
    let Some(g) = masker() else { return };
    layouts::<f32>(&g, Dtype::F32);
}

#[test]
fn layouts_f16() {
    let Some(g) = masker() else { return };
    layouts::<u16>(&g, Dtype::F16);
}

#[test]
fn layouts_bf16() {
    let Some(g) = masker() else { return };
    layouts::<u16>(&g, Dtype::Bf16);
}

#[test]
fn caller_stream_and_host_mask() {
    let Some(g) = masker() else { return };
    let s2: Arc<CudaStream> = g.context().new_stream().unwrap();
    let g2 = g.on_stream(s2.clone()).unwrap();
    let lay = BatchLayout::contiguous(3, 32011);
    let host = random_elems::<f32>(lay.logits_len().unwrap(), 21);
    let mask = random_mask(2 * lay.mask_words, 22);
    let ix = [2, 0];
    let mut dev = s2.clone_htod(&host).unwrap();
    g2.apply_host_mask_f32(&mut dev, lay, &mask, Some(&ix))
        .unwrap();
    let got = s2.clone_dtoh(&dev).unwrap();
    s2.synchronize().unwrap();
    let mut want = host.clone();
    apply::apply_bitmask_batch_f32(&mut want, lay, &mask, Some(&ix)).unwrap();
    assert!(got
        .iter()
        .zip(&want)
        .all(|(a, b)| a.to_bits() == b.to_bits()));

    // Host-side validation: an out-of-range index and a short mask are errors.
    let e = g2
        .apply_host_mask_f32(&mut dev, lay, &mask, Some(&[3]))
        .unwrap_err();
    assert!(
        matches!(e, GpuError::Shape(ApplyError::IndexOutOfRange { .. })),
        "{e}"
    );
    let short = s2.clone_htod(&mask[..10]).unwrap();
    let e = g2.apply_f32(&mut dev, lay, &short, None).unwrap_err();
    assert!(
        matches!(
            e,
            GpuError::Shape(ApplyError::BufferTooShort {
                what: "bitmask",
                ..
            })
        ),
        "{e}"
    );
}
