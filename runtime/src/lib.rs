//! syncodec runtime: opens an artifact and parses text with its tables.

pub mod apply;
pub mod artifact;
pub mod indent;
pub mod lexer;
pub mod parser;
