"""Real generation through HF transformers: a tiny randomly initialised Llama whose vocabulary is
Llama-3's (no weights downloaded), sampling with GrammarLogitsProcessor for JSON and Python.

Every sequence that ends with EOS must be accepted by the reference parser (json.loads,
ast.parse). Length-capped sequences and sampled tokens the grammar refused are counted and
reported (refusals are possible while masks are a superset of the valid tokens; the processor
must survive them), not failed on.
"""

from __future__ import annotations

import ast
import json
import os

import pytest

import syncodec

from conftest import SUMMARY, artifact_for

torch = pytest.importorskip("torch", reason="torch is not installed") if os.environ.get("CI") != "true" else __import__("torch")
transformers = pytest.importorskip("transformers", reason="transformers is not installed") if os.environ.get("CI") != "true" else __import__("transformers")

from syncodec.hf import GrammarLogitsProcessor  # noqa: E402

BATCH = 10
BATCHES = 6  # 60 samples per grammar
MAX_NEW_TOKENS = 64
# ast.parse messages of the Python grammar's known gaps (exact-mask issue, part 4): targets that
# CPython refuses after parsing (assignment to an expression or comparison, illegal annotation or
# augmented-assignment targets) and characters outside CPython's identifier classes.
KNOWN_PYTHON_GAPS = ("cannot assign to", "cannot delete", "illegal target for annotation", "only single target", "invalid character", "invalid non-printable character", "'tuple' is an illegal expression for augmented assignment")


def reference(grammar: str):
    if grammar == "json":
        return json.loads
    return lambda text: ast.parse(text)


class NudgeProcessor(transformers.LogitsProcessor):
    """Makes the random model end its programs now and then: +bias on EOS and on tokens that
    close strings, brackets or lines. Applied after the grammar mask (-inf stays -inf)."""

    def __init__(self, eos_ids, closing_ids):
        self.eos = torch.tensor(eos_ids)
        self.closing = torch.tensor(closing_ids)

    def __call__(self, input_ids, scores):
        scores[:, self.closing] += 2.5
        scores[:, self.eos] += 8.0
        return scores


@pytest.fixture(scope="module")
def model_and_tokenizer(llama3):
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(llama3))
    torch.manual_seed(1234)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=128000,
        eos_token_id=128001,
    )
    model = transformers.LlamaForCausalLM(config).eval()
    return model, tokenizer


@pytest.mark.filterwarnings("ignore:syncodec. row:RuntimeWarning")  # refusals are counted instead
@pytest.mark.parametrize("grammar", ["json", "python"])
def test_sampled_generation_is_accepted_by_reference(grammar, llama3, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    artifact = artifact_for(grammar, llama3)
    assert model.config.vocab_size == artifact.vocab_size
    eos_ids = artifact.eos_token_ids
    closing = [i for i in range(artifact.n_tokens) if any(c in artifact.token_bytes(i) for c in (b'"', b"]", b"}", b")", b"\n"))]
    nudge = NudgeProcessor(eos_ids, closing)
    parse = reference(grammar)
    counts = dict(samples=0, eos_terminated=0, accepted=0, known_grammar_gaps=0, length_capped=0, refused_tokens=0, refused_sequences=0, empty_masks=0)
    rejected = []
    torch.manual_seed(7 if grammar == "json" else 8)
    for _ in range(BATCHES):
        prompt = torch.full((BATCH, 1), 128000, dtype=torch.long)
        processor = GrammarLogitsProcessor(artifact, tokenizer, prompt_len=prompt.shape[1])
        with torch.no_grad():
            out = model.generate(
                input_ids=prompt,
                attention_mask=torch.ones_like(prompt),
                logits_processor=transformers.LogitsProcessorList([processor, nudge]),
                do_sample=True,
                top_k=0,
                top_p=1.0,
                temperature=1.0,
                max_new_tokens=MAX_NEW_TOKENS,
                eos_token_id=eos_ids,
                pad_token_id=eos_ids[0],
            )
        counts["refused_tokens"] += processor.num_refused
        not_masked = [r for r in processor.refusals if not r.in_mask]
        assert not not_masked, f"sampled tokens outside the mask (the mask was not applied): {not_masked[:3]}"
        counts["empty_masks"] += processor.empty_masks
        for row in range(BATCH):
            counts["samples"] += 1
            generated = out[row, prompt.shape[1] :].tolist()
            ended = next((i for i, t in enumerate(generated) if t in eos_ids), None)
            if processor.is_broken(row):
                counts["refused_sequences"] += 1
                continue
            if ended is None:
                counts["length_capped"] += 1
                continue
            counts["eos_terminated"] += 1
            text = processor.texts()[row]
            ids = generated[:ended]
            assert tokenizer.decode(ids).encode("utf-8", "surrogateescape") == text or b"\xef\xbf\xbd" in tokenizer.decode(ids).encode(), "the matcher's text is what the tokens decode to"
            try:
                parse(text.decode("utf-8"))
                counts["accepted"] += 1
            except (ValueError, SyntaxError, UnicodeDecodeError) as e:
                if grammar == "python" and isinstance(e, SyntaxError) and any(k in str(e) for k in KNOWN_PYTHON_GAPS):
                    # What a context-free grammar of Python does not express yet (the exact-mask
                    # issue, part 4): CPython's assignment/annotation target rules and its
                    # identifier classes. Counted and reported; any other rejection fails.
                    counts["known_grammar_gaps"] += 1
                else:
                    rejected.append((text, repr(e)))
    SUMMARY.append(f"HF generation {grammar} x llama3 (tiny random Llama, batch {BATCH}, max_new_tokens {MAX_NEW_TOKENS}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    assert counts["samples"] >= 50
    assert not rejected, f"{len(rejected)} EOS-terminated outputs rejected by the reference parser: {rejected[:5]}"
    assert counts["eos_terminated"] >= 5, f"too few sequences ended with EOS to test anything: {counts}"
