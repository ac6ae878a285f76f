//! syncodec runtime: opens an artifact and parses text with its tables.
//!
//! The ground state is an [`artifact::Artifact`]: immutable, validated once at open, shared
//! across threads. Everything derived from text (lexer position, indentation stack, LR stack) is
//! per-sequence state built on top of it.
//!
//! - [`artifact`]: open (mmap or in-memory bytes) and validate; never panics on a bad file.
//! - [`lexer`]: maximal-munch lexing over the combined lexer DFA; per-terminal DFA access.
//! - [`indent`]: Python-style INDENT/DEDENT derived from the newline terminal.
//! - [`semicolon`]: automatic semicolon insertion (Go style) from the newline terminal.
//! - [`parser`]: the LR driver, and whole-text [`parser::parse`] with positioned errors.
//! - [`masks`]: the artifact's vocabulary and DFA mask store, unions into bitmasks.
//! - [`session`]: per-sequence incremental lexing/parsing and the token mask per step.
//! - [`apply`]: applying token masks to logits on the CPU.
//! - `stack`: the persistent (structurally shared) stack the parser's state stack is made of.
//!
//! **Invariant:** no function of this crate panics or loops forever on any artifact bytes or any
//! text; problems are errors ("fail closed").

pub mod apply;
pub mod artifact;
pub mod indent;
pub mod lexer;
pub mod masks;
pub mod parser;
pub mod semicolon;
pub mod session;
mod stack;

#[cfg(test)]
mod testing;
