//! syncodec compiler: grammar -> lowered BNF -> terminal DFAs + lexer -> LR tables -> artifact.
//!
//! (Crate docs with the glossary are written once the stages land.)

pub mod diagnostics;
pub mod emit;
pub mod grammar;
pub mod lexical;
pub mod lower;
pub mod lr;
