//! Indentation masking: tokens whose leading spaces would give the next line an impossible
//! indentation are cleared from the mask.
//!
//! When the text ends inside a newline lexeme (the only hypothesis, outside brackets) whose
//! last line so far is `w` spaces, a token of `k` spaces followed by a byte that starts a
//! lexeme on that line fixes the line's indentation at `w + k`. [`IndentFilter`] holds the `k`
//! for which that width is impossible (part of the mask key); [`IndentGroups`] holds, per `k`,
//! the tokens that would fix it (built once per artifact and kept in the `MaskCache`).
//!
//! **Invariant:** only widths `w + k` with `k < INDENT_GROUPS` are judged; tokens with more
//! leading spaces, special tokens and tokens whose first non-space byte may start an `%ignore`d
//! lexeme or the newline itself are never in a group, so masking never removes a token whose
//! indentation is not fixed by it.

use syncodec_artifacts::bits::row;
use syncodec_artifacts::ids::{ArchivedId, TerminalId, TokenId};

use super::context::Core;
use super::hyps::{Layout, State};
use crate::parser::Parser;

/// Leading-space counts covered by indentation masking (tokens with more are left alone).
const INDENT_GROUPS: usize = 32;

/// Token groups for indentation masking: group `k` holds the tokens made of exactly `k` spaces
/// followed by a byte that can start neither an `%ignore`d lexeme nor the newline terminal
/// (so not a tab, form feed, line break, `#`, `\\` or a BOM in Python), as bitmask rows.
pub(super) struct IndentGroups(Vec<Vec<u32>>);

impl IndentGroups {
    pub(super) fn new(core: &Core<'_>) -> IndentGroups {
        let vocab = &core.vocab;
        let newline = core.grammar.indentation.as_ref().map(|i| i.newline.to_id());
        let mut layout_start = [false; 256];
        let ignored = core.grammar.ignore.iter().map(|t| t.to_id());
        for t in ignored.chain(newline) {
            if let Some(d) = core.dfa(t) {
                for b in 0..=255u8 {
                    layout_start[b as usize] |= d.is_live(d.step(d.start(), b));
                }
            }
        }
        let mut groups = vec![vec![0u32; row::words(vocab.n_tokens())]; INDENT_GROUPS];
        for id in (0..vocab.n_tokens() as u32).map(TokenId::from_raw) {
            if vocab.is_special(id) {
                continue;
            }
            let Some(bytes) = vocab.bytes(id) else { continue };
            let k = bytes.iter().take_while(|&&b| b == b' ').count();
            if let (Some(&b), Some(group)) = (bytes.get(k), groups.get_mut(k)) {
                if !layout_start[b as usize] {
                    row::set(group, id.as_usize());
                }
            }
        }
        IndentGroups(groups)
    }
}

/// Bit `k` set: a line indented `k` spaces more than the unfinished newline's last line has
/// so far is impossible.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct IndentFilter(u32);

impl IndentFilter {
    /// The filter for `state` at the end of `text`: `None` when masking does not apply (not
    /// inside a lone newline lexeme outside brackets, a non-space on its last line) or rules
    /// nothing out. Widths that are neither a level the parser can dedent to and start a line
    /// at, nor deeper with INDENT acceptable, are impossible.
    pub(super) fn of(core: &Core<'_>, state: &State<'_>, text: &[u8]) -> Option<IndentFilter> {
        let [h] = state.hyps.as_slice() else { return None };
        let Layout::Indent(ind) = &h.front.layout else { return None };
        let newline = ind.newline();
        if !matches!(h.cands.as_slice(), [(t, _)] if *t == newline) || ind.bracket_depth() > 0 {
            return None;
        }
        let straddle = text.get(h.start..)?;
        let nl = straddle.iter().rposition(|&b| b == b'\n')?;
        let line = &straddle[nl + 1..];
        if line.iter().any(|&b| b != b' ') {
            return None;
        }
        let w = line.len() as u32;
        let indentation = core.grammar.indentation.as_ref()?;
        let (indent, dedent): (TerminalId, TerminalId) = (indentation.indent.to_id(), indentation.dedent.to_id());
        let mut after = h.front.parser.clone();
        if after.feed(newline).is_err() {
            return None;
        }
        let levels = ind.levels();
        let top = levels.last().copied().unwrap_or(0);
        let indent_ok = after.can_feed(indent);
        // A line can start at levels[j] when (len - 1 - j) DEDENTs are accepted and then some
        // lexeme other than INDENT/DEDENT is.
        let starts_line = |p: &Parser<'_>| p.acceptable_terminals().any(|t| t != indent && t != dedent);
        let mut dedent_ok = vec![false; levels.len()];
        let mut g = after.clone();
        for j in (0..levels.len()).rev() {
            if j + 1 < levels.len() && g.feed(dedent).is_err() {
                break;
            }
            dedent_ok[j] = starts_line(&g);
        }
        let mut bad = 0u32;
        for k in 0..INDENT_GROUPS as u32 {
            let width = w + k;
            let ok = if width > top { indent_ok } else { levels.iter().position(|&l| l == width).is_some_and(|j| dedent_ok[j]) };
            if !ok {
                bad |= 1 << k;
            }
        }
        (bad != 0).then_some(IndentFilter(bad))
    }

    /// The groups of the impossible widths.
    fn bad_groups<'g>(self, groups: &'g IndentGroups) -> impl Iterator<Item = &'g [u32]> + 'g {
        groups.0.iter().enumerate().filter(move |(k, _)| self.0 >> k & 1 == 1).map(|(_, g)| g.as_slice())
    }

    /// Clears the tokens of the impossible widths from `out` (word by word).
    pub(super) fn clear_row(self, groups: &IndentGroups, out: &mut [u32]) {
        for g in self.bad_groups(groups) {
            row::subtract(out, g);
        }
    }

    /// The tokens of the impossible widths, group by group (each group increasing).
    pub(super) fn tokens(self, groups: &IndentGroups) -> impl Iterator<Item = TokenId> + '_ {
        self.bad_groups(groups).flat_map(row::iter_ones).map(|t| TokenId::from_raw(t as u32))
    }
}
