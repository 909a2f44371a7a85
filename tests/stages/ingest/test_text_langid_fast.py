"""The vectorised language identifier gives py3langid's own scores, bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

import stages.ingest.langid_fast as langid_fast
from stages.ingest.langid_fast import VectorisedIdentifier, deepest_state

SAMPLES = [
    "The committee met on Tuesday to discuss the new budget for the public library.",
    "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt zu besprechen.",
    "El comité se reunió el martes para discutir el nuevo presupuesto.",
    "Комитет собрался во вторник, чтобы обсудить новый бюджет библиотеки.",
    "委員会は火曜日に図書館の新しい予算について話し合った。",
    "THE COMMITTEE MET ON TUESDAY",  # all upper case: the library lower-cases it
    "OK 2024",
    "a",
    "!!",
    "",
]


def _random_texts(seed: int = 7) -> list[str | bytes]:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCXYZ éèüößçñ АБВгдеж 日本語中文 العربية 0123456789.,;!?\n\t"
    texts: list[str | bytes] = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 700))) for _ in range(150)]
    texts += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 700))) for _ in range(50)]
    return texts


@pytest.fixture(scope="module")
def identifiers():
    return (
        LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True),
        VectorisedIdentifier.from_model_file(MODEL_FILE, norm_probs=True),
    )


def test_window_covers_the_models_deepest_state(identifiers):
    library, _ = identifiers
    next_state = np.frombuffer(library.tk_nextmove, dtype=np.uint32)
    assert deepest_state(next_state, np.asarray(library.tk_row, dtype=np.intp)) <= langid_fast.WINDOW


def test_same_scores_bit_for_bit(identifiers):
    library, fast = identifiers
    assert fast._window == langid_fast.WINDOW  # the fast walk is in use, not the fallback
    for text in SAMPLES + _random_texts():
        assert np.array_equal(library._decide(text), fast._decide(text)), text[:40]
        assert library.classify(text) == fast.classify(text)


def test_same_scores_on_a_candidate_set():
    library = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    fast = VectorisedIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    library.set_languages(["en", "de", "fr"])
    fast.set_languages(["en", "de", "fr"])
    for text in SAMPLES:
        assert library.rank(text) == fast.rank(text)


def test_a_model_the_walk_does_not_fit_falls_back_to_the_library(monkeypatch, identifiers):
    library, _ = identifiers
    monkeypatch.setattr(langid_fast, "WINDOW", 2)  # too short to reach the deeper states
    fallback = VectorisedIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    assert fallback._window == 0
    for text in SAMPLES[:5]:
        assert np.array_equal(library._decide(text), fallback._decide(text))
