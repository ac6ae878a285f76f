"""Per-step cost from Python (fill the batch's bitmasks + accept one token per sequence) on
teacher-forced documents, for B = 1, 8, 64 sequences: syncodec, and xgrammar and llguidance
when they are installed (`pip install xgrammar llguidance` in the benchmark's environment; they
are not dependencies of the package).

    python python/bench/bench_step.py [--tokenizer ../shared/tokenizers/llama3.json] [--steps 200]

json: the three libraries on the same documents (any JSON value: syncodec's json.ebnf,
xgrammar's built-in JSON grammar, llguidance's `{}` JSON schema). python: syncodec only (the
other two have no Python grammar to compare with).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import statistics
import sys
import sysconfig
import time

import numpy as np

import syncodec

ROOT = pathlib.Path(__file__).resolve().parents[2]


def json_documents(n: int) -> list[str]:
    rng = random.Random(0)
    docs = []
    for k in range(n):
        doc = {
            "id": k,
            "name": f"item-{rng.randrange(10**6)}",
            "tags": [rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(rng.randrange(2, 8))],
            "price": round(rng.random() * 1000, 2),
            "nested": {"ok": rng.random() < 0.5, "values": [rng.randrange(1000) for _ in range(rng.randrange(5, 30))], "note": None},
            "text": " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet"]) for _ in range(rng.randrange(10, 40))),
        }
        docs.append(json.dumps(doc, indent=2))
    return docs


def python_documents(n: int) -> list[str]:
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    names = ["colorsys.py", "keyword.py", "bisect.py", "fnmatch.py", "heapq.py", "glob.py", "shlex.py", "textwrap.py"]
    docs = [(stdlib / name).read_text() for name in names if (stdlib / name).exists()]
    return [docs[i % len(docs)] for i in range(n)]


def run_steps(b, ids_per_seq, steps, fill_batch, accept):
    """Times `steps` steps of fill_batch() + accept(i, token) for every live sequence."""
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        fill_batch()
        for i in range(b):
            accept(i, ids_per_seq[i][step])
        times.append(time.perf_counter() - t0)
    return times


def report(name, grammar, b, times):
    us = sorted(t * 1e6 for t in times)
    p50 = statistics.median(us)
    p99 = us[min(len(us) - 1, int(len(us) * 0.99))]
    print(f"| {grammar} | {name} | {b} | {p50:.1f} | {p99:.1f} | {p50 / b:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", default=str(ROOT.parent / "shared" / "tokenizers" / "llama3.json"))
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer)
    print(f"cores: {os.cpu_count()}; steps per run: {args.steps}; tokenizer: {pathlib.Path(args.tokenizer).name}")
    print("| grammar | library | B | step p50 (µs) | step p99 (µs) | p50 per sequence (µs) |")
    print("|---|---|---|---|---|---|")
    for grammar, make_docs in (("json", json_documents), ("python", python_documents)):
        artifact = syncodec.Artifact.from_bytes(syncodec.compile(ROOT / "grammars" / f"{grammar}.ebnf", args.tokenizer))
        for b in (1, 8, 64):
            docs = make_docs(b)
            ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]
            steps = min(args.steps, min(len(x) for x in ids))
            matchers = [syncodec.Matcher(artifact, sequence_start=True) for _ in range(b)]
            bitmask = syncodec.allocate_token_bitmask(b, artifact.vocab_size, backend="numpy")
            if b == 1:
                fill = lambda: matchers[0].fill_next_token_bitmask(bitmask, 0)
            else:
                fill = lambda: syncodec.fill_next_token_bitmasks(matchers, bitmask)

            def accept(i, t):
                if not matchers[i].accept_token(t):
                    raise SystemExit(f"syncodec refused a teacher-forced token ({grammar}, seq {i})")

            report("syncodec", grammar, b, run_steps(b, ids, steps, fill, accept))
            if grammar == "json":
                bench_xgrammar(args.tokenizer, b, ids, steps)
                bench_llguidance(args.tokenizer, b, ids, steps)


def bench_xgrammar(tokenizer_path, b, ids, steps):
    try:
        import transformers
        import xgrammar as xgr
    except ImportError as e:
        print(f"| json | xgrammar | {b} | not installed ({e}) | | |")
        return
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=tokenizer_path)
    info = xgr.TokenizerInfo.from_huggingface(hf, vocab_size=len(hf))
    compiled = xgr.GrammarCompiler(info).compile_builtin_json_grammar()
    matchers = [xgr.GrammarMatcher(compiled) for _ in range(b)]
    bitmask = xgr.allocate_token_bitmask(b, info.vocab_size)

    def fill():
        for i, m in enumerate(matchers):
            m.fill_next_token_bitmask(bitmask, i)

    def accept(i, t):
        if not matchers[i].accept_token(t):
            raise SystemExit(f"xgrammar refused a teacher-forced token (seq {i})")

    report("xgrammar", "json", b, run_steps(b, ids, steps, fill, accept))


def bench_llguidance(tokenizer_path, b, ids, steps):
    try:
        import llguidance
        import llguidance.hf
        import llguidance.numpy as lln
        import transformers
    except ImportError as e:
        print(f"| json | llguidance | {b} | not installed ({e}) | | |")
        return
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=tokenizer_path)
    lltok = llguidance.hf.from_tokenizer(hf)
    grammar = llguidance.LLMatcher.grammar_from_json_schema("{}")
    matchers = [llguidance.LLMatcher(lltok, grammar) for _ in range(b)]
    bitmask = lln.allocate_token_bitmask(b, lltok.vocab_size)
    executor = llguidance.LLExecutor() if b > 1 else None

    def fill():
        if executor is None:
            lln.fill_next_token_bitmask(matchers[0], bitmask, 0)
        else:
            lln.fill_next_token_bitmask_par(executor, list(zip(matchers, range(b))), bitmask)

    def accept(i, t):
        if not matchers[i].consume_token(t):
            raise SystemExit(f"llguidance refused a teacher-forced token (seq {i}): {matchers[i].get_error()}")

    report("llguidance", "json", b, run_steps(b, ids, steps, fill, accept))


if __name__ == "__main__":
    sys.exit(main())
