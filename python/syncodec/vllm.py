"""vLLM structured-output backend over syncodec matchers (vLLM's v1 ``StructuredOutputBackend``
and ``StructuredOutputGrammar`` interfaces).

The grammar spec of a ``GRAMMAR`` request names a prebuilt artifact (``*.syncode`` or
``*.syncode.zst``: the fleet use case, built once with ``syncodec build``), a grammar file, or
the grammar text; the last two are compiled for the engine's tokenizer and vocabulary size on
first use and cached per spec. Artifacts are checked against the engine's tokenizer.

Status: exercised against the real base classes of vLLM 0.34.0 (installed without a GPU, with
``--no-deps`` plus the few modules its import chain needs; see docs/python.md) by
``python/tests/test_vllm.py``. vLLM picks its structured-output backend by name inside the
engine and has no out-of-tree registry for it, so wiring this class into a running engine is not
done here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from vllm.v1.structured_output.backend_types import (
    StructuredOutputBackend,
    StructuredOutputGrammar,
    StructuredOutputOptions,
)

from . import Artifact, Matcher, allocate_token_bitmask, compile, tokenizer_json


class SyncodecGrammar(StructuredOutputGrammar):
    """One request's constraint: a :class:`syncodec.Matcher`."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.num_processed_tokens = 0

    def accept_tokens(self, request_id: str, tokens: List[int]) -> bool:
        accepted = 0
        for token in tokens:
            if not self.matcher.accept_token(int(token)):
                self.matcher.rollback(accepted)  # a refusal leaves the state unchanged
                return False
            accepted += 1
        self.num_processed_tokens += accepted
        return True

    def validate_tokens(self, tokens: List[int]) -> List[int]:
        return list(tokens[: self.matcher.validate_tokens([int(t) for t in tokens])])

    def rollback(self, num_tokens: int) -> None:
        self.matcher.rollback(num_tokens)
        self.num_processed_tokens -= num_tokens

    def fill_bitmask(self, bitmask: torch.Tensor, batch_index: int) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, batch_index)

    def is_terminated(self) -> bool:
        return self.matcher.is_terminated()

    def reset(self) -> None:
        self.matcher.reset()
        self.num_processed_tokens = 0


@dataclass
class SyncodecBackend(StructuredOutputBackend):
    """Engine-level backend: artifacts by grammar spec, one matcher per request."""

    _artifacts: Dict[str, Artifact] = field(default_factory=dict, init=False, repr=False)

    def _artifact(self, spec: str) -> Artifact:
        artifact = self._artifacts.get(spec)
        if artifact is None:
            if spec.endswith((".syncode", ".syncode.zst")) and os.path.isfile(spec):
                artifact = Artifact.open(spec)
                artifact.check_tokenizer(tokenizer_json(self.tokenizer))
            else:
                artifact = Artifact.from_bytes(compile(spec, self.tokenizer, vocab_size=self.vocab_size))
            if artifact.vocab_size != self.vocab_size:
                raise ValueError(f"the artifact's vocabulary size is {artifact.vocab_size}, the model's {self.vocab_size}: rebuild it with --vocab-size {self.vocab_size}")
            self._artifacts[spec] = artifact
        return artifact

    def compile_grammar(self, request_type: StructuredOutputOptions, grammar_spec: str, stop_token_ids: Optional[set] = None) -> StructuredOutputGrammar:
        if request_type != StructuredOutputOptions.GRAMMAR:
            raise ValueError(f"the syncodec backend serves GRAMMAR requests (an artifact, a grammar file or grammar text), not {request_type.name}")
        return SyncodecGrammar(Matcher(self._artifact(grammar_spec)))

    def allocate_token_bitmask(self, max_num_seqs: int) -> torch.Tensor:
        return allocate_token_bitmask(max_num_seqs, self.vocab_size)

    def destroy(self) -> None:
        self._artifacts.clear()
