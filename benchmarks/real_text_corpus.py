"""A real-text corpus for bench_dedup.py: documents cut from ../shared/data/text, with near-duplicates
planted at controlled word-5-shingle Jaccard similarity.

Independent of the stage and of dedup_corpus.py's pseudo-words: English prose (wikitext-2) and verse
(tinyshakespeare), with their real repetitions (speaker names, stock phrases, headings).
- Originals are runs of consecutive paragraphs of a random length (log-normal, median ~100 words,
  20-1500). The text is cut in five passes with independent lengths, so documents of different
  passes overlap: excerpts of one another at whatever similarity their boundaries give (mostly low,
  sometimes high), which makes sliding chains A~B~C where A and C are far apart.
- Planted copies (a third of the documents) take an original, or now and then an earlier copy
  (chains again), and edit it until the exact Jaccard of its normalised word 5-shingles to its
  source falls to a target drawn uniformly in [0.5, 1.0]: word substitutions, insertions of real
  words from elsewhere, deletions and paragraph moves, one at a time, each checked. Some copies are
  exact copies that differ only in case, punctuation and spacing.
The truth is not the targets: bench_dedup.exact_truth compares every pair by brute force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TEXT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
SOURCES = ("wikitext2_test.txt", "wikitext2_valid.txt", "tinyshakespeare.txt")
WORD = re.compile(r"\w+")
SHINGLE = 5


@dataclass
class RealCorpus:
    texts: list[str]
    targets: dict[tuple[int, int], float]  # (source, copy) -> target Jaccard
    originals: int


def paragraphs(text_dir: Path = TEXT_DIR) -> list[str]:
    """Non-empty paragraphs: wikitext's lines, tinyshakespeare's blank-line separated speeches."""
    out: list[str] = []
    for name in SOURCES:
        text = (text_dir / name).read_text(encoding="utf-8")
        blocks = text.split("\n") if name.startswith("wikitext") else text.split("\n\n")
        out.extend(b.strip() for b in blocks if len(WORD.findall(b)) >= 1)
    return out


def _shingles(words: list[str]) -> set[str]:
    low = [w.lower() for w in words]
    return {" ".join(low[i : i + SHINGLE]) for i in range(max(1, len(low) - SHINGLE + 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _cut(paras: list[str], counts: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One pass: consecutive paragraphs until a drawn length is reached, from a random start."""
    docs, i = [], int(rng.integers(0, 20))
    while i < len(paras):
        target = int(np.clip(rng.lognormal(np.log(100), 0.8), 20, 1500))
        j, words = i, 0
        while j < len(paras) and words < target:
            words += counts[j]
            j += 1
        docs.append("\n\n".join(paras[i:j]))
        i = j
    return docs


def _edit_once(paras: list[list[str]], pool: np.ndarray, rng: np.random.Generator) -> None:
    """One edit in place: substitute, insert or delete a few words, or move a paragraph."""
    op = rng.choice(["sub", "ins", "del", "move"], p=[0.4, 0.25, 0.25, 0.1])
    if op == "move" and len(paras) > 1:
        paras.insert(int(rng.integers(0, len(paras))), paras.pop(int(rng.integers(0, len(paras)))))
        return
    lengths = np.array([len(p) for p in paras])
    if lengths.sum() == 0:
        return
    p = int(rng.choice(len(paras), p=lengths / lengths.sum()))
    words = paras[p]
    at = int(rng.integers(0, len(words) + 1))
    n = int(rng.integers(1, 4)) if op == "sub" else int(rng.integers(1, 15))
    fresh = list(rng.choice(pool, n))
    if op == "sub":
        words[at : at + n] = fresh[: len(words[at : at + n])]
    elif op == "ins":
        words[at:at] = fresh
    elif len(lengths) > 1 or len(words) > n + SHINGLE:  # delete, never the whole document
        del words[at : at + n]


def planted_copy(text: str, target: float, pool: np.ndarray, rng: np.random.Generator) -> str:
    """Edit `text` until its shingle Jaccard to `text` is at or just below `target`."""
    paras = [WORD.findall(p) for p in text.split("\n\n")]
    original = _shingles([w for p in paras for w in p])
    last = "\n\n".join(" ".join(p) for p in paras)
    similarity, size = 1.0, len(original)
    for _ in range(500):
        trial = [list(p) for p in paras]
        # Several edits at once while far from the target (one edit breaks ~5-20 shingles).
        for _ in range(max(1, int((similarity - target) * size / 20))):
            _edit_once(trial, pool, rng)
        found = jaccard(original, _shingles([w for p in trial for w in p]))
        if found < target - 0.02:  # overshot: try again from the same state
            continue
        similarity = found
        paras = trial
        last = "\n\n".join(" ".join(p) for p in paras)
        if similarity <= target:
            break
    return last


def _disguise(text: str, rng: np.random.Generator) -> str:
    """The same normalised text: other case, other punctuation and spacing."""
    words = WORD.findall(text)
    return "  ".join(w.upper() if rng.random() < 0.1 else w + ("," if rng.random() < 0.05 else "") for w in words)


def real_corpus(
    documents: int = 20000, seed: int = 0, copy_share: float = 0.33, text_dir: Path = TEXT_DIR
) -> RealCorpus:
    rng = np.random.default_rng(seed)
    paras = paragraphs(text_dir)
    counts = np.array([len(WORD.findall(p)) for p in paras])
    pool = np.array([w for p in paras[:: max(1, len(paras) // 2000)] for w in WORD.findall(p)])
    originals = [doc for _ in range(5) for doc in _cut(paras, counts, rng)]
    rng.shuffle(originals)
    n_originals = min(len(originals), int(documents * (1 - copy_share)))
    texts = originals[:n_originals]
    targets: dict[tuple[int, int], float] = {}
    while len(texts) < documents:
        source = int(rng.integers(0, len(texts))) if rng.random() < 0.15 else int(rng.integers(0, n_originals))
        if rng.random() < 0.1:
            texts.append(_disguise(texts[source], rng))
            continue
        target = float(rng.uniform(0.5, 1.0))
        targets[(source, len(texts))] = target
        texts.append(planted_copy(texts[source], target, pool, rng))
    order = rng.permutation(len(texts))  # copies not next to their sources, nor after them
    where = np.argsort(order)
    return RealCorpus(
        [texts[i] for i in order],
        {(int(where[a]), int(where[b])): t for (a, b), t in targets.items()},
        n_originals,
    )
