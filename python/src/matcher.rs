//! `Matcher`: one runtime `Session` per sequence, with the xgrammar-shaped method names the
//! engines already call, and the batch fill over many matchers.

use std::sync::Arc;

use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::session::{Session, SessionError, SessionOptions};

use crate::artifact::{check_id, PyArtifact, Shared};
use crate::buffers::{view, Elem, View};

/// The constraint state of one sequence.
#[pyclass(module = "syncodec")]
pub struct Matcher {
    // Field order matters: `session` borrows `shared.artifact` and is dropped first.
    session: Session<'static>,
    shared: Arc<Shared>,
    options: SessionOptions,
    prefix: Vec<u8>,
    /// Tokens accepted since the last reset, for `rollback` bookkeeping in Python.
    n_refused: u64,
}

fn new_session(shared: &Arc<Shared>, options: SessionOptions) -> PyResult<Session<'static>> {
    // SAFETY: the artifact lives inside an `Arc<Shared>` that the `Matcher` holds for as long as
    // the session exists (the session field is declared first, so it is dropped before the
    // `Arc`); `Shared` is never mutated or moved out of its allocation, so the reference stays
    // valid and unaliased by any `&mut` for the session's whole life.
    let artifact: &'static Artifact = unsafe { &*std::ptr::addr_of!(shared.artifact) };
    Session::with_cache(artifact, options, Arc::clone(&shared.cache)).map_err(session_error)
}

pub(crate) fn session_error(e: SessionError) -> PyErr {
    match e {
        SessionError::TokenOutOfRange { .. } | SessionError::RollbackTooFar { .. } => PyValueError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn prefix_bytes(prefix: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = prefix.extract::<String>() {
        return Ok(s.into_bytes());
    }
    prefix.extract::<Vec<u8>>().map_err(|_| pyo3::exceptions::PyTypeError::new_err("text must be str or bytes"))
}

/// The row of a bitmask view for `index`, with checks.
fn row_of(bitmask: &View, index: i64, words: usize) -> PyResult<usize> {
    if bitmask.cols != words {
        return Err(PyValueError::new_err(format!(
            "bitmask rows have {} int32 words, the artifact's vocabulary needs {words} (ceil(vocab_size / 32)); allocate it with syncodec.allocate_token_bitmask(batch, vocab_size)",
            bitmask.cols
        )));
    }
    if index < 0 || index as u64 >= bitmask.rows as u64 {
        return Err(PyIndexError::new_err(format!("bitmask row index {index} is out of range for {} rows", bitmask.rows)));
    }
    Ok(index as usize)
}

impl Matcher {
    fn words(&self) -> usize {
        self.session.bitmask_words()
    }

    /// Fills row `row` of a checked view.
    fn fill_row(&mut self, bitmask: &View, row: usize) -> PyResult<()> {
        let words = self.words();
        // SAFETY: `view` checked that the object is a C-contiguous, writable, aligned CPU array
        // of `rows * cols` int32 elements, `row_of` that `row < rows` and `cols == words`; the
        // caller holds the object.
        let out = unsafe { std::slice::from_raw_parts_mut((bitmask.ptr as *mut u32).add(row * words), words) };
        self.session.fill_bitmask(out).map_err(session_error)
    }
}

#[pymethods]
impl Matcher {
    /// A matcher at the start of a sequence's constrained text, after `prefix` (str or bytes:
    /// code that is already there and not generated). `sequence_start=True` when the first
    /// accepted token is the first token of the whole sequence (no prompt before it), so that
    /// SentencePiece's dummy-prefix rule applies.
    #[new]
    #[pyo3(signature = (artifact, prefix=None, *, sequence_start=false))]
    fn new(artifact: &PyArtifact, prefix: Option<&Bound<'_, PyAny>>, sequence_start: bool) -> PyResult<Matcher> {
        let shared = Arc::clone(&artifact.shared);
        shared.vocab()?;
        let options = SessionOptions { sequence_start, ..SessionOptions::default() };
        let prefix = match prefix {
            Some(p) => prefix_bytes(p)?,
            None => Vec::new(),
        };
        let mut session = new_session(&shared, options)?;
        if !prefix.is_empty() {
            session.feed_text(&prefix).map_err(session_error)?;
        }
        Ok(Matcher { session, shared, options, prefix, n_refused: 0 })
    }

    /// Logits width the bitmask covers.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.session.vocab_width()
    }

    /// int32 words per bitmask row.
    #[getter]
    fn bitmask_words(&self) -> usize {
        self.words()
    }

    /// Tokens accepted since the last reset that `rollback` can undo.
    #[getter]
    fn num_accepted(&self) -> usize {
        self.session.n_accepted()
    }

    /// Tokens refused by `accept_token` since the last reset.
    #[getter]
    fn num_refused(&self) -> u64 {
        self.n_refused
    }

    /// The text so far (prefix, accepted strings and tokens) as bytes.
    #[getter]
    fn text<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.session.text())
    }

    /// Writes the allowed next tokens into row `index` of `bitmask` (an int32 numpy array or
    /// CPU torch tensor of shape `(B, ceil(vocab_size / 32))`, or 1-D for one row), in place.
    #[pyo3(signature = (bitmask, index=0))]
    fn fill_next_token_bitmask(&mut self, bitmask: &Bound<'_, PyAny>, index: i64) -> PyResult<()> {
        let v = view(bitmask, "bitmask", &[Elem::I32])?;
        let row = row_of(&v, index, self.words())?;
        self.fill_row(&v, row)
    }

    /// Accepts token `token_id`: True if it continues the program (or is EOS at a complete
    /// program), False (state unchanged) if the grammar refuses it. Raises `ValueError` for an
    /// id outside the vocabulary.
    fn accept_token(&mut self, token_id: i64) -> PyResult<bool> {
        let id = check_id(token_id, self.session.vocab_width())?;
        match self.session.accept_token(id) {
            Ok(()) => Ok(true),
            Err(SessionError::Store(e)) => Err(PyValueError::new_err(format!("corrupt artifact: {e}"))),
            Err(_) => {
                self.n_refused += 1;
                Ok(false)
            }
        }
    }

    /// Appends text that is not a token (str or bytes): True if the text stays a viable
    /// program prefix, False (state unchanged) otherwise. Not undone by `rollback` (only the
    /// tokens accepted before it are).
    fn accept_string(&mut self, text: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = prefix_bytes(text)?;
        match self.session.feed_text(&bytes) {
            Ok(()) => Ok(true),
            Err(SessionError::Store(e)) => Err(PyValueError::new_err(format!("corrupt artifact: {e}"))),
            Err(_) => Ok(false),
        }
    }

    /// How many of `token_ids`, in order, would be accepted (speculative decoding); the state
    /// is unchanged afterwards.
    fn validate_tokens(&mut self, token_ids: Vec<i64>) -> PyResult<usize> {
        let width = self.session.vocab_width();
        let ids = token_ids.iter().map(|&t| check_id(t, width)).collect::<PyResult<Vec<u32>>>()?;
        let mut n = 0;
        for id in ids {
            if self.session.accept_token(id).is_err() {
                break;
            }
            n += 1;
        }
        self.session.rollback(n).map_err(session_error)?;
        Ok(n)
    }

    /// Whether `token_id` may come next (exact check, no state change).
    fn is_token_valid(&self, token_id: i64) -> PyResult<bool> {
        let id = check_id(token_id, self.session.vocab_width())?;
        Ok(self.session.is_token_valid(id))
    }

    /// Undoes the last `num_tokens` accepted tokens. `ValueError` if fewer were accepted.
    #[pyo3(signature = (num_tokens=1))]
    fn rollback(&mut self, num_tokens: i64) -> PyResult<()> {
        if num_tokens < 0 {
            return Err(PyValueError::new_err(format!("cannot roll back a negative number of tokens ({num_tokens})")));
        }
        self.session.rollback(num_tokens as usize).map_err(session_error)
    }

    /// Whether EOS has been accepted (the sequence is over).
    fn is_terminated(&self) -> bool {
        self.session.is_finished()
    }

    /// Whether the text so far is a complete program (EOS would be accepted).
    fn is_complete(&self) -> bool {
        self.session.is_complete()
    }

    /// Back to the state right after construction (the prefix fed again).
    fn reset(&mut self) -> PyResult<()> {
        let mut session = new_session(&self.shared, self.options)?;
        if !self.prefix.is_empty() {
            session.feed_text(&self.prefix).map_err(session_error)?;
        }
        self.session = session;
        self.n_refused = 0;
        Ok(())
    }

    /// The allowed next token ids, sorted (for debugging: prefer the bitmask).
    fn allowed_token_ids(&mut self) -> PyResult<Vec<u32>> {
        let mut row = vec![0u32; self.words()];
        self.session.fill_bitmask(&mut row).map_err(session_error)?;
        let mut ids = Vec::new();
        for (w, &word) in row.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                ids.push((w * 32) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        Ok(ids)
    }

    fn __repr__(&self) -> String {
        format!(
            "<syncodec.Matcher: {} bytes of text, {} tokens accepted, complete={}, terminated={}>",
            self.session.text().len(),
            self.session.n_accepted(),
            self.session.is_complete(),
            self.session.is_finished()
        )
    }
}

/// A raw pointer that may cross into the worker threads (each thread writes disjoint rows).
#[derive(Clone, Copy)]
struct RowPtr(usize);

/// Fills row `indices[i]` (default `i`) of `bitmask` for `matchers[i]`, in parallel with the
/// GIL released. Rows must be distinct.
#[pyfunction]
#[pyo3(signature = (matchers, bitmask, indices=None))]
pub fn fill_next_token_bitmasks(py: Python<'_>, matchers: Vec<Bound<'_, Matcher>>, bitmask: &Bound<'_, PyAny>, indices: Option<Vec<i64>>) -> PyResult<()> {
    let v = view(bitmask, "bitmask", &[Elem::I32])?;
    let indices: Vec<i64> = match indices {
        Some(ix) => {
            if ix.len() != matchers.len() {
                return Err(PyValueError::new_err(format!("{} indices for {} matchers", ix.len(), matchers.len())));
            }
            ix
        }
        None => (0..matchers.len() as i64).collect(),
    };
    let mut guards = Vec::with_capacity(matchers.len());
    for m in &matchers {
        // A matcher listed twice (or in use elsewhere) is a Python error, not aliasing.
        guards.push(m.try_borrow_mut().map_err(|_| PyValueError::new_err("a matcher is listed twice or is in use"))?);
    }
    let mut rows = Vec::with_capacity(indices.len());
    let mut seen = vec![false; v.rows];
    for (g, &ix) in guards.iter().zip(&indices) {
        if !Arc::ptr_eq(&g.shared, &guards[0].shared) && g.words() != guards[0].words() {
            return Err(PyValueError::new_err("all matchers of a batch must have the same vocabulary size"));
        }
        let row = row_of(&v, ix, g.words())?;
        if std::mem::replace(&mut seen[row], true) {
            return Err(PyValueError::new_err(format!("bitmask row {row} is listed twice")));
        }
        rows.push(row);
    }
    if guards.is_empty() {
        return Ok(());
    }
    let words = guards[0].words();
    let base = RowPtr(v.ptr);
    let mut jobs: Vec<(&mut Session<'static>, usize)> = guards.iter_mut().map(|g| &mut g.session).zip(rows).collect();
    let result: Result<(), SessionError> = py.allow_threads(move || {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(jobs.len());
        let fill = |chunk: &mut [(&mut Session<'static>, usize)]| -> Result<(), SessionError> {
            let base = base;
            let mut first = Ok(());
            for (session, row) in chunk.iter_mut() {
                // SAFETY: the view was checked (C-contiguous, writable, aligned int32, `rows *
                // words` elements), every row is below `rows` and distinct, so the threads write
                // disjoint slices of the caller-held array.
                let out = unsafe { std::slice::from_raw_parts_mut((base.0 as *mut u32).add(*row * words), words) };
                let r = session.fill_bitmask(out);
                if first.is_ok() {
                    first = r;
                }
            }
            first
        };
        if threads <= 1 || jobs.len() < 4 {
            return fill(&mut jobs);
        }
        // The rayon pool is warm after the first call (the compiler uses it too); chunks keep
        // the per-task overhead below the cost of a row.
        let per = jobs.len().div_ceil(threads);
        jobs.par_chunks_mut(per).map(|chunk| fill(chunk)).reduce(|| Ok(()), |a, b| a.and(b))
    });
    result.map_err(session_error)
}
