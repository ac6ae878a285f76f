//! Semantic validation of an archived payload, run after rkyv's structural check.
//!
//! Order: terminals and their DFAs, lexer, productions, LR table shape (not its entries: the
//! parser bounds-checks those as it reads them), indentation, semicolon insertion,
//! then (format version 3 and later) the vocabulary and the mask store's index tables. Each check
//! guarantees that every id stored in a table is below the length of the table it indexes, so
//! the runtime may index with `get()` and treat a miss as corruption without further checks.

use crate::error::OpenError;
use crate::ids::ArchivedId;
use rkyv::option::ArchivedOption;

use crate::schema::{ArchivedCompiledGrammar, ArchivedDfa, ArchivedMaskStore, ArchivedPayload, ArchivedTerminalKind, ArchivedVocabulary, MASK_DENSE, MASK_SPARSE, NONE, RULE_BIT, SPLIT_AFTER_IGNORE};

fn corrupt(what: String) -> OpenError {
    OpenError::Corrupt(what)
}

pub(crate) fn payload(payload: &ArchivedPayload) -> Result<(), OpenError> {
    grammar(&payload.grammar)?;
    match (&payload.vocab, &payload.masks) {
        (ArchivedOption::None, ArchivedOption::None) => Ok(()),
        (ArchivedOption::Some(v), ArchivedOption::Some(m)) => {
            vocabulary(v)?;
            masks(&payload.grammar, v, m)
        }
        _ => Err(corrupt("vocabulary and mask store must be present together".into())),
    }
}

/// `offsets` has `n + 1` non-decreasing entries, the last one `<= data_len`.
fn offsets(offsets: &[rkyv::rend::u32_le], n: u64, data_len: u64, what: &str) -> Result<(), OpenError> {
    if offsets.len() as u64 != n + 1 {
        return Err(corrupt(format!("{what}: {} offsets for {n} entries", offsets.len())));
    }
    let mut prev = 0u32;
    for o in offsets {
        let o = o.to_native();
        if o < prev {
            return Err(corrupt(format!("{what}: offsets decrease")));
        }
        prev = o;
    }
    if prev as u64 > data_len {
        return Err(corrupt(format!("{what}: offsets run past the data")));
    }
    Ok(())
}

fn sorted_below(ids: &[rkyv::rend::u32_le], bound: u64, what: &str) -> Result<(), OpenError> {
    let ok = ids.windows(2).all(|w| w[0].to_native() < w[1].to_native()) && ids.last().is_none_or(|i| (i.to_native() as u64) < bound);
    if ok {
        Ok(())
    } else {
        Err(corrupt(format!("{what}: ids not sorted or out of range")))
    }
}

/// Vocabulary tables: O(n_tokens) over the offsets (a few hundred KiB at most), not the bytes.
fn vocabulary(v: &ArchivedVocabulary) -> Result<(), OpenError> {
    let n = v.n_tokens.to_native() as u64;
    if (v.width.to_native() as u64) < n {
        return Err(corrupt(format!("vocabulary: width {} below {n} tokens", v.width.to_native())));
    }
    offsets(&v.token_offsets, n, v.token_bytes.len() as u64, "vocabulary")?;
    sorted_below(&v.special, n, "special tokens")?;
    sorted_below(&v.eos, n, "EOS tokens")?;
    sorted_below(&v.first_ids, n, "first-position tokens")?;
    offsets(&v.first_offsets, v.first_ids.len() as u64, v.first_bytes.len() as u64, "first-position tokens")
}

/// Mask store index tables. The mask data itself is not read here (it is most of the file);
/// readers bounds-check every id they take from it.
fn masks(g: &ArchivedCompiledGrammar, v: &ArchivedVocabulary, m: &ArchivedMaskStore) -> Result<(), OpenError> {
    let n_terminals = g.terminals.len();
    if m.state_base.len() != n_terminals {
        return Err(corrupt("mask store: state_base length differs from the terminal count".into()));
    }
    let n_global = m.live.len() as u64;
    for (t, (base, term)) in m.state_base.iter().zip(g.terminals.iter()).enumerate() {
        let base = base.to_native();
        match &term.dfa {
            ArchivedOption::Some(d) => {
                if base == NONE || base as u64 + d.n_states.to_native() as u64 > n_global {
                    return Err(corrupt(format!("mask store: terminal {t} states out of range")));
                }
            }
            ArchivedOption::None => {
                if base != NONE {
                    return Err(corrupt(format!("mask store: terminal {t} has states but no DFA")));
                }
            }
        }
    }
    let n_masks = m.mask_kind.len() as u64;
    if m.live.iter().any(|x| x.to_native() != NONE && x.to_native() as u64 >= n_masks) {
        return Err(corrupt("mask store: live mask id out of range".into()));
    }
    let n_split = m.split_follower.len() as u64;
    if m.split_mask.len() as u64 != n_split {
        return Err(corrupt("mask store: split tables differ in length".into()));
    }
    offsets(&m.split_start, n_global, n_split, "mask store split table")?;
    let is_ignored = |t: u32| g.ignore.iter().any(|i| i.raw() == t);
    let follower_ok = |f: u32| {
        let t = f & !SPLIT_AFTER_IGNORE;
        (t as usize) < n_terminals && (f & SPLIT_AFTER_IGNORE == 0 || is_ignored(t))
    };
    if m.split_follower.iter().any(|f| !follower_ok(f.to_native())) || m.split_mask.iter().any(|x| x.to_native() as u64 >= n_masks) {
        return Err(corrupt("mask store: split entry out of range".into()));
    }
    if m.after_ignore.len() != g.ignore.len() * n_terminals || m.after_ignore.iter().any(|x| x.to_native() != NONE && x.to_native() as u64 >= n_masks) {
        return Err(corrupt("mask store: after-ignore table malformed".into()));
    }
    if m.mask_kind.iter().any(|&k| k != MASK_DENSE && k != MASK_SPARSE) {
        return Err(corrupt("mask store: unknown mask kind".into()));
    }
    offsets(&m.mask_offset, n_masks, m.mask_data.len() as u64, "mask store masks")?;
    let dense_words = (v.n_tokens.to_native() as u64).div_ceil(32);
    for (i, &k) in m.mask_kind.iter().enumerate() {
        if k == MASK_DENSE && (m.mask_offset[i + 1].to_native() - m.mask_offset[i].to_native()) as u64 != dense_words {
            return Err(corrupt(format!("mask store: dense mask {i} has the wrong length")));
        }
    }
    Ok(())
}

pub(crate) fn dfa(dfa: &ArchivedDfa, what: &str) -> Result<(), OpenError> {
    let n_states = dfa.n_states.to_native();
    let n_classes = dfa.n_classes.to_native();
    if n_states == 0 || n_classes == 0 || n_classes > 256 {
        return Err(corrupt(format!("{what}: {n_states} states, {n_classes} byte classes")));
    }
    if dfa.classes.len() != 256 || dfa.classes.iter().any(|&c| u32::from(c) >= n_classes) {
        return Err(corrupt(format!("{what}: malformed byte class table")));
    }
    let expected = (n_states as u64) * (n_classes as u64);
    if dfa.trans.len() as u64 != expected || dfa.flags.len() as u64 != n_states as u64 {
        return Err(corrupt(format!("{what}: transition table has {} entries, expected {expected}", dfa.trans.len())));
    }
    if dfa.start.to_native() >= n_states || dfa.trans.iter().any(|t| t.to_native() >= n_states) {
        return Err(corrupt(format!("{what}: state id out of range")));
    }
    Ok(())
}

fn grammar(g: &ArchivedCompiledGrammar) -> Result<(), OpenError> {
    let n_terminals = g.terminals.len() as u64;
    let n_rules = g.rule_names.len() as u64;
    for (i, t) in g.terminals.iter().enumerate() {
        match (&t.dfa, t.kind) {
            (rkyv::option::ArchivedOption::Some(d), ArchivedTerminalKind::Literal | ArchivedTerminalKind::Pattern) => dfa(d, &format!("terminal {i}"))?,
            (rkyv::option::ArchivedOption::None, ArchivedTerminalKind::Declared) => {}
            _ => return Err(corrupt(format!("terminal {i}: DFA presence does not match its kind"))),
        }
    }
    let lexer = &g.lexer;
    dfa(&lexer.dfa, "lexer")?;
    if lexer.accept.len() as u64 != lexer.dfa.n_states.to_native() as u64 || lexer.accept.iter().any(|a| a.to_native() != NONE && a.to_native() as u64 >= n_terminals) {
        return Err(corrupt("lexer: accept table malformed".into()));
    }
    for (i, p) in g.productions.iter().enumerate() {
        let lhs_ok = (p.lhs.raw() as u64) < n_rules;
        let rhs_ok = p.rhs.iter().all(|s| {
            let s = s.to_native();
            if s & RULE_BIT != 0 { ((s & !RULE_BIT) as u64) < n_rules } else { (s as u64) < n_terminals }
        });
        if !lhs_ok || !rhs_ok {
            return Err(corrupt(format!("production {i}: symbol out of range")));
        }
    }
    for id in g.ignore.iter() {
        if id.raw() as u64 >= n_terminals {
            return Err(corrupt("ignore list: terminal out of range".into()));
        }
    }
    let lr = &g.lr;
    let n_states = lr.n_states.to_native() as u64;
    let n_columns = lr.n_columns.to_native() as u64;
    if n_states == 0 || n_columns != n_terminals + 1 || lr.start_state.to_native() as u64 >= n_states {
        return Err(corrupt("LR table: header malformed".into()));
    }
    if lr.action.len() as u64 != n_states * n_columns || lr.goto.len() as u64 != n_states * n_rules {
        return Err(corrupt("LR table: size mismatch".into()));
    }
    // The action and goto entries themselves are not scanned here (an LR(1) table has millions
    // of them and opening must stay O(1) in its size): the parser bounds-checks every state,
    // production and goto it reads and reports a miss as corruption.
    if let rkyv::option::ArchivedOption::Some(ind) = &g.indentation {
        let ids = [ind.newline.raw(), ind.indent.raw(), ind.dedent.raw()];
        let all = ids.iter().copied().chain(ind.open_brackets.iter().map(|t| t.raw())).chain(ind.close_brackets.iter().map(|t| t.raw()));
        if all.into_iter().any(|t| t as u64 >= n_terminals) || ind.tab_len.to_native() == 0 {
            return Err(corrupt("indentation settings out of range".into()));
        }
    }
    if let rkyv::option::ArchivedOption::Some(semi) = &g.auto_semicolon {
        let ids = [semi.newline.raw(), semi.semicolon.raw()];
        if ids.into_iter().chain(semi.triggers.iter().map(|t| t.raw())).any(|t| t as u64 >= n_terminals) {
            return Err(corrupt("semicolon insertion settings out of range".into()));
        }
    }
    Ok(())
}
