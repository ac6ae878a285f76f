//! The rkyv schema of the artifact payload: everything the runtime needs, nothing more.
//!
//! Only these types are serialized; compiler internals never derive `Archive`.
//! Tables are flat `Vec<u32>` in row-major order so the runtime reads them in place from the
//! mmap. Semantic invariants (every id below its table length, every row complete) are checked
//! by [`crate::validate`] after rkyv's structural check.

use crate::ids::{RuleId, TerminalId};

/// Sentinel for "no entry" in `u32` tables (no accepted terminal, no goto).
pub const NONE: u32 = u32::MAX;

/// Flag bit in [`Dfa::flags`]: the state is accepting (the bytes read so far form a lexeme).
pub const DFA_ACCEPTING: u8 = 1;
/// Flag bit in [`Dfa::flags`]: the state is live (some continuation reaches an accepting state).
pub const DFA_LIVE: u8 = 2;

/// Root object of the payload.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Payload {
    pub grammar: CompiledGrammar,
    /// Present in artifacts built with a tokenizer (format version 3 and later), together with `masks`.
    pub vocab: Option<Vocabulary>,
    pub masks: Option<MaskStore>,
}

/// The vocabulary the mask store was computed for: the exact bytes each token id contributes
/// to the text.
///
/// All tables are flat so that opening costs O(1) in the vocabulary size.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Vocabulary {
    /// Logits width: masks have `ceil(width / 32)` words; ids `>= n_tokens` are padding and
    /// never allowed. `width >= n_tokens`.
    pub width: u32,
    pub n_tokens: u32,
    /// `n_tokens + 1` non-decreasing offsets into `token_bytes`: token `i` is
    /// `token_bytes[token_offsets[i]..token_offsets[i + 1]]`.
    pub token_offsets: Vec<u32>,
    pub token_bytes: Vec<u8>,
    /// Sorted ids of special (control) tokens: never allowed by a grammar mask, except EOS.
    pub special: Vec<u32>,
    /// Sorted EOS ids: allowed exactly when the program is complete.
    pub eos: Vec<u32>,
    /// Sorted ids whose bytes differ when the token is the first of a sequence (SentencePiece's
    /// dummy-prefix space is dropped by the decoder), with their first-position bytes in
    /// `first_bytes[first_offsets[i]..first_offsets[i + 1]]`.
    pub first_ids: Vec<u32>,
    pub first_offsets: Vec<u32>,
    pub first_bytes: Vec<u8>,
    /// Tokenizer family, e.g. `byte-level-bpe`, `sentencepiece-bpe` (informational).
    pub kind: String,
    /// Model file name the vocabulary was read from (informational).
    pub source: String,
}

/// Mask kind in [`MaskStore::mask_kind`]: `ceil(n_tokens / 32)` words, bit `t & 31` of word `t >> 5`.
pub const MASK_DENSE: u8 = 0;
/// Mask kind in [`MaskStore::mask_kind`]: strictly increasing token ids.
pub const MASK_SPARSE: u8 = 1;
/// Flag on [`MaskStore::split_follower`]: the entry follows an `%ignore` terminal and is refined
/// through [`MaskStore::after_ignore`].
pub const SPLIT_AFTER_IGNORE: u32 = 1 << 31;

/// The DFA mask store (SynCode's M): for every live state `q` of every terminal's DFA,
///
/// - `live[q]`: the tokens whose bytes, walked from `q`, keep the DFA live to their end;
/// - for each terminal `f` that may follow the terminal (LR tables plus `%ignore` terminals),
///   `split(q, f)`: the tokens that, walked from `q`, do not end in an accepting state and
///   whose rest after the *last* accepting offset (maximal munch ends the lexeme there; offset
///   0 when only `q` accepts), walked from `f`'s start state, stays live or passes an accepting
///   state. Only non-empty `split` masks are listed.
///
/// States are numbered globally: terminal `t`'s state `q` is entry `state_base[t] + q`.
/// Masks are deduplicated and stored once each, dense or sparse, whichever is smaller.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct MaskStore {
    /// Per terminal: first global state index, or [`NONE`] for terminals without a DFA.
    pub state_base: Vec<u32>,
    /// Per global state: mask id of `live`, or [`NONE`] when empty (dead states, and states
    /// from which no token stays live).
    pub live: Vec<u32>,
    /// `n_global_states + 1` non-decreasing offsets into `split_follower`/`split_mask`.
    pub split_start: Vec<u32>,
    /// Follower terminal of each split entry; strictly increasing within one state (flag bit
    /// cleared). With
    /// [`SPLIT_AFTER_IGNORE`] set, the follower is an `%ignore` terminal `g`, the state is
    /// accepting and no byte that can start `g` continues it (so a token starting with such a
    /// byte starts a `g` lexeme right away), and the entry's mask leaves out the tokens whose
    /// first byte can start `g`: readers add `live(g's start)` and `after_ignore[g][f]` for
    /// every follower `f` they accept next (SynCode's accept sequences of length 3 through
    /// ignored text, instead of letting anything through after the first ignored byte).
    pub split_follower: Vec<u32>,
    /// Mask id of each split entry.
    pub split_mask: Vec<u32>,
    /// `ignore.len() * n_terminals` mask ids (or [`NONE`] when empty), row `j` for the `j`-th
    /// `%ignore` terminal `g`: entry `f` holds the tokens that, walked from `g`'s start, reach an
    /// accepting state of `g` after a non-empty proper prefix whose rest stays live in `f` or
    /// passes an accepting state of `f`.
    pub after_ignore: Vec<u32>,
    /// Per mask: [`MASK_DENSE`] or [`MASK_SPARSE`].
    pub mask_kind: Vec<u8>,
    /// `n_masks + 1` non-decreasing offsets into `mask_data`.
    pub mask_offset: Vec<u32>,
    pub mask_data: Vec<u32>,
}

/// A compiled grammar: terminals with their DFAs, the combined lexer and the LR tables.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct CompiledGrammar {
    /// Grammar file name without extension, e.g. `python`.
    pub name: String,
    /// Name of the start rule.
    pub start_rule: String,
    /// File extensions (without dot) this grammar parses, e.g. `["py"]`.
    pub file_extensions: Vec<String>,
    /// Indexed by [`TerminalId`].
    pub terminals: Vec<Terminal>,
    /// Rule names, indexed by [`RuleId`].
    pub rule_names: Vec<String>,
    /// Indexed by `ProductionId`.
    pub productions: Vec<Production>,
    /// Terminals skipped between any two terminals (`%ignore`).
    pub ignore: Vec<TerminalId>,
    /// Maximal-munch lexer over every terminal that has a pattern.
    pub lexer: LexerDfa,
    pub lr: LrTable,
    /// Present when the grammar declares `_INDENT`/`_DEDENT`.
    pub indentation: Option<Indentation>,
    /// Present when the grammar has an `%auto_semicolon` statement (format version 2).
    pub auto_semicolon: Option<AutoSemicolon>,
    /// Lex with only the terminals the parser can take next (plus ignored ones), as Lark's
    /// contextual lexer does, instead of with `lexer` over every terminal (format version 5).
    pub contextual_lexer: bool,
}

/// What kind of definition a terminal came from (drives the lexer's tie-break).
#[derive(Debug, Clone, Copy, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
#[rkyv(derive(Debug, Clone, Copy, PartialEq, Eq))]
pub enum TerminalKind {
    /// A string literal (possibly case-insensitive), e.g. `"if"`.
    Literal,
    /// Anything else with a pattern: regex, range, composition.
    Pattern,
    /// `%declare`d: no pattern; produced by the runtime (e.g. `_INDENT`).
    Declared,
}

#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Terminal {
    /// Name as in the grammar; anonymous literals get a generated name such as `__ANON_3`
    /// or a Lark-style name like `LPAR`.
    pub name: String,
    /// How diagnostics show it: `"if"` for literals, the name otherwise.
    pub display: String,
    pub priority: i32,
    pub kind: TerminalKind,
    /// Minimized DFA; `None` exactly for [`TerminalKind::Declared`].
    pub dfa: Option<Dfa>,
    /// Position in the lexer's tie-break order (0 wins over every other terminal); the combined
    /// lexer's labels follow it, and a contextual lexer uses it among the terminals it tries
    /// (format version 5). `u32::MAX` for declared terminals.
    pub rank: u32,
}

/// A byte-level DFA over equivalence classes of bytes.
///
/// State 0 is the dead state: it is neither accepting nor live and every transition from it
/// leads to itself. `trans[state * n_classes + classes[byte]]` is the next state. Accepting is
/// defined on the plain automaton: a state is accepting iff the bytes read to reach it are in the
/// terminal's language (no delayed match reporting).
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Dfa {
    pub start: u32,
    pub n_states: u32,
    pub n_classes: u32,
    /// Byte -> class, exactly 256 entries, each `< n_classes`.
    pub classes: Vec<u8>,
    /// `n_states * n_classes` entries, each `< n_states`.
    pub trans: Vec<u32>,
    /// `n_states` entries of [`DFA_ACCEPTING`] | [`DFA_LIVE`].
    pub flags: Vec<u8>,
}

/// The combined lexer: a [`Dfa`] whose accepting states name the winning terminal.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct LexerDfa {
    pub dfa: Dfa,
    /// Per state: the terminal that wins when a lexeme ends here (raw [`TerminalId`]), or
    /// [`NONE`]. The winner among all terminals matching the same bytes is chosen by priority,
    /// then literal before pattern, then declaration order.
    pub accept: Vec<u32>,
}

/// One production `lhs -> rhs`.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Production {
    pub lhs: RuleId,
    /// Encoded symbols: a terminal is its raw id, a rule is `RULE_BIT | raw id`.
    pub rhs: Vec<u32>,
}

/// Bit marking a rule in [`Production::rhs`].
pub const RULE_BIT: u32 = 1 << 31;

/// LR ACTION/GOTO tables. No default reductions: in every state the columns with a non-error
/// action are exactly the terminals that may come next (in LR(1) mode).
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct LrTable {
    pub n_states: u32,
    /// `n_terminals + 1`: the last column is the end of input.
    pub n_columns: u32,
    pub start_state: u32,
    /// `n_states * n_columns` encoded actions, see [`Action`].
    pub action: Vec<u32>,
    /// `n_states * n_rules` target states, or [`NONE`].
    pub goto: Vec<u32>,
    /// `lr1` or `lalr`.
    pub mode: String,
}

/// Python-style indentation settings (`%declare _INDENT _DEDENT`).
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Indentation {
    /// The newline terminal (`_NEWLINE` or `_NL`); its text after the last `\n` is the indentation.
    pub newline: TerminalId,
    pub indent: TerminalId,
    pub dedent: TerminalId,
    /// Terminals that open a bracket (`(`, `[`, `{`): newlines inside brackets are dropped.
    pub open_brackets: Vec<TerminalId>,
    pub close_brackets: Vec<TerminalId>,
    /// Tab stops (8, as CPython and Lark use).
    pub tab_len: u32,
}

/// Automatic semicolon insertion settings (`%auto_semicolon NEWLINE -> SEMICOLON after ...`).
///
/// The runtime drops every lexeme of `newline`, except that one directly after a `triggers`
/// terminal is handed to the parser as `semicolon`; the end of input after a trigger inserts
/// `semicolon` as well.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct AutoSemicolon {
    pub newline: TerminalId,
    pub semicolon: TerminalId,
    pub triggers: Vec<TerminalId>,
}

/// A decoded LR action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Error,
    Shift(u32),
    Reduce(u32),
    Accept,
}

impl Action {
    /// Encoding: low 2 bits are the kind (0 error, 1 shift, 2 reduce, 3 accept), the rest the operand.
    pub const fn encode(self) -> u32 {
        match self {
            Action::Error => 0,
            Action::Shift(s) => (s << 2) | 1,
            Action::Reduce(p) => (p << 2) | 2,
            Action::Accept => 3,
        }
    }

    pub const fn decode(raw: u32) -> Action {
        match raw & 3 {
            0 => Action::Error,
            1 => Action::Shift(raw >> 2),
            2 => Action::Reduce(raw >> 2),
            _ => Action::Accept,
        }
    }

    /// Largest operand the encoding can hold.
    pub const MAX_OPERAND: u32 = u32::MAX >> 2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_encoding_round_trips() {
        for a in [Action::Error, Action::Accept, Action::Shift(0), Action::Shift(12345), Action::Reduce(7), Action::Reduce(Action::MAX_OPERAND)] {
            assert_eq!(Action::decode(a.encode()), a);
        }
    }
}
