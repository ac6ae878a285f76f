"""Matcher round trips, the numpy and torch buffer paths, apply, compile, and errors: every bad
input is a Python exception, never a crash."""

from __future__ import annotations

import os

import numpy as np
import pytest

import syncodec

from conftest import GRAMMARS, OWN_TOKENIZER

try:
    import torch
except ImportError:  # the CI venv has torch; a bare dev venv may not
    torch = None

needs_torch = pytest.mark.skipif(torch is None and os.environ.get("CI") != "true", reason="torch is not installed")


def bits(row) -> set[int]:
    row = np.asarray(row).view(np.uint32)
    return {w * 32 + b for w in range(len(row)) for b in range(32) if (int(row[w]) >> b) & 1}


def mask_of(matcher, width) -> np.ndarray:
    out = syncodec.allocate_token_bitmask(1, width, backend="numpy")
    matcher.fill_next_token_bitmask(out)
    return out[0].copy()


def test_accept_rollback_reset_round_trip(json_artifact, own_vocab):
    a, v = json_artifact, own_vocab
    m = syncodec.Matcher(a)
    start = mask_of(m, a.vocab_size)
    assert set(m.allowed_token_ids()) == bits(start)
    assert m.accept_token(v["{"])
    after_brace = mask_of(m, a.vocab_size)
    assert v["}"] in m.allowed_token_ids()
    assert not m.accept_token(v["{"])  # `{{` is not JSON: refused, state unchanged
    assert m.num_refused == 1
    assert np.array_equal(mask_of(m, a.vocab_size), after_brace)
    assert m.accept_token(v["}"])
    assert m.is_complete() and not m.is_terminated()
    eos = a.eos_token_ids[0]
    assert m.is_token_valid(eos)
    assert m.accept_token(eos) and m.is_terminated()
    assert not m.accept_token(v["}"])  # nothing after EOS
    assert m.num_accepted == 3
    m.rollback(1)
    assert not m.is_terminated() and m.is_complete()
    m.rollback(2)
    assert m.text == b"" and np.array_equal(mask_of(m, a.vocab_size), start)
    assert m.validate_tokens([v["["], v["1"], v["]"], v["]"]]) == 3
    assert m.num_accepted == 0, "validate_tokens leaves the state unchanged"
    assert m.accept_string("[1, ") and m.text == b"[1, "
    assert not m.accept_string("]")
    m.reset()
    assert m.text == b"" and m.num_refused == 0
    assert np.array_equal(mask_of(m, a.vocab_size), start)


def test_prefix(json_artifact, own_vocab):
    m = syncodec.Matcher(json_artifact, '{"a": ')
    assert m.text == b'{"a": '
    assert not m.is_token_valid(own_vocab["}"])
    m.accept_token(own_vocab["1"])
    m.reset()
    assert m.text == b'{"a": '
    with pytest.raises(ValueError, match="not a valid program prefix"):
        syncodec.Matcher(json_artifact, "}")


@needs_torch
def test_torch_and_numpy_paths_agree(json_artifact, own_vocab):
    a = json_artifact
    m = syncodec.Matcher(a, "[")
    t = syncodec.allocate_token_bitmask(4, a.vocab_size)
    n = syncodec.allocate_token_bitmask(4, a.vocab_size, backend="numpy")
    assert t.dtype == torch.int32 and t.shape == (4, a.bitmask_words)
    m.fill_next_token_bitmask(t, 3)
    m.fill_next_token_bitmask(n, 3)
    assert np.array_equal(t.numpy(), n)
    assert (t[0] == -1).all(), "other rows untouched"
    one = torch.zeros(a.bitmask_words, dtype=torch.int32)
    m.fill_next_token_bitmask(one)
    assert np.array_equal(one.numpy(), n[3])


def test_batch_fill(json_artifact, own_vocab):
    a, v = json_artifact, own_vocab
    ms = [syncodec.Matcher(a) for _ in range(9)]
    for i, m in enumerate(ms):
        for tok in ["[", "1", ",", "2", ",", "3", ",", "4"][:i]:
            assert m.accept_token(v[tok])
    batch = syncodec.allocate_token_bitmask(12, a.vocab_size, backend="numpy")
    rows = [11, 0, 5, 3, 2, 1, 4, 6, 7]
    syncodec.fill_next_token_bitmasks(ms, batch, rows)
    for m, r in zip(ms, rows):
        assert np.array_equal(batch[r], mask_of(m, a.vocab_size))
    assert (batch[8] == -1).all()
    with pytest.raises(ValueError, match="listed twice"):
        syncodec.fill_next_token_bitmasks(ms[:2], batch, [1, 1])
    with pytest.raises(ValueError, match="listed twice|in use"):
        syncodec.fill_next_token_bitmasks([ms[0], ms[0]], batch, [1, 2])
    with pytest.raises(IndexError):
        syncodec.fill_next_token_bitmasks(ms[:1], batch, [12])
    with pytest.raises(ValueError, match="indices"):
        syncodec.fill_next_token_bitmasks(ms[:2], batch, [0])
    syncodec.fill_next_token_bitmasks([], batch)


def reference_apply(logits: np.ndarray, bitmask: np.ndarray) -> np.ndarray:
    out = logits.astype(np.float32).copy()
    allowed = np.unpackbits(bitmask.view(np.uint8).reshape(bitmask.shape[0], -1), axis=1, bitorder="little").astype(bool)
    width = out.shape[1]
    allowed = np.pad(allowed, ((0, 0), (0, max(0, width - allowed.shape[1]))))[:, :width]
    out[~allowed] = -np.inf
    return out


def test_apply_numpy(json_artifact):
    rng = np.random.default_rng(0)
    words = json_artifact.bitmask_words
    mask = rng.integers(-(2**31), 2**31, size=(3, words), dtype=np.int64).astype(np.int32)
    for dtype in (np.float32, np.float16):
        logits = rng.standard_normal((3, words * 32 + 40)).astype(dtype)  # padded past the mask
        expected = reference_apply(logits, mask)
        syncodec.apply_token_bitmask_inplace(logits, mask)
        assert np.array_equal(logits.astype(np.float32), expected)
    logits = rng.standard_normal((3, 100)).astype(np.float32)
    before = logits.copy()
    syncodec.apply_token_bitmask_inplace(logits, mask, indices=[2])
    assert np.array_equal(logits[:2], before[:2])
    assert np.array_equal(logits[2], reference_apply(before[2:], mask[2:])[0])


@needs_torch
def test_apply_torch_dtypes_and_fallback():
    gen = torch.Generator().manual_seed(0)
    mask = torch.randint(-(2**31), 2**31 - 1, (4, 10), dtype=torch.int32, generator=gen)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        logits = torch.randn(4, 330, generator=gen).to(dtype)
        expected = reference_apply(logits.float().numpy(), mask.numpy())
        cpu = logits.clone()
        syncodec.apply_token_bitmask_inplace(cpu, mask)
        assert np.array_equal(cpu.float().numpy(), expected)
        torch_path = logits.clone()
        syncodec._apply_torch(torch_path, mask, None)  # the device fallback, run on the CPU
        assert torch.equal(torch_path, cpu)
        partial = logits.clone()
        syncodec._apply_torch(partial, mask, [1, 3])
        assert torch.equal(partial[[0, 2]], logits[[0, 2]]) and torch.equal(partial[[1, 3]], cpu[[1, 3]])


@needs_torch
def test_bad_buffers_are_exceptions(json_artifact):
    a = json_artifact
    m = syncodec.Matcher(a)
    w = a.bitmask_words
    with pytest.raises(TypeError, match="dtype"):
        m.fill_next_token_bitmask(torch.zeros(1, w, dtype=torch.int64))
    with pytest.raises(TypeError, match="dtype"):
        m.fill_next_token_bitmask(np.zeros((1, w), dtype=np.uint8))
    with pytest.raises(ValueError, match="words"):
        m.fill_next_token_bitmask(torch.zeros(1, w + 1, dtype=torch.int32))
    with pytest.raises(ValueError, match="contiguous"):
        m.fill_next_token_bitmask(torch.zeros(w, 2, dtype=torch.int32).t())
    with pytest.raises(ValueError, match="contiguous"):
        m.fill_next_token_bitmask(np.zeros((2, 2 * w), dtype=np.int32)[:, ::2])
    ro = np.zeros((1, w), dtype=np.int32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        m.fill_next_token_bitmask(ro)
    with pytest.raises(ValueError, match="CPU"):
        m.fill_next_token_bitmask(torch.zeros(1, w, dtype=torch.int32, device="meta"))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        m.fill_next_token_bitmask(np.zeros((1, 1, w), dtype=np.int32))
    with pytest.raises(IndexError):
        m.fill_next_token_bitmask(np.zeros((2, w), dtype=np.int32), index=-1)
    with pytest.raises(TypeError, match="torch.Tensor or a numpy.ndarray"):
        m.fill_next_token_bitmask([0] * w)
    with pytest.raises(TypeError, match="dtype"):
        syncodec.apply_token_bitmask_inplace(torch.zeros(1, 64, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="rows"):
        syncodec.apply_token_bitmask_inplace(torch.zeros(3, 64), torch.zeros(2, 2, dtype=torch.int32))
    with pytest.raises(IndexError):
        syncodec.apply_token_bitmask_inplace(torch.zeros(2, 64), torch.zeros(2, 2, dtype=torch.int32), indices=[2])


def test_bad_ids_are_exceptions(json_artifact, own_vocab):
    m = syncodec.Matcher(json_artifact)
    width = json_artifact.vocab_size
    for bad in (-1, width, 2**40):
        with pytest.raises(ValueError, match="out of range"):
            m.accept_token(bad)
        with pytest.raises(ValueError, match="out of range"):
            m.is_token_valid(bad)
        with pytest.raises(ValueError, match="out of range"):
            m.validate_tokens([own_vocab["["], bad])
    assert m.num_accepted == 0
    with pytest.raises(ValueError, match="roll back"):
        m.rollback(1)
    with pytest.raises(ValueError):
        m.rollback(-1)
    pad = own_vocab.get("<|pad|>")
    assert pad is not None and not m.accept_token(pad), "special tokens are refused, not errors"
    with pytest.raises(TypeError):
        m.accept_token("x")


def test_compile_text_errors_and_files(tmp_path):
    grammar = 'start: "a" B\nB: /b+/\n'
    data = syncodec.compile(grammar, OWN_TOKENIZER)
    a = syncodec.Artifact.from_bytes(data)
    m = syncodec.Matcher(a)
    assert m.accept_string("abb") and m.is_complete()
    out = syncodec.compile(grammar, OWN_TOKENIZER.read_text(), output=tmp_path / "ab.syncode", lr="lalr")
    assert out == str(tmp_path / "ab.syncode")
    assert len(syncodec.Artifact.open(out)) > 0
    with pytest.raises(ValueError, match=r"2:\d+"):
        syncodec.compile('start: "a" B\nB: /b+/ )\n', OWN_TOKENIZER)
    with pytest.raises(ValueError, match="undefined|not defined|unknown"):
        syncodec.compile("start: c\n", OWN_TOKENIZER)
    with pytest.raises(ValueError, match="lr"):
        syncodec.compile(grammar, OWN_TOKENIZER, lr="lr2")
    with pytest.raises(ValueError, match="tokenizer"):
        syncodec.compile(grammar, "{not json")
    with pytest.raises(ValueError, match="vocab"):
        syncodec.compile(grammar, OWN_TOKENIZER, vocab_size=10)
    with pytest.raises(FileNotFoundError):
        syncodec.Artifact.open(tmp_path / "missing.syncode")
    (tmp_path / "junk.syncode").write_bytes(b"\0" * 300)
    with pytest.raises(ValueError, match="cannot open artifact"):
        syncodec.Artifact.open(tmp_path / "junk.syncode")
    with pytest.raises(ValueError, match="cannot open artifact"):
        syncodec.Artifact.from_bytes(data[: len(data) // 2])
    with pytest.raises(TypeError):
        syncodec.compile(grammar, 42)


def test_padded_vocab_and_eos(own_vocab):
    a = syncodec.Artifact.from_bytes(syncodec.compile(GRAMMARS / "json.ebnf", OWN_TOKENIZER, vocab_size=8200, eos="<|pad|>"))
    assert a.vocab_size == 8200 and a.bitmask_words == 257 and a.eos_token_ids == [own_vocab["<|pad|>"]]
    m = syncodec.Matcher(a, "1")
    ids = m.allowed_token_ids()
    assert own_vocab["<|pad|>"] in ids and max(ids) < 8192
    a.check_tokenizer(OWN_TOKENIZER.read_text())  # width and EOS are taken from the artifact
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        a.check_tokenizer(OWN_TOKENIZER.read_text(), eos=["<|endoftext|>"])


def test_vocabulary_mismatch_is_value_error(json_artifact, llama3):
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        json_artifact.check_tokenizer(llama3.read_text())


def test_hf_tokenizer_object(json_artifact):
    transformers = pytest.importorskip("transformers")
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(OWN_TOKENIZER))
    json_artifact.check_tokenizer(syncodec.tokenizer_json(tok))
    a = syncodec.Artifact.from_bytes(syncodec.compile(GRAMMARS / "json.ebnf", tok))
    assert a.vocab_hash == json_artifact.vocab_hash
