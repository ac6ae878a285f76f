//! DFA minimization by Hopcroft's partition refinement (J. Hopcroft, "An n log n algorithm for
//! minimizing states in a finite automaton", 1971), over byte equivalence classes, followed by a
//! deterministic renumbering.
//!
//! The initial partition groups states by *label* (for a terminal: accepting or not; for the
//! lexer: the winning terminal), so the result is the minimal DFA that preserves the labelling.
//! Refinement keeps a worklist of splitter blocks; for each splitter `A` and class `c` the states
//! with a `c`-transition into `A` split every block they partly cover, and of the two halves of
//! a block not on the worklist only the smaller is added (the "smaller half" rule that gives
//! O(n k log n)). Blocks are kept in one permuted array with marks, as in the usual
//! implementations of partition refinement.
//!
//! **Invariants of [`minimize`]'s result:** [`DfaState::DEAD`] (state 0) is the dead state (every
//! non-live block maps to it; it exists even when unreachable); the other states are numbered in BFS order from the
//! start over bytes `0..=255`; byte classes are the coarsest partition of bytes with identical
//! columns, numbered by their smallest byte. So two equivalent inputs give identical tables.

use std::collections::HashMap;

use syncodec_artifacts::ids::IdVec;

use super::{Dfa, DfaState};

/// A complete DFA over byte classes with states of kind `S`, one label per state (0 = not
/// accepting). Not minimized: its builders (`dfa.rs`, `lookaround.rs`, `lexer.rs`) keep the dead
/// state at [`DfaState::DEAD`], but [`minimize`] does not rely on it.
#[derive(Debug, Clone)]
pub(crate) struct Automaton<S> {
    pub start: S,
    pub n_classes: usize,
    pub classes: [u8; 256],
    /// `trans[s * n_classes + c]`.
    pub trans: Vec<S>,
    pub labels: Vec<u32>,
}

impl<S: DfaState> Automaton<S> {
    pub fn n_states(&self) -> usize {
        self.labels.len()
    }

    /// The state reached from `state` on `byte`.
    #[inline]
    pub fn next(&self, state: S, byte: u8) -> S {
        self.trans[state.as_usize() * self.n_classes + self.classes[byte as usize] as usize]
    }

    /// Whether `state` is labelled (accepting).
    #[inline]
    pub fn accepting(&self, state: S) -> bool {
        self.labels[state.as_usize()] != 0
    }
}

/// The minimal DFA equivalent to `a` (preserving labels), and the label of each new state.
pub(crate) fn minimize<S: DfaState>(a: &Automaton<S>) -> (Dfa<S>, Vec<u32>) {
    let blocks = hopcroft(a);
    quotient(a, &blocks)
}

/// Block id per state of the coarsest label-respecting congruence. Blocks, and the state lists of
/// the refinement, are raw positions (`u32`), not states.
pub(crate) fn hopcroft<S: DfaState>(a: &Automaton<S>) -> Vec<u32> {
    let n = a.n_states();
    let k = a.n_classes;
    // Inverse transitions in CSR form: `inv[inv_start[t * k + c]..inv_start[t * k + c + 1]]`
    // are the states with a `c`-transition to `t`.
    let mut inv_start = vec![0u32; n * k + 1];
    for s in 0..n {
        for c in 0..k {
            inv_start[a.trans[s * k + c].as_usize() * k + c + 1] += 1;
        }
    }
    for i in 1..inv_start.len() {
        inv_start[i] += inv_start[i - 1];
    }
    let mut fill = inv_start.clone();
    let mut inv = vec![0u32; n * k];
    for s in 0..n {
        for c in 0..k {
            let slot = &mut fill[a.trans[s * k + c].as_usize() * k + c];
            inv[*slot as usize] = s as u32;
            *slot += 1;
        }
    }

    // Initial partition: one block per label, blocks ordered by label.
    let mut by_label: Vec<(u32, u32)> = a.labels.iter().enumerate().map(|(s, &l)| (l, s as u32)).collect();
    by_label.sort_unstable();
    let mut elems: Vec<u32> = Vec::with_capacity(n);
    let mut pos = vec![0u32; n];
    let mut block = vec![0u32; n];
    let mut first: Vec<u32> = Vec::new();
    let mut end: Vec<u32> = Vec::new();
    for (i, &(label, s)) in by_label.iter().enumerate() {
        if i == 0 || by_label[i - 1].0 != label {
            first.push(i as u32);
            end.push(i as u32);
        }
        let b = first.len() - 1;
        elems.push(s);
        pos[s as usize] = i as u32;
        block[s as usize] = b as u32;
        end[b] += 1;
    }
    let mut marked = vec![0u32; first.len()];
    let mut in_work = vec![true; first.len()];
    let mut work: Vec<u32> = (0..first.len() as u32).rev().collect();
    let mut touched: Vec<u32> = Vec::new();
    let mut splitter: Vec<u32> = Vec::new();

    while let Some(sp) = work.pop() {
        in_work[sp as usize] = false;
        splitter.clear();
        splitter.extend_from_slice(&elems[first[sp as usize] as usize..end[sp as usize] as usize]);
        for c in 0..k {
            // Mark every state with a c-transition into the splitter.
            for &t in &splitter {
                let idx = t as usize * k + c;
                for &s in &inv[inv_start[idx] as usize..inv_start[idx + 1] as usize] {
                    let b = block[s as usize] as usize;
                    let boundary = first[b] + marked[b];
                    if pos[s as usize] < boundary {
                        continue; // already marked
                    }
                    if marked[b] == 0 {
                        touched.push(b as u32);
                    }
                    // Swap s to the end of the marked prefix.
                    let other = elems[boundary as usize];
                    let ps = pos[s as usize];
                    elems.swap(ps as usize, boundary as usize);
                    pos[other as usize] = ps;
                    pos[s as usize] = boundary;
                    marked[b] += 1;
                }
            }
            // Split every partly marked block: the marked prefix becomes a new block.
            for &b in &touched {
                let b = b as usize;
                let m = marked[b];
                marked[b] = 0;
                if m == end[b] - first[b] {
                    continue;
                }
                let nb = first.len();
                first.push(first[b]);
                end.push(first[b] + m);
                marked.push(0);
                first[b] += m;
                for &s in &elems[first[nb] as usize..end[nb] as usize] {
                    block[s as usize] = nb as u32;
                }
                let smaller_is_new = end[nb] - first[nb] <= end[b] - first[b];
                if in_work[b] || smaller_is_new {
                    in_work.push(true);
                    work.push(nb as u32);
                } else {
                    in_work.push(false);
                    in_work[b] = true;
                    work.push(b as u32);
                }
            }
            touched.clear();
        }
    }
    block
}

/// Builds the quotient of `a` by `blocks`, maps non-live blocks to the dead state
/// [`DfaState::DEAD`], renumbers in BFS order and recomputes byte classes.
pub(crate) fn quotient<S: DfaState>(a: &Automaton<S>, blocks: &[u32]) -> (Dfa<S>, Vec<u32>) {
    let k = a.n_classes;
    let n_blocks = blocks.iter().map(|&b| b as usize + 1).max().unwrap_or(0);
    // One representative per block; its row and label stand for the block.
    let mut rep = vec![u32::MAX; n_blocks];
    for (s, &b) in blocks.iter().enumerate() {
        if rep[b as usize] == u32::MAX {
            rep[b as usize] = s as u32;
        }
    }
    let btrans = |b: usize, c: usize| blocks[a.trans[rep[b] as usize * k + c].as_usize()] as usize;
    let blabel = |b: usize| a.labels[rep[b] as usize];

    // Live blocks: reverse reachability from accepting (non-zero label) blocks.
    let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n_blocks];
    for b in 0..n_blocks {
        for c in 0..k {
            preds[btrans(b, c)].push(b as u32);
        }
    }
    let mut live = vec![false; n_blocks];
    let mut stack: Vec<usize> = (0..n_blocks).filter(|&b| blabel(b) != 0).collect();
    for &b in &stack {
        live[b] = true;
    }
    while let Some(b) = stack.pop() {
        for &p in &preds[b] {
            if !live[p as usize] {
                live[p as usize] = true;
                stack.push(p as usize);
            }
        }
    }

    // BFS numbering over bytes in order; non-live blocks are the dead state 0.
    let start_block = blocks[a.start.as_usize()] as usize;
    let mut id = vec![0u32; n_blocks];
    let mut order: Vec<usize> = Vec::new(); // block of new state i + 1
    let mut byte_order: Vec<usize> = Vec::new(); // classes in order of their smallest byte
    let mut seen_class = vec![false; k];
    for b in 0..256 {
        let c = a.classes[b] as usize;
        if !seen_class[c] {
            seen_class[c] = true;
            byte_order.push(c);
        }
    }
    if live[start_block] {
        order.push(start_block);
        id[start_block] = 1;
        let mut head = 0;
        while head < order.len() {
            let b = order[head];
            head += 1;
            for &c in &byte_order {
                let t = btrans(b, c);
                if live[t] && id[t] == 0 {
                    order.push(t);
                    id[t] = order.len() as u32;
                }
            }
        }
    }
    let n = order.len() + 1;
    let mut trans = vec![0u32; n * k];
    let mut labels = vec![0u32; n];
    for (i, &b) in order.iter().enumerate() {
        let s = i + 1;
        labels[s] = blabel(b);
        for c in 0..k {
            let t = btrans(b, c);
            trans[s * k + c] = if live[t] { id[t] } else { 0 };
        }
    }

    // Coarsest byte classes: old classes with identical columns merge, numbered by first byte.
    let mut new_class_of_old = vec![u8::MAX; k];
    let mut columns: HashMap<Vec<u32>, u8> = HashMap::new();
    let mut reps: Vec<usize> = Vec::new(); // an old class per new class
    for &c in &byte_order {
        let column: Vec<u32> = (0..n).map(|s| trans[s * k + c]).collect();
        let next = reps.len();
        let nc = *columns.entry(column).or_insert_with(|| next as u8);
        if nc as usize == next {
            reps.push(c);
        }
        new_class_of_old[c] = nc;
    }
    let n_classes = reps.len();
    let mut classes = [0u8; 256];
    for b in 0..256 {
        classes[b] = new_class_of_old[a.classes[b] as usize];
    }
    let mut new_trans = vec![0u32; n * n_classes];
    for s in 0..n {
        for (nc, &c) in reps.iter().enumerate() {
            new_trans[s * n_classes + nc] = trans[s * k + c];
        }
    }
    let accepting: Vec<bool> = labels.iter().map(|&l| l != 0).collect();
    let mut live = vec![true; n];
    live[0] = false;
    let dfa = Dfa {
        start: if n > 1 { S::from_raw(1) } else { S::DEAD },
        n_classes: n_classes as u32,
        classes,
        trans: new_trans.into_iter().map(S::from_raw).collect(),
        accepting: IdVec::from_vec(accepting),
        live: IdVec::from_vec(live),
    };
    (dfa, labels)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use syncodec_artifacts::ids::DfaStateId;

    /// Moore's algorithm (iterated signature refinement): the slow, obviously-correct reference.
    pub fn moore(a: &Automaton<DfaStateId>) -> Vec<u32> {
        let k = a.n_classes;
        let mut block: Vec<u32> = a.labels.clone();
        loop {
            let mut ids: HashMap<Vec<u32>, u32> = HashMap::new();
            let next: Vec<u32> = (0..a.n_states())
                .map(|s| {
                    let mut sig = vec![block[s]];
                    sig.extend((0..k).map(|c| block[a.trans[s * k + c].as_usize()]));
                    let len = ids.len() as u32;
                    *ids.entry(sig).or_insert(len)
                })
                .collect();
            let before = block.iter().collect::<std::collections::HashSet<_>>().len();
            if ids.len() == before {
                return next;
            }
            block = next;
        }
    }

    fn identity_classes(k: usize) -> [u8; 256] {
        let mut classes = [0u8; 256];
        for (b, c) in classes.iter_mut().enumerate() {
            *c = (b % k) as u8;
        }
        classes
    }

    fn auto(k: usize, start: u32, trans: Vec<u32>, labels: Vec<u32>) -> Automaton<DfaStateId> {
        let trans = trans.into_iter().map(DfaStateId::from_raw).collect();
        Automaton { start: DfaStateId::from_raw(start), n_classes: k, classes: identity_classes(k), trans, labels }
    }

    #[test]
    fn textbook_example_minimizes() {
        // (a|b)*abb over {a, b} (class 0 = a, 1 = b): the subset construction gives 5 states,
        // the minimal DFA has 4 (plus our dead state, unreachable here but always present).
        let trans = vec![1, 2, 1, 3, 1, 2, 1, 4, 1, 2];
        let a = auto(2, 0, trans, vec![0, 0, 0, 0, 1]);
        let (dfa, labels) = minimize(&a);
        assert_eq!(dfa.n_states(), 5);
        assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 1);
        assert!(!dfa.live[DfaStateId::DEAD] && !dfa.accepting[DfaStateId::DEAD]);
        assert!(dfa.trans[..dfa.n_classes as usize].iter().all(|&t| t == DfaStateId::DEAD));
        assert_eq!(dfa.start, DfaStateId::from_raw(1));
        // bytes are classes by `b % 2`: even bytes act as `a`.
        assert!(dfa.matches(&[7, 0, 1, 1]));
        assert!(!dfa.matches(&[0, 1]));
    }

    #[test]
    fn dead_states_collapse_into_zero_and_unreachable_states_vanish() {
        // 0 -a-> 1 (accepting); 1 -> 2 (non-accepting sink), 3 is unreachable and accepting.
        let trans = vec![1, 2, 2, 2, 2, 2, 3, 3];
        let a = auto(2, 0, trans, vec![0, 1, 0, 1]);
        let (dfa, _) = minimize(&a);
        assert_eq!(dfa.n_states(), 3);
        assert_eq!(dfa.live.as_slice(), &[false, true, true]);
        assert_eq!(dfa.accepting.as_slice(), &[false, false, true]);
        assert_eq!(dfa.n_classes, 2);
        // An automaton with an empty language is just the dead state.
        let a = auto(1, 0, vec![0], vec![0]);
        let (dfa, _) = minimize(&a);
        assert_eq!((dfa.n_states(), dfa.start, dfa.n_classes), (1, DfaStateId::DEAD, 1));
    }

    #[test]
    fn byte_classes_merge_identical_columns() {
        // Four input classes, but classes 1..3 behave the same (states 1 and 2 differ by label).
        let trans = vec![1, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2];
        let a = auto(4, 0, trans, vec![0, 1, 2]);
        let (dfa, _) = minimize(&a);
        assert_eq!(dfa.n_classes, 2);
        assert_eq!(dfa.classes[0], 0);
        assert_eq!(dfa.classes[1], 1);
        assert_eq!(dfa.classes[4], 0);
    }

    fn arb_automaton() -> impl Strategy<Value = Automaton<DfaStateId>> {
        (1usize..12, 1usize..4).prop_flat_map(|(n, k)| {
            (proptest::collection::vec(0..n as u32, n * k), proptest::collection::vec(0u32..3, n), 0..n as u32)
                .prop_map(move |(trans, labels, start)| auto(k, start, trans, labels))
        })
    }

    /// Count of reachable, live classes of Moore's partition (+1 for the dead state).
    fn moore_size(a: &Automaton<DfaStateId>) -> usize {
        let (dfa, _) = quotient(a, &moore(a));
        dfa.n_states()
    }

    proptest! {
        #[test]
        fn hopcroft_agrees_with_moore(a in arb_automaton()) {
            let (dfa, labels) = minimize(&a);
            prop_assert_eq!(dfa.n_states(), moore_size(&a));
            // Same language per label: walk both on all strings up to length 4.
            let k = a.n_classes;
            let mut frontier = vec![(a.start, dfa.start)];
            for _ in 0..4 {
                let mut next = Vec::new();
                for &(s, t) in &frontier {
                    // Non-live states of `a` (label 0) map to the dead state (label 0).
                    prop_assert_eq!(labels[t.as_usize()], a.labels[s.as_usize()]);
                    for c in 0..k {
                        next.push((a.trans[s.as_usize() * k + c], dfa.next(t, c as u8)));
                    }
                }
                frontier = next;
            }
            // Minimal output is a fixed point.
            let again = Automaton {
                start: dfa.start,
                n_classes: dfa.n_classes as usize,
                classes: dfa.classes,
                trans: dfa.trans.clone(),
                labels: labels.clone(),
            };
            let (dfa2, labels2) = minimize(&again);
            prop_assert_eq!(&dfa2, &dfa);
            prop_assert_eq!(labels2, labels);
        }
    }
}
