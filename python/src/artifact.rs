//! `compile` and `Artifact`: building an artifact (the same stages as `syncodec build`) and
//! opening one, plus the vocabulary check against a tokenizer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use syncodec::vocab::{Tokenizer, VocabError, VocabOptions};
use syncodec::{BuildError, CompileOptions};
use syncodec_runtime::artifact::Artifact;
use syncodec_runtime::masks::Vocab;
use syncodec_runtime::session::MaskCache;

/// An open artifact and the mask cache its matchers share. Immutable once built; shared by
/// `Artifact` objects and every `Matcher` made from them.
pub(crate) struct Shared {
    pub(crate) artifact: Artifact,
    pub(crate) cache: Arc<MaskCache>,
}

impl Shared {
    /// The artifact's vocabulary, or a `ValueError` for an artifact built without a tokenizer.
    pub(crate) fn vocab(&self) -> PyResult<Vocab<'_>> {
        self.artifact.payload().vocab.as_ref().map(Vocab::new).ok_or_else(|| {
            PyValueError::new_err(
                "the artifact has no vocabulary or mask store: build it with a tokenizer (syncodec.compile(grammar, tokenizer))",
            )
        })
    }
}

/// A compiled grammar + vocabulary, opened from a file (mmap) or from bytes.
#[pyclass(name = "Artifact", module = "syncodec", frozen)]
pub struct PyArtifact {
    pub(crate) shared: Arc<Shared>,
}

fn open_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("cannot open artifact: {e}"))
}

impl PyArtifact {
    fn new(artifact: Artifact) -> PyArtifact {
        PyArtifact { shared: Arc::new(Shared { artifact, cache: Arc::new(MaskCache::default()) }) }
    }
}

#[pymethods]
impl PyArtifact {
    /// Opens an artifact file (plain or zstd-packed) without reading it all (mmap). Raises
    /// `FileNotFoundError`/`OSError` when it cannot be read and `ValueError` when it is not a
    /// valid artifact of this version.
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<PyArtifact> {
        if !path.exists() {
            return Err(pyo3::exceptions::PyFileNotFoundError::new_err(format!("no such artifact file: {}", path.display())));
        }
        let artifact = py.allow_threads(|| Artifact::open(&path)).map_err(|e| open_error(format!("{}: {e}", path.display())))?;
        Ok(PyArtifact::new(artifact))
    }

    /// An artifact from its bytes (as `syncodec.compile` returns them). The bytes are copied.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<PyArtifact> {
        let artifact = py.allow_threads(|| Artifact::from_bytes(data)).map_err(open_error)?;
        Ok(PyArtifact::new(artifact))
    }

    /// Logits width the bitmasks cover (the tokenizer's ids, or `vocab_size` when padded).
    #[getter]
    fn vocab_size(&self) -> PyResult<usize> {
        Ok(self.shared.vocab()?.width())
    }

    /// Number of token ids of the tokenizer the artifact was built for.
    #[getter]
    fn n_tokens(&self) -> PyResult<usize> {
        Ok(self.shared.vocab()?.n_tokens())
    }

    /// `ceil(vocab_size / 32)`: int32 words per bitmask row.
    #[getter]
    fn bitmask_words(&self) -> PyResult<usize> {
        Ok(self.shared.vocab()?.words())
    }

    /// The EOS token ids (allowed exactly when the program is complete).
    #[getter]
    fn eos_token_ids(&self) -> PyResult<Vec<u32>> {
        Ok(self.shared.vocab()?.eos().collect())
    }

    /// The vocabulary hash recorded in the artifact (hex), or None without a vocabulary.
    #[getter]
    fn vocab_hash(&self) -> Option<String> {
        self.shared.artifact.vocab_hash().map(|h| syncodec_artifacts::header::hex(&h))
    }

    /// Size in bytes (unpacked).
    fn __len__(&self) -> usize {
        self.shared.artifact.len()
    }

    /// The bytes of `token_id` as the grammar sees them (empty for special tokens).
    fn token_bytes<'py>(&self, py: Python<'py>, token_id: i64) -> PyResult<Bound<'py, PyBytes>> {
        let vocab = self.shared.vocab()?;
        let id = check_id(token_id, vocab.width())?;
        Ok(PyBytes::new(py, vocab.bytes(id).unwrap_or(&[])))
    }

    /// Raises `ValueError` unless `tokenizer_json` (the text of a tokenizer.json) has the
    /// vocabulary this artifact was built for. The logits width and the EOS tokens are taken
    /// from the artifact (they are build options) unless `eos` names the EOS tokens.
    #[pyo3(signature = (tokenizer_json, eos=None))]
    fn check_tokenizer(&self, py: Python<'_>, tokenizer_json: &str, eos: Option<Vec<String>>) -> PyResult<()> {
        let shared = Arc::clone(&self.shared);
        let json = tokenizer_json.to_owned();
        py.allow_threads(move || check_tokenizer(&shared, &json, eos.unwrap_or_default()))
    }

    fn __repr__(&self) -> String {
        match self.shared.vocab() {
            Ok(v) => format!("<syncodec.Artifact: {} bytes, vocab_size={}, eos={:?}>", self.shared.artifact.len(), v.width(), v.eos().collect::<Vec<_>>()),
            Err(_) => format!("<syncodec.Artifact: {} bytes, no vocabulary>", self.shared.artifact.len()),
        }
    }
}

/// A Python int as a token id below `width`, or a `ValueError`.
pub(crate) fn check_id(id: i64, width: usize) -> PyResult<u32> {
    if id < 0 || id as u64 >= width as u64 {
        return Err(PyValueError::new_err(format!("token id {id} is out of range: the vocabulary has {width} ids (0..{width})")));
    }
    Ok(id as u32)
}

fn tokenizer_from_json(json: &str) -> PyResult<Tokenizer> {
    syncodec::vocab::tokenizer_from_bytes(json.as_bytes(), "tokenizer")
        .map_err(|e| PyValueError::new_err(format!("not a valid tokenizer.json: {e}")))
}

pub(crate) fn check_tokenizer(shared: &Shared, json: &str, eos: Vec<String>) -> PyResult<()> {
    let vocab = shared.vocab()?;
    let tokenizer = tokenizer_from_json(json)?;
    let eos_tokens = if eos.is_empty() {
        // The artifact's EOS ids as this tokenizer names them; a missing one means another
        // tokenizer, which the hash then shows.
        vocab.eos().map(|id| tokenizer.id_to_token(id)).collect::<Option<Vec<String>>>().unwrap_or_default()
    } else {
        eos
    };
    let options = VocabOptions { eos_tokens, vocab_size: Some(vocab.width()), allow_large_vocab_size: true };
    let found = match syncodec::vocab::from_tokenizer(&tokenizer, "tokenizer", &options) {
        Ok(v) => v.hash,
        Err(VocabError::VocabSizeTooSmall { n_tokens, .. }) => {
            return Err(PyValueError::new_err(format!(
                "vocabulary mismatch: the tokenizer has {n_tokens} token ids but the artifact was built for a vocabulary of width {}; \
                 use the tokenizer the artifact was built with, or rebuild it with syncodec.compile(grammar, tokenizer)",
                vocab.width()
            )))
        }
        Err(e) => return Err(PyValueError::new_err(format!("vocabulary mismatch: {e}"))),
    };
    if shared.artifact.check_vocabulary(&found).is_err() {
        let expected = shared.artifact.vocab_hash().map(|h| syncodec_artifacts::header::hex(&h)).unwrap_or_default();
        return Err(PyValueError::new_err(format!(
            "vocabulary mismatch: the artifact was built for a vocabulary with hash {expected}, this tokenizer's is {} \
             (same logits width {} and EOS tokens assumed); use the tokenizer the artifact was built with, or rebuild it with \
             syncodec.compile(grammar, tokenizer)",
            syncodec_artifacts::header::hex(&found),
            vocab.width()
        )));
    }
    Ok(())
}

/// The build behind `syncodec.compile`: grammar (file or text) + tokenizer.json text → artifact
/// bytes, written atomically to `output` when given (then None is returned).
#[pyfunction]
#[pyo3(signature = (grammar, grammar_is_path, tokenizer_json, tokenizer_name, *, vocab_size=None, eos=None, lr="lr1", lexer="basic", prefer_shift=false, start=None, output=None))]
#[allow(clippy::too_many_arguments)]
pub fn compile_artifact(
    py: Python<'_>,
    grammar: String,
    grammar_is_path: bool,
    tokenizer_json: String,
    tokenizer_name: String,
    vocab_size: Option<usize>,
    eos: Option<Vec<String>>,
    lr: &str,
    lexer: &str,
    prefer_shift: bool,
    start: Option<String>,
    output: Option<PathBuf>,
) -> PyResult<Option<Py<PyBytes>>> {
    let mut options = CompileOptions::default();
    options.lr.mode = match lr {
        "lr1" => syncodec::lr::LrMode::Lr1,
        "lalr" => syncodec::lr::LrMode::Lalr,
        other => return Err(PyValueError::new_err(format!("lr must be \"lr1\" or \"lalr\", not {other:?}"))),
    };
    options.contextual_lexer = match lexer {
        "basic" => false,
        "contextual" => true,
        other => return Err(PyValueError::new_err(format!("lexer must be \"basic\" or \"contextual\", not {other:?}"))),
    };
    options.lr.prefer_shift = prefer_shift;
    options.lower.start = start;
    let vocab_options = VocabOptions { eos_tokens: eos.unwrap_or_default(), vocab_size, allow_large_vocab_size: false };

    let built = py.allow_threads(move || -> Result<Vec<u8>, PyErr> {
        let (compilation, vocab) = rayon::join(
            || {
                if grammar_is_path {
                    syncodec::compile_path(Path::new(&grammar), &options).map_err(|e| PyOSError::new_err(e.to_string()))
                } else {
                    Ok(syncodec::compile_str("<grammar>", &grammar, &options))
                }
            },
            || {
                let tokenizer = tokenizer_from_json(&tokenizer_json)?;
                syncodec::vocab::from_tokenizer(&tokenizer, &tokenizer_name, &vocab_options).map_err(|e| PyValueError::new_err(e.to_string()))
            },
        );
        let compilation = compilation?;
        let vocab = vocab?;
        let Some(compiled) = compilation.ok() else {
            let name = if grammar_is_path { grammar.as_str() } else { "<grammar>" };
            return Err(build_error(BuildError::Grammar { grammar: name.to_owned(), messages: compilation.error_lines() }));
        };
        let built = syncodec::build_artifact(compiled, &vocab, &tokenizer_name, &|_, _| {}).map_err(build_error)?;
        Ok(built.bytes)
    })?;
    match output {
        Some(path) => {
            py.allow_threads(|| syncodec::emit::write_atomic(&path, &built)).map_err(|e| PyOSError::new_err(e.to_string()))?;
            Ok(None)
        }
        None => Ok(Some(PyBytes::new(py, &built).unbind())),
    }
}

fn build_error(e: BuildError) -> PyErr {
    match e {
        BuildError::Read(e) => PyOSError::new_err(e.to_string()),
        BuildError::Emit(e) => PyOSError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}
