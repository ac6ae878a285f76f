//! syncodec oracles: how the masks are known to be right, as a library for the CLI, the
//! end-to-end tests and the benchmarks.
//!
//! - [`forcing`]: *teacher forcing*: open an artifact with its mask store, load the tokenizer it
//!   was built for (refusing any other), and turn a real file into the token ids a session is fed.
//! - [`verify`]: soundness on real code: at every position of a teacher-forced file the true next
//!   token is in the mask, and EOS is allowed at the end (`syncodec verify`).
//! - [`audit`]: the mask against the exact oracle, which tries every vocabulary token with the
//!   session at sampled positions (`syncodec audit`).
//! - [`files`]: the files under a path with given extensions.
//!
//! This crate sits above both sides of the design (`compiler -> artifacts <- runtime`): it
//! loads tokenizers with the compiler's `vocab` stage and drives the runtime's `Session`.
//! Nothing below it depends on it. Library code never prints; reports carry their lines.

pub mod audit;
pub mod files;
pub mod forcing;
pub mod verify;

use syncodec_runtime::session::SessionError;

/// Why an oracle could not run (as opposed to what it found).
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    #[error("could not open artifact {path}")]
    Open {
        path: String,
        #[source]
        source: syncodec_artifacts::OpenError,
    },
    #[error("the artifact has no vocabulary: rebuild it with `syncodec build GRAMMAR --tokenizer TOKENIZER.json`")]
    NoVocabulary,
    /// The tokenizer could not be loaded or is not the artifact's (the message says which).
    #[error("{0}")]
    Tokenizer(String),
    #[error("{0}")]
    Session(SessionError),
    /// A path given to check could not be read (the message carries the I/O error).
    #[error("could not read {path}: {error}")]
    Files { path: String, error: std::io::Error },
}
