"""HF transformers integration: a ``LogitsProcessor`` that keeps generated code grammatical.

>>> from transformers import AutoModelForCausalLM, AutoTokenizer
>>> import syncodec, syncodec.hf
>>> tokenizer = AutoTokenizer.from_pretrained(MODEL)
>>> artifact = syncodec.Artifact.from_bytes(syncodec.compile("grammars/json.ebnf", tokenizer))
>>> inputs = tokenizer(["Some JSON: "], return_tensors="pt")
>>> processor = syncodec.hf.GrammarLogitsProcessor(artifact, tokenizer, inputs.input_ids.shape[1])
>>> out = model.generate(**inputs, logits_processor=[processor], do_sample=True,
...                      eos_token_id=artifact.eos_token_ids, max_new_tokens=200)

The text after the prompt is constrained (``prefix`` adds code that is already there). Batches
and beam search work: every call reads each row's generated tokens from ``input_ids`` and
brings that row's matcher to them (one ``accept_token`` in the common case; after beams are
reordered, a rollback to the common prefix and the tokens after it). Rows that produced EOS
are left alone (generate pads them). Special and padding ids are never allowed by the mask.

A sampled token that the grammar refuses (possible only while masks are a superset of the
valid tokens rather than exact) never raises: the row is marked broken, a warning names it,
its refusal is recorded in :attr:`GrammarLogitsProcessor.refusals`, and from then on only EOS
is allowed on that row, so the sequence ends.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

import torch

from . import Artifact, Matcher, allocate_token_bitmask, apply_token_bitmask_inplace, fill_next_token_bitmasks, tokenizer_json

try:  # transformers is optional: the class works as a plain callable without it.
    from transformers import LogitsProcessor as _Base
except ImportError:  # pragma: no cover
    _Base = object


@dataclass
class Refusal:
    """A sampled token the grammar refused: batch row, position after the prompt, token id."""

    row: int
    position: int
    token_id: int
    text_before: bytes
    #: Whether the mask allowed the token (True: a false-allowed token of a superset mask;
    #: False would mean the mask was not applied to the logits that were sampled).
    in_mask: bool


@dataclass
class _Row:
    matcher: Matcher
    tokens: List[int] = field(default_factory=list)
    broken: bool = False


class GrammarLogitsProcessor(_Base):
    """Masks every token that cannot continue the grammar, per row of the batch.

    ``artifact``: a :class:`syncodec.Artifact` (or a path to one); ``tokenizer``: the model's
    tokenizer (HF fast tokenizer, tokenizer.json path or JSON text), checked against the
    artifact's vocabulary (``ValueError`` on a mismatch); ``prompt_len``: the number of prompt
    tokens in ``input_ids`` (``inputs.input_ids.shape[1]``, the same for every row when the
    batch is left-padded, as generate expects). ``prefix``: code already present before the
    generated tokens; ``sequence_start``: True when there is no prompt before the constrained
    text (SentencePiece tokenizers then strip the first token's leading space).
    """

    def __init__(
        self,
        artifact: Any,
        tokenizer: Any,
        prompt_len: int,
        *,
        prefix: bytes | str = b"",
        sequence_start: bool = False,
        check_tokenizer: bool = True,
    ) -> None:
        if not isinstance(artifact, Artifact):
            artifact = Artifact.open(artifact)
        if check_tokenizer and tokenizer is not None:
            _check_tokenizer(artifact, tokenizer)
        if prompt_len < 0:
            raise ValueError(f"prompt_len must be >= 0, not {prompt_len}")
        self.artifact = artifact
        self.prompt_len = int(prompt_len)
        self.prefix = prefix
        self.sequence_start = sequence_start
        self.eos_token_ids = list(artifact.eos_token_ids)
        self.rows: List[_Row] = []
        self.refusals: List[Refusal] = []
        self.empty_masks = 0
        self._bitmask: Optional[torch.Tensor] = None

    def _new_row(self) -> _Row:
        return _Row(Matcher(self.artifact, self.prefix, sequence_start=self.sequence_start))

    @property
    def num_refused(self) -> int:
        """Sampled tokens the grammar refused so far (0 once masks are exact)."""
        return len(self.refusals)

    def texts(self) -> List[bytes]:
        """The constrained text of every row so far (the prefix and the accepted tokens)."""
        return [row.matcher.text for row in self.rows]

    def is_broken(self, row: int) -> bool:
        """Whether a refused token ended row ``row``'s constraint."""
        return self.rows[row].broken

    def _sync(self, index: int, row: _Row, generated: Sequence[int]) -> None:
        """Brings the row's matcher to ``generated`` (the row's tokens after the prompt)."""
        if row.broken or row.matcher.is_terminated():
            row.tokens = list(generated)
            return
        have = row.tokens
        common = 0
        limit = min(len(have), len(generated))
        while common < limit and have[common] == generated[common]:
            common += 1
        if common < len(have):
            # Beam search reordered rows: go back to the common prefix.
            undo = len(have) - common
            if undo <= row.matcher.num_accepted:
                row.matcher.rollback(undo)
            else:
                row.matcher = self._new_row().matcher
                common = 0
            row.tokens = list(generated[:common])
        for position in range(common, len(generated)):
            token = int(generated[position])
            if row.matcher.is_terminated():
                break
            if not row.matcher.accept_token(token):
                in_mask = token in set(row.matcher.allowed_token_ids())
                self.refusals.append(Refusal(index, position, token, row.matcher.text, in_mask))
                warnings.warn(
                    f"syncodec: row {index} sampled token {token} at position {position}, which the grammar refuses "
                    "(the mask allowed it: masks are a superset of the valid tokens); this row now only allows EOS",
                    RuntimeWarning,
                    stacklevel=3,
                )
                row.broken = True
                row.tokens = list(generated)
                return
            row.tokens.append(token)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        batch = input_ids.shape[0]
        if not self.rows:
            self.rows = [self._new_row() for _ in range(batch)]
        elif len(self.rows) != batch:
            raise ValueError(f"the batch has {batch} rows, this processor was started with {len(self.rows)}: use one processor per generate call")
        generated = input_ids[:, self.prompt_len :].tolist()
        for i, row in enumerate(self.rows):
            self._sync(i, row, generated[i])

        width = self.artifact.vocab_size
        if self._bitmask is None or self._bitmask.shape[0] != batch:
            self._bitmask = allocate_token_bitmask(batch, width)
        bitmask = self._bitmask
        live = [i for i, row in enumerate(self.rows) if not row.broken and not row.matcher.is_terminated()]
        fill_next_token_bitmasks([self.rows[i].matcher for i in live], bitmask, live)
        for i, row in enumerate(self.rows):
            if i in live:
                continue
            bitmask[i].zero_()
            if row.broken:
                for eos in self.eos_token_ids:
                    bitmask[i, eos >> 5] |= _bit(eos & 31)
            else:
                bitmask[i].fill_(-1)  # finished: generate pads it, keep softmax finite
        for i in live:
            if not bool(bitmask[i].any()):
                # A dead end (no token allowed): end the row rather than produce NaNs.
                self.empty_masks += 1
                for eos in self.eos_token_ids:
                    bitmask[i, eos >> 5] |= _bit(eos & 31)
        target = scores if scores.is_contiguous() else scores.contiguous()
        apply_token_bitmask_inplace(target, bitmask)
        if target is not scores:
            scores.copy_(target)
        return scores


_checked: dict = {}


def _check_tokenizer(artifact: Artifact, tokenizer: Any) -> None:
    """``artifact.check_tokenizer`` once per (artifact vocabulary, tokenizer JSON): loading a
    tokenizer.json takes a second or more, and generate is called many times."""
    text = tokenizer_json(tokenizer)
    key = (artifact.vocab_hash, artifact.vocab_size, tuple(artifact.eos_token_ids), hash(text), len(text))
    if key not in _checked:
        artifact.check_tokenizer(text)
        _checked[key] = True


def _bit(k: int) -> int:
    """Bit ``k`` of an int32 word as a Python int (bit 31 is negative)."""
    return (1 << k) - (1 << 32) if k == 31 else 1 << k
