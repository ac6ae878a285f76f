//! The exact oracle: at sampled positions of teacher-forced files, the mask (`fill_bitmask`) is
//! compared with the exact set, every token id below `n_tokens` for which
//! `Session::is_token_valid` holds (checked in parallel over the ids on the current rayon pool).
//!
//! Positions (before each token, and the end of each file) are pooled and `K` distinct ones are
//! drawn deterministically from a seed (all of them when there are fewer than `K`). The report's
//! lines and summary are the contract of `syncodec audit` (see the CLI's `audit` command):
//! `FALSE-REJECT path:line:col token=ID "text"` per token the oracle allows and the mask does
//! not, `STOP ...` when teacher forcing cannot go on, and the `audited K positions: R
//! false-rejected, A false-allowed (P% of vocab on average)` line.

use std::sync::Arc;

use rayon::prelude::*;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{MaskCache, Session, SupersetCauses};


use crate::forcing::{self, escape, Forced};

/// The result of [`audit`].
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// Positions audited.
    pub positions: usize,
    pub false_rejected: usize,
    pub false_allowed: usize,
    /// Sums over positions of the percentage of the vocabulary that is false-allowed, allowed by
    /// the mask, allowed exactly.
    pub false_allowed_percent_sum: f64,
    pub mask_percent_sum: f64,
    pub exact_percent_sum: f64,
    /// What SynCode's length-2 superset would have allowed in vain, by cause, summed over
    /// positions.
    pub superset: SupersetCauses,
    /// `FALSE-REJECT` and `STOP` lines.
    pub lines: Vec<String>,
}

impl AuditReport {
    fn average(&self, sum: f64) -> f64 {
        if self.positions == 0 {
            0.0
        } else {
            sum / self.positions as f64
        }
    }

    /// Average false-allowed share of the vocabulary, in percent.
    pub fn false_allowed_percent(&self) -> f64 {
        self.average(self.false_allowed_percent_sum)
    }

    pub fn mask_percent(&self) -> f64 {
        self.average(self.mask_percent_sum)
    }

    pub fn exact_percent(&self) -> f64 {
        self.average(self.exact_percent_sum)
    }

    /// The superset's false allowances by cause, per position on average.
    pub fn superset_line(&self) -> String {
        let c = &self.superset;
        let per = |n: usize| self.average(n as f64);
        format!(
            "length-2 superset would also allow, per position: {:.1} tokens crossing 2+ lexeme boundaries, {:.1} by indentation, {:.1} lexed otherwise than split (maximal munch, keywords), {:.1} unlexable",
            per(c.multi_boundary),
            per(c.indentation),
            per(c.lexer_split),
            per(c.unlexable)
        )
    }

    /// The contract's last line.
    pub fn summary_line(&self) -> String {
        format!(
            "audited {} positions: {} false-rejected, {} false-allowed ({:.2}% of vocab on average)",
            self.positions,
            self.false_rejected,
            self.false_allowed,
            self.false_allowed_percent()
        )
    }
}

/// SplitMix64: a small deterministic generator, so that `--seed` reproduces a run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=n`.
    fn up_to(&mut self, n: u64) -> u64 {
        match n.checked_add(1) {
            Some(m) => self.next() % m,
            None => self.next(),
        }
    }
}

/// `k` distinct numbers in `0..n`, sorted (Floyd's algorithm); all of them when `k >= n`.
fn sample(n: usize, k: usize, seed: u64) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    let mut rng = SplitMix(seed);
    let mut chosen = std::collections::BTreeSet::new();
    for j in n - k..n {
        let t = rng.up_to(j as u64) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

/// Audits `samples` positions drawn (with `seed`) from the teacher-forced positions of `files`.
/// The exact check runs on the current rayon pool.
pub fn audit(artifact: &Artifact, files: &[Forced], samples: usize, seed: u64) -> AuditReport {
    let sizes: Vec<usize> = files.iter().map(|f| f.ids.len() + 1).collect();
    let total: usize = sizes.iter().sum();
    let mut picked = sample(total, samples, seed).into_iter().peekable();
    let mut report = AuditReport::default();
    let cache = Arc::new(MaskCache::default());
    let mut base = 0;
    for (file, size) in files.iter().zip(&sizes) {
        let mut positions = Vec::new();
        while let Some(&p) = picked.peek() {
            if p >= base + size {
                break;
            }
            positions.push(p - base);
            picked.next();
        }
        base += size;
        if !positions.is_empty() {
            audit_file(artifact, &cache, file, &positions, &mut report);
        }
    }
    report
}

/// Audits the given positions (sorted) of one file.
fn audit_file(artifact: &Artifact, cache: &Arc<MaskCache>, file: &Forced, positions: &[usize], report: &mut AuditReport) {
    let mut session = match forcing::start_session(artifact, cache) {
        Ok(s) => s,
        Err(e) => {
            report.lines.push(format!("STOP {}: {e}", file.location(0)));
            return;
        }
    };
    let mut row = vec![0u32; session.bitmask_words()];
    let mut next = positions.iter().peekable();
    for i in 0..=file.ids.len() {
        if next.peek().is_some_and(|&&p| p == i) {
            next.next();
            audit_position(&mut session, file, i, &mut row, report);
        }
        if next.peek().is_none() {
            return;
        }
        let Some(&id) = file.ids.get(i) else { return };
        if let Err(e) = session.accept_token(id) {
            let text = file.token_text(i);
            report.lines.push(format!("STOP {} token={id} \"{text}\": the session refused the token: {e}; {} positions of this file not audited", file.location(file.starts[i]), next.len()));
            return;
        }
    }
}

/// Compares the mask with the exact set at position `i` of `file` (the session is there).
fn audit_position(session: &mut Session<'_>, file: &Forced, i: usize, row: &mut [u32], report: &mut AuditReport) {
    let at = file.location(file.starts[i]);
    if let Err(e) = session.fill_bitmask(row) {
        // The row is zeroed (fail closed): the comparison below reports what that rejects.
        report.lines.push(format!("STOP {at}: the mask could not be computed: {e}"));
    }
    let exact = exact_row(session, row.len());
    if let Ok(causes) = session.superset_causes() {
        report.superset.add(&causes);
    }
    let vocab = session.vocab();
    let n = vocab.n_tokens();
    let first = i == 0;
    let (mut allowed, mut exact_n, mut false_allowed) = (0usize, 0usize, 0usize);
    for (w, (&m, &x)) in row.iter().zip(&exact).enumerate() {
        allowed += m.count_ones() as usize;
        exact_n += x.count_ones() as usize;
        false_allowed += (m & !x).count_ones() as usize;
        let mut rejected = x & !m;
        while rejected != 0 {
            let b = rejected.trailing_zeros();
            rejected &= rejected - 1;
            let id = (w * 32) as u32 + b;
            report.false_rejected += 1;
            let text = if vocab.is_eos(id) {
                "<eos>".to_string()
            } else {
                escape((if first { vocab.first_bytes(id) } else { vocab.bytes(id) }).unwrap_or(&[]))
            };
            report.lines.push(format!("FALSE-REJECT {at} token={id} \"{text}\""));
        }
    }
    let scale = 100.0 / n.max(1) as f64;
    report.positions += 1;
    report.false_allowed += false_allowed;
    report.false_allowed_percent_sum += false_allowed as f64 * scale;
    report.mask_percent_sum += allowed as f64 * scale;
    report.exact_percent_sum += exact_n as f64 * scale;
}

/// The exact next-token set as a bitmask row: `is_token_valid` for every id below `n_tokens`,
/// in parallel over words of the row.
fn exact_row(session: &Session<'_>, words: usize) -> Vec<u32> {
    let n = session.vocab().n_tokens();
    (0..words)
        .into_par_iter()
        .map(|w| {
            let mut bits = 0u32;
            for b in 0..32u32 {
                let id = w * 32 + b as usize;
                if id < n && session.is_token_valid(id as u32) {
                    bits |= 1 << b;
                }
            }
            bits
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_distinct_sorted_and_deterministic() {
        let a = sample(1000, 50, 7);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert!(a.iter().all(|&x| x < 1000));
        assert_eq!(a, sample(1000, 50, 7));
        assert_ne!(a, sample(1000, 50, 8));
        assert_eq!(sample(5, 10, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample(0, 3, 1), Vec::<usize>::new());
    }
}
