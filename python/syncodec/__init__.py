"""syncodec: grammar-constrained decoding (the SynCode method) from Python.

A grammar (Lark-style EBNF) and a tokenizer are compiled once into an *artifact*
(:func:`compile`); at run time a :class:`Matcher` per sequence fills the bitmask of the
tokens that keep the text a valid program prefix (bit ``t & 31`` of int32 word ``t >> 5``
of a row, the layout vLLM, SGLang and xgrammar use), and
:func:`apply_token_bitmask_inplace` sets the logits of the other tokens to -inf.

>>> import syncodec, torch
>>> syncodec.compile("grammars/json.ebnf", "tokenizer.json", output="json.syncode")
>>> artifact = syncodec.Artifact.open("json.syncode")
>>> matcher = syncodec.Matcher(artifact)
>>> bitmask = syncodec.allocate_token_bitmask(1, artifact.vocab_size)
>>> matcher.fill_next_token_bitmask(bitmask)
>>> syncodec.apply_token_bitmask_inplace(logits, bitmask)
>>> matcher.accept_token(int(logits.argmax()))

HF transformers: :class:`syncodec.hf.GrammarLogitsProcessor`.
"""

from __future__ import annotations

import json as _json
import os
from typing import Any, Optional, Sequence, Union

from . import _syncodec
from ._syncodec import Artifact, Matcher, __version__

__all__ = [
    "Artifact",
    "Matcher",
    "compile",
    "tokenizer_json",
    "allocate_token_bitmask",
    "fill_next_token_bitmasks",
    "apply_token_bitmask_inplace",
    "bitmask_words",
    "__version__",
]


def bitmask_words(vocab_size: int) -> int:
    """int32 words per bitmask row: ``ceil(vocab_size / 32)``."""
    return (int(vocab_size) + 31) // 32


def tokenizer_json(tokenizer: Any) -> str:
    """The text of a tokenizer.json, from a path, the JSON text itself, or an HF fast tokenizer.

    Accepts a ``str``/``os.PathLike`` path to a ``tokenizer.json`` (or to a directory holding
    one), the JSON text, a ``tokenizers.Tokenizer``, or a transformers
    ``PreTrainedTokenizerFast`` (its backend tokenizer's JSON is read, so users need not find
    the file).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return backend.to_str()
    if hasattr(tokenizer, "to_str") and callable(tokenizer.to_str):
        return tokenizer.to_str()
    if isinstance(tokenizer, (bytes, bytearray)):
        return bytes(tokenizer).decode("utf-8")
    if isinstance(tokenizer, os.PathLike) or (isinstance(tokenizer, str) and not tokenizer.lstrip().startswith("{")):
        path = os.fspath(tokenizer)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            return f.read()
    if isinstance(tokenizer, str):
        return tokenizer
    raise TypeError(
        "tokenizer must be a tokenizer.json path, its JSON text, a tokenizers.Tokenizer or a "
        f"transformers PreTrainedTokenizerFast, not {type(tokenizer).__name__} "
        "(slow tokenizers have no tokenizer.json: load the model with use_fast=True)"
    )


def _tokenizer_name(tokenizer: Any) -> str:
    if isinstance(tokenizer, (str, os.PathLike)) and not str(tokenizer).lstrip().startswith("{"):
        return os.path.basename(os.fspath(tokenizer)) or "tokenizer.json"
    name = getattr(tokenizer, "name_or_path", None)
    return f"{name}/tokenizer.json" if name else "tokenizer.json"


def compile(
    grammar: Union[str, "os.PathLike[str]"],
    tokenizer: Any,
    *,
    vocab_size: Optional[int] = None,
    eos: Optional[Union[str, Sequence[str]]] = None,
    lr: str = "lr1",
    lexer: str = "basic",
    prefer_shift: bool = False,
    start: Optional[str] = None,
    output: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> Union[bytes, str]:
    """Compiles a grammar for a tokenizer into an artifact (the build of ``syncodec build``).

    ``grammar`` is a grammar file path (``.ebnf``/``.lark``) or the grammar text itself;
    ``tokenizer`` anything :func:`tokenizer_json` accepts. ``vocab_size`` sets the logits width
    when the model pads its vocabulary; ``eos`` names the EOS token(s) (default: read from the
    tokenizer); ``lr`` is ``"lr1"`` or ``"lalr"``; ``lexer="contextual"`` and
    ``prefer_shift=True`` give Lark's behaviour for grammars written for Lark.

    Runs with the GIL released, on all cores. Returns the artifact's bytes, or, with
    ``output``, writes the file atomically and returns its path. Raises ``ValueError`` for
    grammar errors (every error, ``file:line:col: message``) and bad tokenizers, ``OSError``
    when a file cannot be read or written.
    """
    text = tokenizer_json(tokenizer)
    if isinstance(grammar, os.PathLike):
        grammar_text, is_path = os.fspath(grammar), True
    elif isinstance(grammar, str) and "\n" not in grammar and os.path.isfile(grammar):
        grammar_text, is_path = grammar, True
    elif isinstance(grammar, str):
        grammar_text, is_path = grammar, False
    else:
        raise TypeError(f"grammar must be a path or the grammar text, not {type(grammar).__name__}")
    if isinstance(eos, str):
        eos = [eos]
    out = _syncodec.compile_artifact(
        grammar_text,
        is_path,
        text,
        _tokenizer_name(tokenizer),
        vocab_size=vocab_size,
        eos=list(eos) if eos else None,
        lr=lr,
        lexer=lexer,
        prefer_shift=prefer_shift,
        start=start,
        output=os.fspath(output) if output is not None else None,
    )
    return os.fspath(output) if output is not None else out


def allocate_token_bitmask(batch_size: int, vocab_size: int, *, backend: str = "torch"):
    """A ``(batch_size, ceil(vocab_size / 32))`` int32 bitmask, all tokens allowed.

    ``backend`` is ``"torch"`` (a CPU tensor; pin or move it yourself) or ``"numpy"``.
    """
    shape = (int(batch_size), bitmask_words(vocab_size))
    if backend == "torch":
        import torch

        return torch.full(shape, -1, dtype=torch.int32)
    if backend == "numpy":
        import numpy

        return numpy.full(shape, -1, dtype=numpy.int32)
    raise ValueError(f'backend must be "torch" or "numpy", not {backend!r}')


def fill_next_token_bitmasks(matchers: Sequence[Matcher], bitmask: Any, indices: Optional[Sequence[int]] = None) -> None:
    """Fills row ``indices[i]`` (default ``i``) of ``bitmask`` for ``matchers[i]``, for every ``i``.

    The rows are filled in parallel on all cores with the GIL released. ``bitmask`` is an int32
    numpy array or CPU torch tensor of shape ``(B, ceil(vocab_size / 32))``; rows must be
    distinct and every matcher listed once.
    """
    _syncodec.fill_next_token_bitmasks(list(matchers), bitmask, None if indices is None else [int(i) for i in indices])


def apply_token_bitmask_inplace(logits: Any, bitmask: Any, indices: Optional[Sequence[int]] = None) -> None:
    """Sets the logits of disallowed tokens to -inf, in place.

    ``logits`` is ``(B, V)`` (or ``(V,)``), ``bitmask`` ``(B, ceil(V' / 32))`` int32; logits row
    ``i`` is masked with bitmask row ``i``, for every row or only for ``i in indices``. Logits
    past the mask's ``32 * words`` columns (a vocabulary padded by the model) become -inf.

    CPU tensors and numpy arrays (float32, float16, and torch bfloat16) go through the runtime's
    vectorized Rust path (AVX2/AVX-512 where available) with the GIL released. CUDA (or other
    device) tensors are masked with torch's own ops (unpacking the bits on the device, then
    ``masked_fill_``): correct everywhere, not as fast as a fused kernel; the project's CUDA
    kernel (crate ``syncodec-cuda``) is not loaded from Python yet.
    """
    from ._syncodec import apply_token_bitmask_inplace_cpu
    from .buffers import device_of

    if device_of(logits) in (None, "cpu"):
        apply_token_bitmask_inplace_cpu(logits, bitmask, None if indices is None else [int(i) for i in indices])
        return
    _apply_torch(logits, bitmask, indices)


def _apply_torch(logits: Any, bitmask: Any, indices: Optional[Sequence[int]]) -> None:
    import torch

    if bitmask.dtype != torch.int32:
        raise TypeError(f"bitmask must have dtype int32, not {bitmask.dtype}")
    squeeze = logits.dim() == 1
    rows = logits.unsqueeze(0) if squeeze else logits
    mask = bitmask.unsqueeze(0) if bitmask.dim() == 1 else bitmask
    if rows.dim() != 2 or mask.dim() != 2:
        raise ValueError(f"logits and bitmask must be 1-D or 2-D, got {tuple(logits.shape)} and {tuple(bitmask.shape)}")
    mask = mask.to(rows.device, non_blocking=True)
    width = rows.shape[1]
    shifts = torch.arange(32, device=rows.device, dtype=torch.int32)
    allowed = ((mask.unsqueeze(-1) >> shifts) & 1).bool().reshape(mask.shape[0], -1)
    if allowed.shape[1] < width:
        pad = torch.zeros(allowed.shape[0], width - allowed.shape[1], dtype=torch.bool, device=rows.device)
        allowed = torch.cat([allowed, pad], dim=1)
    allowed = allowed[:, :width]
    if indices is None:
        if mask.shape[0] < rows.shape[0]:
            raise ValueError(f"bitmask has {mask.shape[0]} rows, logits {rows.shape[0]}")
        rows.masked_fill_(~allowed[: rows.shape[0]], float("-inf"))
    else:
        ix = [int(i) for i in indices]
        for i in ix:
            if not (0 <= i < rows.shape[0] and i < mask.shape[0]):
                raise IndexError(f"index {i} is out of range for {rows.shape[0]} logits rows and {mask.shape[0]} bitmask rows")
        index = torch.tensor(ix, device=rows.device, dtype=torch.long)
        sub = rows.index_select(0, index).masked_fill_(~allowed.index_select(0, index), float("-inf"))
        rows.index_copy_(0, index, sub)
