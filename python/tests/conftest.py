"""Shared fixtures: the repository's grammars, the real tokenizers, artifacts built once."""

from __future__ import annotations

import os
import pathlib
import sysconfig

import pytest

import syncodec

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
GRAMMARS = ROOT / "grammars"
OWN_TOKENIZER = ROOT / "tokenizers" / "syncodec-bpe.json"
IN_CI = os.environ.get("CI") == "true"


def tokenizer_paths() -> list[pathlib.Path]:
    """Every tokenizer in ../shared/tokenizers plus the project's own."""
    shared = sorted((SHARED / "tokenizers").glob("*.json")) if (SHARED / "tokenizers").is_dir() else []
    if not shared and IN_CI:
        raise RuntimeError(f"{SHARED / 'tokenizers'} is missing: the real-tokenizer tests must not be skipped in CI")
    return shared + [OWN_TOKENIZER]


def require(path: pathlib.Path, what: str) -> pathlib.Path:
    """`path`, or a skip (a failure under CI=true) naming what is missing."""
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{what} is missing at {path}; CI must not skip it")
        pytest.skip(f"{what} is missing at {path}")
    return path


STDLIB = pathlib.Path(sysconfig.get_paths()["stdlib"])

# One small real file per grammar (teacher forcing at every position of it).
REAL_FILES = {
    "json": lambda: SHARED / "corpora" / "json-testsuite" / "test_parsing" / "y_object_simple.json",
    "python": lambda: STDLIB / "colorsys.py",
    "go": lambda: pathlib.Path("/usr/lib/go-1.19/src/errors/errors.go"),
}

_built: dict[tuple[str, str], syncodec.Artifact] = {}


def artifact_for(grammar: str, tokenizer: pathlib.Path) -> syncodec.Artifact:
    """The artifact of `grammars/<grammar>.ebnf` for `tokenizer`, built once per test run."""
    key = (grammar, str(tokenizer))
    if key not in _built:
        _built[key] = syncodec.Artifact.from_bytes(syncodec.compile(GRAMMARS / f"{grammar}.ebnf", tokenizer))
    return _built[key]


@pytest.fixture(scope="session")
def llama3() -> pathlib.Path:
    return require(SHARED / "tokenizers" / "llama3.json", "the Llama-3 tokenizer")


@pytest.fixture(scope="session")
def json_artifact() -> syncodec.Artifact:
    """json.ebnf for the project's own tokenizer (always present)."""
    return artifact_for("json", OWN_TOKENIZER)


@pytest.fixture(scope="session")
def own_vocab() -> dict[str, int]:
    import json

    return json.loads(OWN_TOKENIZER.read_text())["model"]["vocab"]


# Lines the tests want in the terminal summary (the HF generation counts).
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("syncodec summary")
        for line in SUMMARY:
            terminalreporter.write_line(line)
