"""The vLLM adapter against vLLM's real StructuredOutputBackend/Grammar base classes, where vLLM
imports (it is not installed by python/tests/run.sh: its pins conflict with the test venv's
transformers; see docs/python.md)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("vllm.v1.structured_output.backend_types", reason="vLLM is not installed")

import syncodec  # noqa: E402
from vllm.v1.structured_output.backend_types import StructuredOutputBackend, StructuredOutputGrammar, StructuredOutputOptions  # noqa: E402

from conftest import GRAMMARS, OWN_TOKENIZER  # noqa: E402


def test_backend_and_grammar(tmp_path, own_vocab):
    transformers = pytest.importorskip("transformers")
    from syncodec.vllm import SyncodecBackend

    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(OWN_TOKENIZER))
    backend = SyncodecBackend(vllm_config=None, tokenizer=tok, vocab_size=8192)
    assert isinstance(backend, StructuredOutputBackend)
    path = syncodec.compile(GRAMMARS / "json.ebnf", tok, output=tmp_path / "json.syncode")
    for spec in (path, str(GRAMMARS / "json.ebnf")):
        grammar = backend.compile_grammar(StructuredOutputOptions.GRAMMAR, spec)
        assert isinstance(grammar, StructuredOutputGrammar)
        bitmask = backend.allocate_token_bitmask(4)
        v = own_vocab
        assert grammar.accept_tokens("r", [v["["], v["1"]])
        assert not grammar.accept_tokens("r", [v[","], v["]"], v["]"]])  # all or nothing
        assert grammar.num_processed_tokens == 2
        assert grammar.validate_tokens([v[","], v["2"], v["]"], v["]"]]) == [v[","], v["2"], v["]"]]
        grammar.fill_bitmask(bitmask, 2)
        reference = syncodec.Matcher(backend._artifact(spec), "[1")
        expected = syncodec.allocate_token_bitmask(1, 8192)
        reference.fill_next_token_bitmask(expected)
        assert np.array_equal(bitmask[2].numpy(), expected[0].numpy())
        grammar.rollback(1)
        assert grammar.accept_tokens("r", [v["]"], tok.convert_tokens_to_ids("<|endoftext|>")])
        assert grammar.is_terminated()
        grammar.reset()
        assert not grammar.is_terminated() and grammar.num_processed_tokens == 0
    with pytest.raises(ValueError, match="GRAMMAR"):
        backend.compile_grammar(StructuredOutputOptions.JSON, "{}")
    backend.destroy()
