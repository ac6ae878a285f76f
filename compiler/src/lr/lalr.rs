//! LALR(1) lookaheads on the LR(0) automaton (DeRemer, "Practical translators for LR(k)
//! languages", 1969; lookaheads computed by propagation as in Aho, Sethi, Ullman, *Compilers*,
//! 1986, §4.7, "Efficient construction of LALR parsing tables").
//!
//! One state per core. Each kernel item's lookahead set is the least fixpoint of: the initial
//! kernel item `S' -> • start` has {end}; along every transition, each target kernel item gets
//! the lookahead set its [`super::cores::LaSource`] computes in the source core. The fixpoint is
//! reached with a worklist of cores whose kernel lookaheads grew. The result is the same as
//! merging the canonical LR(1) states with equal cores, without building them.

use super::canonical::Automaton;
use super::cores::{resolve, Lr0};
use super::items::{or_into, set_bit, Grammar};
use std::collections::VecDeque;

pub(crate) fn build(g: &Grammar, lr0: &Lr0) -> Automaton {
    let words = g.words;
    let n = lr0.cores.len();
    let mut la_offset = Vec::with_capacity(n);
    let mut total = 0;
    for core in &lr0.cores {
        la_offset.push(total);
        total += core.kernel.len() * words;
    }
    let mut lookahead = vec![0u64; total];
    set_bit(&mut lookahead[..words], g.end_column());

    // Every core is visited once (spontaneous lookaheads do not depend on the kernel), then
    // again whenever its kernel lookaheads grow.
    let mut queue: VecDeque<u32> = (0..n as u32).collect();
    let mut queued = vec![true; n];
    let mut kernel_la: Vec<u64> = Vec::new();
    let mut derived: Vec<u64> = Vec::new();
    while let Some(c) = queue.pop_front() {
        let c = c as usize;
        queued[c] = false;
        let core = &lr0.cores[c];
        kernel_la.clear();
        kernel_la.extend_from_slice(&lookahead[la_offset[c]..la_offset[c] + core.kernel.len() * words]);
        core.derive(words, &kernel_la, &mut derived);
        for transition in &core.transitions {
            let t = transition.target as usize;
            let mut changed = false;
            for (j, &source) in transition.sources.iter().enumerate() {
                let start = la_offset[t] + j * words;
                changed |= or_into(&mut lookahead[start..start + words], resolve(source, words, &kernel_la, &derived));
            }
            if changed && !queued[t] {
                queued[t] = true;
                queue.push_back(t as u32);
            }
        }
    }

    let mut succ_offset = Vec::with_capacity(n);
    let mut successor = Vec::new();
    for core in &lr0.cores {
        succ_offset.push(successor.len() as u32);
        successor.extend(core.transitions.iter().map(|t| t.target));
    }
    Automaton { words, core: (0..n as u32).collect(), la_offset, lookahead, succ_offset, successor, parent: lr0.parent.clone() }
}
