//! Shared by the build kernel's tests: a seedable RNG, random mask stores and
//! descriptions, the reference for the fused kernel, and the driver of the
//! host emulation of `kernels/build_bitmask.cu`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use syncodec_cuda::runtime::apply::{self, BatchLayout, Dtype16};
use syncodec_cuda::{build_bitmask_cpu, HostMaskStore, MaskDescription, PackedDescriptions, MASK_DENSE, MASK_SPARSE};

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }
}

/// A random store: dense masks mixing all-zero, all-one and random words
/// (padding bits past `n_tokens` often set, which must never show), sparse
/// masks of random size, sometimes unsorted with duplicates (normalized by
/// `HostMaskStore`).
pub fn random_store(rng: &mut Rng, n_tokens: u32, width: u32, n_masks: usize) -> HostMaskStore {
    random_store_with(rng, n_tokens, width, n_masks, false)
}

/// [`random_store`]; `thin`: every mask holds only a few tokens, so that the
/// union of hundreds of them is still far from all ones.
pub fn random_store_with(rng: &mut Rng, n_tokens: u32, width: u32, n_masks: usize, thin: bool) -> HostMaskStore {
    let dense_words = n_tokens.div_ceil(32) as usize;
    let (mut kinds, mut offsets, mut data) = (Vec::new(), vec![0u32], Vec::new());
    for _ in 0..n_masks {
        if n_tokens > 0 && rng.chance(1, 2) {
            kinds.push(MASK_SPARSE);
            let n = if thin { rng.below(4) } else { match rng.below(4) {
                0 => 0,
                1 => 1 + rng.below(4),
                2 => rng.below(u64::from(n_tokens).min(300) + 1),
                _ => rng.below(u64::from(n_tokens).min(3000) + 1),
            } };
            let mut ids: Vec<u32> = (0..n).map(|_| rng.below(u64::from(n_tokens)) as u32).collect();
            if rng.chance(3, 4) {
                ids.sort_unstable();
                ids.dedup();
            }
            data.extend(ids);
        } else {
            kinds.push(MASK_DENSE);
            if thin {
                let start = data.len();
                data.resize(start + dense_words, 0);
                for _ in 0..1 + rng.below(3) {
                    if n_tokens > 0 {
                        let t = rng.below(u64::from(n_tokens)) as usize;
                        syncodec_artifacts::bits::row::set(&mut data[start..], t);
                    }
                }
                offsets.push(data.len() as u32);
                continue;
            }
            let style = rng.below(3);
            for _ in 0..dense_words {
                data.push(match (style, rng.below(4)) {
                    (0, _) => rng.u32(),
                    (_, 0) => 0,
                    (_, 1) => u32::MAX,
                    (1, _) => rng.u32() & rng.u32() & rng.u32(),
                    _ => rng.u32(),
                });
            }
        }
        offsets.push(data.len() as u32);
    }
    HostMaskStore::new(n_tokens, width, &kinds, &offsets, &data).expect("random store is valid")
}

/// Random descriptions: 0..5 mask ids (duplicates possible), set and clear
/// lists with ids past `n_tokens` and past the width.
pub fn random_descriptions(rng: &mut Rng, store: &HostMaskStore, rows: usize) -> Vec<MaskDescription> {
    random_descriptions_up_to(rng, store, rows, 5)
}

/// [`random_descriptions`] with up to `max_ids` mask ids per row.
pub fn random_descriptions_up_to(rng: &mut Rng, store: &HostMaskStore, rows: usize, max_ids: u64) -> Vec<MaskDescription> {
    let n_masks = store.n_masks() as u64;
    let span = u64::from(store.width()) + 40;
    (0..rows)
        .map(|_| {
            let nm = if n_masks == 0 { 0 } else { rng.below(max_ids + 1) };
            let masks = (0..nm).map(|_| rng.below(n_masks) as u32).collect();
            let nt = if rng.chance(1, 3) { 0 } else { rng.below(7) };
            let tokens = (0..nt).map(|_| rng.below(span) as u32).collect();
            let nc = if rng.chance(1, 3) { 0 } else { rng.below(7) };
            let mut clear: Vec<u32> = (0..nc).map(|_| rng.below(span) as u32).collect();
            // Clear something that is surely set sometimes.
            if let (true, Some(&t)) = (rng.chance(1, 2), clear.first()) {
                clear.push(t ^ 1);
            }
            MaskDescription { masks, tokens, clear }
        })
        .collect()
}

/// Bitmask rows of the first `rows` descriptions, by the CPU reference.
pub fn reference_rows(store: &HostMaskStore, packed: &PackedDescriptions, rows: usize) -> Vec<u32> {
    let mut out = vec![0u32; packed.rows() * store.words()];
    build_bitmask_cpu(store, packed, &mut out).expect("valid descriptions");
    out.truncate(rows * store.words());
    out
}

/// Element type of a fused case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    B16(Dtype16),
}

/// The logits side of a fused case. Logits are held as `u32` words (f16 /
/// bf16 in the low 16 bits), `offset` elements into the buffer.
#[derive(Clone, Debug)]
pub struct FusedPart {
    pub elem: Elem,
    pub layout: BatchLayout,
    pub indices: Option<Vec<i32>>,
    pub offset: usize,
    pub logits: Vec<u32>,
}

impl FusedPart {
    pub fn neg_inf(&self) -> u32 {
        match self.elem {
            Elem::F32 => 0xFF80_0000,
            Elem::B16(d) => u32::from(d.neg_inf()),
        }
    }

    /// Whether the kernel may use 16-byte vectors (as the crate's launcher
    /// decides it, with the buffer start taken as 16-byte aligned).
    pub fn vec_ok(&self) -> bool {
        let esize = if self.elem == Elem::F32 { 4 } else { 2 };
        (self.offset * esize) & 15 == 0 && (self.layout.rows == 1 || (self.layout.row_stride * esize) & 15 == 0)
    }

    /// Expected logits after the fused kernel with bitmask `rows` (one per
    /// description row used): `syncodec_runtime::apply` on the pairs whose
    /// index is in range (the kernel skips the others).
    pub fn expected(&self, rows: &[u32], words: usize) -> Vec<u32> {
        let lay = self.layout;
        let (mask, ix): (Vec<u32>, Option<Vec<i32>>) = match &self.indices {
            None => (rows[..lay.rows * words].to_vec(), None),
            Some(ix) => {
                let keep: Vec<usize> = (0..ix.len()).filter(|&i| ix[i] >= 0 && (ix[i] as usize) < lay.rows).collect();
                (keep.iter().flat_map(|&i| rows[i * words..(i + 1) * words].iter().copied()).collect(), Some(keep.iter().map(|&i| ix[i]).collect()))
            }
        };
        let n = lay.logits_len().unwrap();
        let mut out = self.logits.clone();
        let part = &mut out[self.offset..self.offset + n];
        match self.elem {
            Elem::F32 => {
                let mut f: Vec<f32> = part.iter().map(|&b| f32::from_bits(b)).collect();
                apply::apply_bitmask_batch_f32(&mut f, lay, &mask, ix.as_deref()).unwrap();
                for (o, x) in part.iter_mut().zip(f) {
                    *o = x.to_bits();
                }
            }
            Elem::B16(d) => {
                let mut h: Vec<u16> = part.iter().map(|&b| b as u16).collect();
                apply::apply_bitmask_batch_u16(&mut h, d, lay, &mask, ix.as_deref()).unwrap();
                for (o, x) in part.iter_mut().zip(h) {
                    *o = u32::from(x);
                }
            }
        }
        out
    }
}

/// One emulated launch.
#[derive(Clone, Debug)]
pub struct EmuCase {
    /// 0 forward, 1 reverse, 2 random order of threads between barriers.
    pub schedule: u32,
    pub seed: u32,
    /// (tile_words, grid_x, grid_y).
    pub shape: (u32, u32, u32),
    pub store: HostMaskStore,
    pub packed: PackedDescriptions,
    /// Rows the kernel builds (`<= packed.rows()`).
    pub rows: usize,
    pub write_out: bool,
    pub fused: Option<FusedPart>,
}

/// What the emulated kernel wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuResult {
    pub divergent: bool,
    pub out: Option<Vec<u32>>,
    pub logits: Option<Vec<u32>>,
}

impl EmuCase {
    fn encode(&self, w: &mut Vec<u32>) {
        let mode = match self.fused.as_ref().map(|f| f.elem) {
            None => 0,
            Some(Elem::F32) => 1,
            Some(Elem::B16(_)) => 2,
        };
        w.extend([mode, self.schedule, self.seed, self.shape.1, self.shape.2, self.shape.0]);
        let s = &self.store;
        w.extend([s.n_tokens(), s.words() as u32, s.n_masks() as u32, s.data().len() as u32]);
        w.extend(s.kinds().iter().map(|&k| u32::from(k)));
        w.extend_from_slice(s.offsets());
        w.extend_from_slice(s.data());
        let d = self.packed.as_words();
        w.extend([self.packed.rows() as u32, self.rows as u32, d.len() as u32]);
        w.extend_from_slice(d);
        w.push(u32::from(self.write_out));
        if let Some(f) = &self.fused {
            let lay = f.layout;
            w.extend([lay.width as u32, lay.row_stride as u32, lay.rows as u32]);
            match &f.indices {
                Some(ix) => {
                    assert_eq!(ix.len(), self.rows);
                    w.push(1);
                    w.extend(ix.iter().map(|&i| i as u32));
                }
                None => w.push(0),
            }
            w.extend([f.neg_inf(), u32::from(f.vec_ok()), f.offset as u32, f.logits.len() as u32]);
            w.extend_from_slice(&f.logits);
        }
    }

    /// What the kernel must produce: the CPU reference rows and the logits
    /// after `syncodec_runtime::apply`.
    pub fn expected(&self) -> EmuResult {
        let rows = reference_rows(&self.store, &self.packed, self.rows);
        EmuResult {
            divergent: false,
            logits: self.fused.as_ref().map(|f| f.expected(&rows, self.store.words())),
            out: self.write_out.then_some(rows),
        }
    }
}

/// The compiled emulator (`tests/emulate/build_bitmask_emu.cpp` with the two
/// kernel sources), or why there is none.
pub struct Emulator {
    exe: PathBuf,
    dir: PathBuf,
}

impl Emulator {
    /// Compiles the emulator with `$CXX` (default `c++`). `Err` is a skip
    /// reason (no compiler); a compile error panics.
    pub fn build(tag: &str) -> Result<Emulator, String> {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::temp_dir().join(format!("syncodec-cuda-emu-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("build_bitmask_emu");
        let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
        let built = Command::new(&cxx)
            .args(["-std=c++17", "-O2", "-Wall", "-Wno-unknown-pragmas", "-I"])
            .arg(crate_dir.join("kernels"))
            .arg(crate_dir.join("tests/emulate/build_bitmask_emu.cpp"))
            .arg("-o")
            .arg(&exe)
            .output()
            .map_err(|e| format!("no C++ compiler ({cxx}: {e})"))?;
        assert!(built.status.success(), "compiling the kernel as C++ failed:\n{}", String::from_utf8_lossy(&built.stderr));
        Ok(Emulator { exe, dir })
    }

    /// Runs every case; returns the results and the emulator's summary line.
    pub fn run(&self, cases: &[EmuCase]) -> (Vec<EmuResult>, String) {
        let mut w = vec![0x5343_4231u32, cases.len() as u32];
        for c in cases {
            c.encode(&mut w);
        }
        let input = self.dir.join("cases.bin");
        let output = self.dir.join("out.bin");
        std::fs::write(&input, w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        let run = Command::new(&self.exe).arg(&input).arg(&output).output().unwrap();
        assert!(run.status.success(), "emulator failed: {}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        let bytes = std::fs::read(&output).unwrap();
        let words: Vec<u32> = bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        let mut at = 0;
        let mut take = |n: usize| {
            let v = words[at..at + n].to_vec();
            at += n;
            v
        };
        let results = cases
            .iter()
            .map(|c| {
                let divergent = take(1)[0] != 0;
                let out = c.write_out.then(|| take(c.rows * c.store.words()));
                let logits = c.fused.as_ref().map(|f| take(f.logits.len()));
                EmuResult { divergent, out, logits }
            })
            .collect();
        assert_eq!(at, words.len(), "emulator output length");
        (results, String::from_utf8_lossy(&run.stdout).trim().to_string())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// First difference between two results, for failure messages.
pub fn first_difference(got: &EmuResult, want: &EmuResult, words: usize) -> String {
    if got.divergent {
        return "divergent __syncthreads".into();
    }
    if let (Some(g), Some(w)) = (&got.out, &want.out) {
        if let Some(i) = g.iter().zip(w).position(|(a, b)| a != b) {
            return format!("bitmask row {} word {}: got {:#010x}, want {:#010x}", i / words.max(1), i % words.max(1), g[i], w[i]);
        }
    }
    if let (Some(g), Some(w)) = (&got.logits, &want.logits) {
        if let Some(i) = g.iter().zip(w).position(|(a, b)| a != b) {
            return format!("logits element {i}: got {:#x}, want {:#x}", g[i], w[i]);
        }
    }
    "no difference".into()
}

// ---- Real artifacts (grammar + tokenizer -> mask store) ----

use std::sync::Arc;

use syncodec_cuda::runtime::artifact::Artifact;
use syncodec_cuda::runtime::session::{MaskCache, Session, SessionOptions};

/// `../shared/<relative>` next to the workspace. Missing: `None` after
/// printing why, except under `CI=true`, where it is a failure.
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().and_then(Path::parent);
    let found = root.map(|r| r.join("shared").join(relative)).filter(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but ../shared/{relative} is missing: real-data tests must not be skipped in CI");
        }
        println!("skipping: ../shared/{relative} not found");
    }
    found
}

/// `grammars/<grammar>` of the workspace.
pub fn grammar_path(grammar: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("grammars").join(grammar)
}

/// What `syncodec build GRAMMAR --tokenizer TOKENIZER [--vocab-size N]`
/// writes, built in memory through the compiler library.
pub fn build_artifact(grammar: &Path, tokenizer: &Path, vocab_size: Option<usize>) -> Artifact {
    let options = syncodec::vocab::VocabOptions { vocab_size, ..Default::default() };
    let (_, built) = syncodec::build_files(grammar, tokenizer, &syncodec::CompileOptions::default(), &options).unwrap_or_else(|e| panic!("{e}"));
    Artifact::from_bytes(&built.bytes).expect("open the artifact")
}

/// One teacher-forced position: the session's description and its bitmask row.
pub struct Position {
    /// Before the first token (with `sequence_start`, where SentencePiece
    /// tokenizers' first-position ids are listed one by one).
    pub first: bool,
    pub desc: MaskDescription,
    pub row: Vec<u32>,
}

/// Feeds `text`'s tokens to a session at the start of a sequence and
/// records, before every token and after the last, `describe_mask()` and
/// `fill_bitmask()`. `None` when the tokens do not make up the text or a
/// token is rejected (printed).
pub fn teacher_force(artifact: &Artifact, tokenizer: &syncodec::vocab::Tokenizer, name: &str, text: &str) -> Option<Vec<Position>> {
    let ids = tokenizer.encode(text, false).expect("encode").get_ids().to_vec();
    let options = SessionOptions { sequence_start: true, ..Default::default() };
    let mut s = Session::with_cache(artifact, options, Arc::new(MaskCache::default())).expect("session");
    let words = s.bitmask_words();
    let mut out = Vec::with_capacity(ids.len() + 1);
    for i in 0..=ids.len() {
        let desc = s.describe_mask().expect("describe_mask");
        let mut row = vec![0u32; words];
        s.fill_bitmask(&mut row).expect("fill_bitmask");
        out.push(Position { first: i == 0, desc, row });
        if let Some(&id) = ids.get(i) {
            if let Err(e) = s.accept_token(id) {
                println!("{name}: token {i} ({id}) rejected: {e}; file skipped");
                return None;
            }
        }
    }
    if s.text() != text.as_bytes() {
        println!("{name}: the tokens do not decode to the text; file skipped");
        return None;
    }
    Some(out)
}

/// A JSON document with nesting, escapes, unicode, numbers and whitespace.
pub fn sample_json() -> String {
    let mut s = String::from("{\n  \"name\": \"syncodec \\\"build kernel\\\" \\u00e9t\u{e9} \\n\",\n  \"values\": [");
    for i in 0..40 {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&match i % 5 {
            0 => format!("{i}"),
            1 => format!("-{i}.{i}e+{}", i % 7),
            2 => format!("{{\"k{i}\": [true, false, null], \"s\": \"\\t{i}\"}}"),
            3 => "[]".into(),
            _ => format!("\"caf\u{e9} {i} \u{1F600}\""),
        });
    }
    s.push_str("],\n  \"nested\": {\"a\": {\"b\": {\"c\": [1, [2, [3, {}]]]}}},\n  \"empty\": \"\",\n  \"n\": 0.5E-3\n}\n");
    s
}

/// Teacher-forcing texts: [`sample_json`] and a few JSONTestSuite `y_`
/// files when `../shared/corpora/json-testsuite` is there.
pub fn json_texts() -> Vec<(String, String)> {
    let mut texts = vec![("sample.json".to_string(), sample_json())];
    if let Some(dir) = shared_data("corpora/json-testsuite/test_parsing") {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("y_")))
            .collect();
        files.sort();
        for p in files {
            if let Ok(t) = std::fs::read_to_string(&p) {
                texts.push((p.file_name().unwrap().to_string_lossy().into_owned(), t));
            }
        }
    }
    texts
}
