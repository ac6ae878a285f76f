//! GPU mask application for syncodec (work in progress: the kernel lands with the CUDA issue).
//!
//! This crate builds on machines without CUDA; it currently only re-exports the runtime so the
//! dependency direction `runtime <- cuda` is fixed from the start.

pub use syncodec_runtime as runtime;
