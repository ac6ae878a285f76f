"""The bitmask a Matcher writes equals the Rust session's at every teacher-forced position of a
real file, for every real tokenizer and the project's own, on json, python and go."""

from __future__ import annotations

import numpy as np
import pytest

import syncodec
from syncodec import _syncodec

from conftest import REAL_FILES, artifact_for, require, tokenizer_paths

CASES = [(grammar, tok) for grammar in REAL_FILES for tok in tokenizer_paths()]


@pytest.mark.parametrize("grammar,tokenizer", CASES, ids=[f"{g}-{t.stem}" for g, t in CASES])
def test_bitmask_equals_session_at_every_position(grammar, tokenizer):
    path = require(REAL_FILES[grammar](), f"the {grammar} sample file")
    artifact = artifact_for(grammar, tokenizer)
    tokenizer_json = tokenizer.read_text(encoding="utf-8")
    artifact.check_tokenizer(tokenizer_json)
    ids, rows = _syncodec.teacher_forced_rows(artifact, tokenizer_json, path.read_bytes())
    if ids is None:
        pytest.skip(f"{path.name} cannot be teacher-forced with {tokenizer.name}: {rows}")
    words = artifact.bitmask_words
    expected = np.frombuffer(rows, dtype="<u4").view(np.int32).reshape(len(ids) + 1, words)

    matcher = syncodec.Matcher(artifact, sequence_start=True)
    bitmask = syncodec.allocate_token_bitmask(3, artifact.vocab_size, backend="numpy")
    for position, token in enumerate(ids):
        row = position % 3
        matcher.fill_next_token_bitmask(bitmask, row)
        assert np.array_equal(bitmask[row], expected[position]), f"{path.name}: bitmask differs at token {position}"
        assert (int(bitmask[row, token >> 5]) >> (token & 31)) & 1, f"{path.name}: true token {token} at {position} is masked"
        assert matcher.accept_token(token), f"{path.name}: token {token} at {position} refused"
    matcher.fill_next_token_bitmask(bitmask, 0)
    assert np.array_equal(bitmask[0], expected[-1])
    assert matcher.is_complete()
    assert matcher.text == path.read_bytes()
    eos = artifact.eos_token_ids
    if eos:
        assert (int(bitmask[0, eos[0] >> 5]) >> (eos[0] & 31)) & 1, "EOS must be allowed at the end of the file"
        assert matcher.accept_token(eos[0]) and matcher.is_terminated()
        matcher.rollback(1)
        assert not matcher.is_terminated()

    # Back to the start by rollback, then the batch path on three matchers at three positions.
    matcher.rollback(len(ids))
    matcher.fill_next_token_bitmask(bitmask, 1)
    assert np.array_equal(bitmask[1], expected[0])
    middle = len(ids) // 2
    others = [syncodec.Matcher(artifact, sequence_start=True) for _ in range(2)]
    for token in ids[:middle]:
        assert others[0].accept_token(token)
    for token in ids:
        assert others[1].accept_token(token)
    batch = syncodec.allocate_token_bitmask(3, artifact.vocab_size, backend="numpy")
    syncodec.fill_next_token_bitmasks([matcher, *others], batch, [2, 0, 1])
    assert np.array_equal(batch[2], expected[0])
    assert np.array_equal(batch[0], expected[middle])
    assert np.array_equal(batch[1], expected[-1])
