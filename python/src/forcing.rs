//! Reference rows for the tests: a file teacher-forced through the runtime directly (the
//! oracles' preparation and a plain `Session`), independent of `Matcher` and of the buffer code.

use std::path::Path;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use syncodec_oracles::forcing::{prepare_text, start_session, Prepared};

use crate::artifact::PyArtifact;

/// Tokenizes `text` with `tokenizer_json`, then returns `(ids, rows)`: the token ids and the
/// session's bitmask before each of them and after the last (`len(ids) + 1` rows of
/// `bitmask_words` little-endian u32 words), or `(None, reason)` when the file cannot be
/// teacher-forced (the grammar rejects it, the tokens do not decode to it...).
#[pyfunction]
pub fn teacher_forced_rows(py: Python<'_>, artifact: &PyArtifact, tokenizer_json: &str, text: Vec<u8>) -> PyResult<(Option<Vec<u32>>, PyObject)> {
    let shared = Arc::clone(&artifact.shared);
    let tokenizer = syncodec::vocab::tokenizer_from_bytes(tokenizer_json.as_bytes(), "tokenizer").map_err(|e| PyValueError::new_err(e.to_string()))?;
    let result = py.allow_threads(move || -> Result<Result<(Vec<u32>, Vec<u8>), String>, String> {
        let forced = match prepare_text(&shared.artifact, &tokenizer, Path::new("<text>"), text) {
            Prepared::Ready(f) => f,
            Prepared::Skip(reason) | Prepared::Fail(reason) => return Ok(Err(reason)),
        };
        let mut session = start_session(&shared.artifact, &shared.cache).map_err(|e| e.to_string())?;
        let words = session.bitmask_words();
        let mut row = vec![0u32; words];
        let mut rows = Vec::with_capacity((forced.ids.len() + 1) * words * 4);
        for &id in forced.ids.iter().chain(std::iter::once(&u32::MAX)) {
            session.fill_bitmask(&mut row).map_err(|e| e.to_string())?;
            rows.extend(row.iter().flat_map(|w| w.to_le_bytes()));
            if id != u32::MAX {
                session.accept_token(id).map_err(|e| format!("the session refused token {id}: {e}"))?;
            }
        }
        Ok(Ok((forced.ids, rows)))
    });
    match result.map_err(PyValueError::new_err)? {
        Ok((ids, rows)) => Ok((Some(ids), PyBytes::new(py, &rows).into_any().unbind())),
        Err(reason) => Ok((None, reason.into_pyobject(py)?.into_any().unbind())),
    }
}
