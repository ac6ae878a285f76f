//! The `syncodec._syncodec` extension module: the Rust half of the `syncodec` Python package.
//!
//! - [`artifact`]: `compile` (the CLI's build, GIL released) and `Artifact` (open, vocabulary
//!   checks against a tokenizer);
//! - [`matcher`]: `Matcher`, one runtime `Session` per sequence, and the batch fill;
//! - [`buffers`]: how a numpy array or a torch tensor becomes a checked pointer + shape (no copy);
//! - [`apply`]: `apply_token_bitmask_inplace` for CPU logits through the runtime's vectorized rows;
//! - [`forcing`]: teacher-forced reference rows straight from the runtime, for the tests.
//!
//! The Python side (`python/syncodec/*.py`) adds argument normalisation (paths, tokenizer
//! objects), the HF logits processor and the docs; everything that touches memory is here.
//!
//! **Invariant:** no input from Python (shapes, dtypes, devices, ids, artifact bytes) makes this
//! module panic or write out of bounds; every problem is a Python exception.

mod apply;
mod artifact;
mod buffers;
mod forcing;
mod matcher;

use pyo3::prelude::*;

#[pymodule]
fn _syncodec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<artifact::PyArtifact>()?;
    m.add_class::<matcher::Matcher>()?;
    m.add_function(wrap_pyfunction!(artifact::compile_artifact, m)?)?;
    m.add_function(wrap_pyfunction!(matcher::fill_next_token_bitmasks, m)?)?;
    m.add_function(wrap_pyfunction!(apply::apply_token_bitmask_inplace_cpu, m)?)?;
    m.add_function(wrap_pyfunction!(forcing::teacher_forced_rows, m)?)?;
    Ok(())
}
