//! Random sentences of a compiled grammar, as text, for differential tests.
//!
//! A sentence is drawn by expanding rules from the start rule (past a depth budget only the
//! productions of least height are chosen, so expansion ends), then each terminal becomes a random
//! lexeme by a random walk over its DFA that only takes live transitions. Lexemes are joined by a
//! separator (a shortest lexeme of the first `%ignore` terminal), so that the text lexes back into
//! the same terminals in the common case; callers re-lex and skip the rare samples that do not.

use syncodec::lexical::TerminalDfa;
use syncodec::lower::{Bnf, Symbol};
use syncodec::Compiled;
use syncodec_artifacts::ids::{RuleId, TerminalId};

/// A small deterministic PRNG (xorshift64*), so failures are reproducible from the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Sentence generator over one compiled grammar.
pub struct Generator<'c> {
    compiled: &'c Compiled,
    /// Least derivation height per rule (`u32::MAX` if unproductive, which lowering forbids).
    height: Vec<u32>,
    separator: Vec<u8>,
}

impl<'c> Generator<'c> {
    pub fn new(compiled: &'c Compiled) -> Generator<'c> {
        let bnf = &compiled.bnf;
        let mut height = vec![u32::MAX; bnf.rules.len()];
        loop {
            let mut changed = false;
            for p in bnf.productions.values() {
                let h = p.rhs.iter().map(|s| match s {
                    Symbol::Terminal(_) => 0,
                    Symbol::Rule(r) => height[r.as_usize()],
                });
                let h = h.max().unwrap_or(0).saturating_add(1);
                if h < height[p.lhs.as_usize()] {
                    height[p.lhs.as_usize()] = h;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let separator = bnf.ignore.first().and_then(|t| compiled.lexical.terminals.get(*t)?.as_ref()).and_then(|d| d.shortest_extension(d.start)).unwrap_or_else(|| b" ".to_vec());
        Generator { compiled, height, separator }
    }

    pub fn bnf(&self) -> &Bnf {
        &self.compiled.bnf
    }

    /// A random terminal sequence derived from the start rule.
    pub fn terminals(&self, rng: &mut Rng, depth_budget: u32) -> Vec<TerminalId> {
        let mut out = Vec::new();
        self.expand(self.bnf().start, rng, depth_budget, &mut out);
        out
    }

    fn expand(&self, rule: RuleId, rng: &mut Rng, budget: u32, out: &mut Vec<TerminalId>) {
        let bnf = self.bnf();
        let prods = &bnf.rules[rule].productions;
        let candidates: Vec<_> = if budget == 0 {
            let best = prods.iter().map(|p| self.production_height(*p)).min().unwrap_or(0);
            prods.iter().copied().filter(|p| self.production_height(*p) == best).collect()
        } else {
            prods.clone()
        };
        let production = candidates[rng.below(candidates.len())];
        for symbol in &bnf.productions[production].rhs {
            match *symbol {
                Symbol::Terminal(t) => out.push(t),
                Symbol::Rule(r) => self.expand(r, rng, budget.saturating_sub(1), out),
            }
        }
    }

    fn production_height(&self, p: syncodec_artifacts::ids::ProductionId) -> u32 {
        self.bnf().productions[p].rhs.iter().map(|s| match s {
            Symbol::Terminal(_) => 0,
            Symbol::Rule(r) => self.height[r.as_usize()],
        }).max().unwrap_or(0)
    }

    /// A random lexeme of `terminal` (empty for declared terminals).
    pub fn lexeme(&self, terminal: TerminalId, rng: &mut Rng) -> Vec<u8> {
        match self.compiled.lexical.terminals.get(terminal).and_then(|d| d.as_ref()) {
            Some(dfa) => random_walk(dfa, rng),
            None => Vec::new(),
        }
    }

    /// Text for a terminal sequence: random lexemes joined by the separator.
    pub fn text(&self, terminals: &[TerminalId], rng: &mut Rng) -> (Vec<u8>, Vec<Vec<u8>>) {
        let lexemes: Vec<Vec<u8>> = terminals.iter().map(|t| self.lexeme(*t, rng)).collect();
        (self.join(&lexemes), lexemes)
    }

    pub fn join(&self, lexemes: &[Vec<u8>]) -> Vec<u8> {
        lexemes.join(self.separator.as_slice())
    }
}

/// A random accepted string: at each step stop with some probability when accepting, else take
/// a random byte that keeps the walk live (printable ASCII preferred), at most 24 steps before
/// heading for acceptance.
fn random_walk(dfa: &TerminalDfa, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut state = dfa.start;
    loop {
        if dfa.accepting[state] && (out.len() >= 24 || rng.below(3) == 0) {
            return out;
        }
        let live: Vec<u8> = (0..=255u8).filter(|&b| dfa.live[dfa.next(state, b)]).collect();
        if live.is_empty() {
            return out;
        }
        let ascii: Vec<u8> = live.iter().copied().filter(|b| (0x20..0x7f).contains(b)).collect();
        let byte = if out.len() >= 24 {
            // Head for acceptance: finish with a shortest completion from here.
            out.extend(dfa.shortest_extension(state).unwrap_or_default());
            return out;
        } else if !ascii.is_empty() && rng.below(8) != 0 {
            ascii[rng.below(ascii.len())]
        } else {
            live[rng.below(live.len())]
        };
        out.push(byte);
        state = dfa.next(state, byte);
    }
}
