"""py3langid's identifier with its two hot spots vectorised; same scores, bit for bit.

Why: on the ingest path, right after trafilatura has churned through a page's tree, py3langid
took 0.6-0.7 ms a page (0.25 ms in isolation), a sixth of the time ingest spends outside
extraction. Two places cost it:

1. The feature walk: a byte-at-a-time Python loop through a 39 MB transition table, every step
   waiting for the last one's cache miss. The table is an Aho-Corasick automaton over byte
   n-grams, so the state after byte i is decided by the last WINDOW bytes alone (WINDOW = the
   deepest state's distance from the start state: 6 for the pinned model; a test derives it
   from the model). So every position is walked at once: WINDOW numpy gathers, each over all
   positions, from the start state WINDOW - 1 bytes back (or at the text's start). Same states,
   same feature counts, counted in first-occurrence order as the library's Counter has them.
2. Scoring: `log1p(counts) @ table[features]` multiplies float32 by the float16 table, so numpy
   first casts the gathered rows to float32, slowly (0.09 ms a page). The table is converted
   once at load instead (exact: float16 -> float32 loses nothing), and the same float32
   product runs. It costs 28 MB more per process (57 MB in all).

The transition table is also copied into a numpy array, which numpy places on huge pages where
the kernel allows: fewer TLB misses for the gathers.

Uses py3langid's internals (`_raw_score`, `tk_row`, `tk_output`), pinned in requirements.lock;
tests/stages/ingest/test_text_langid_fast.py checks against the library's own walk and scores, and
`VectorisedIdentifier` checks itself at load, falling back to the library's walk on any mismatch.
"""

from __future__ import annotations

import logging

import numpy as np
from py3langid.langid import RAW_FLOOR, LanguageIdentifier, visit_counts

log = logging.getLogger("crisol.ingest.langid")
ROW = 256  # one transition per byte value
# The deepest state's distance from the start state in the pinned model (py3langid 0.4.0);
# a larger value would be as exact, only slower. Derived from the model by `deepest_state`
# in the tests rather than at every start-up, where it would cost 0.15 s a process.
WINDOW = 6
# Checked against the library's walk at load: several scripts, digits, punctuation, odd bytes.
_SELF_CHECK = (
    "The committee met on Tuesday, 3 May 2022 (at 10:30)! Der Ausschuss traf sich "
    "am Dienstag. Le comité s'est réuni. Комитет собрался во вторник. 委員会は火曜日に"
    "開かれた。 اللجنة اجتمعت يوم الثلاثاء ... «quoted» — done."
).encode("utf-8") + bytes(range(256))


def deepest_state(next_state: np.ndarray, rows: np.ndarray) -> int:
    """The largest breadth-first distance from the start state: in an Aho-Corasick automaton
    the length of the longest string a state stands for."""
    table = next_state.reshape(-1, ROW)
    seen = np.zeros(len(rows), dtype=bool)
    seen[0] = True
    frontier, depth = np.zeros(1, dtype=np.intp), 0
    while True:
        reached = np.zeros(len(rows), dtype=bool)
        reached[table[np.unique(rows[frontier])].ravel()] = True  # states share rows: walk each once
        new = reached & ~seen
        if not new.any():
            return depth
        seen |= new
        frontier, depth = np.flatnonzero(new), depth + 1


class VectorisedIdentifier(LanguageIdentifier):
    __slots__ = ("_next", "_row_base", "_feature_of", "_window")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A numpy-owned copy (huge pages where allowed); the library's walk reads it as well,
        # so the array.array is let go.
        self._next = np.array(self.tk_nextmove, dtype=np.uint32)
        self.tk_nextmove = self._next
        self._row_base = np.asarray(self.tk_row, dtype=np.intp) * ROW
        self._feature_of = np.asarray(self.tk_output, dtype=np.intp)
        self._window = WINDOW
        nb_ptc, nb_pc, nb_classes = self._full_model
        self._full_model = nb_ptc.astype(np.float32), nb_pc, nb_classes
        self.set_languages(None)  # scores from the float32 table from here on
        if self._feature_visits(_SELF_CHECK) != self._library_visits(_SELF_CHECK):
            log.warning(
                "language model is not the automaton langid_fast assumes; using py3langid's own (slower) feature walk"
            )
            self._window = 0

    def _library_visits(self, data: bytes) -> dict[int, int] | None:
        return visit_counts(self.tk_nextmove, self._rowbase, self.tk_output, data)

    def _feature_visits(self, data: bytes) -> dict[int, int] | None:
        """{feature: count} in first-occurrence order (as the library's Counter), None when
        no feature occurs."""
        if not self._window:
            return self._library_visits(data)
        found = self._feature_counts(data)
        return dict(zip(found[0].tolist(), found[1].tolist())) if found is not None else None

    def _feature_counts(self, data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(features, counts) in first-occurrence order, None when no feature occurs."""
        codes = np.frombuffer(data, dtype=np.uint8)
        n = len(codes)
        states = np.zeros(n, dtype=np.intp)
        # Position i starts at state 0 `window - 1` bytes back (or at the start) and reads on to i.
        for lag in range(min(self._window, n) - 1, -1, -1):
            states[lag:] = self._next[self._row_base[states[lag:]] + codes[: n - lag]]
        features = self._feature_of[states]
        features = features[features >= 0]
        if not len(features):
            return None
        found, first, counts = np.unique(features, return_index=True, return_counts=True)
        order = np.argsort(first)
        return found[order], counts[order]

    def _raw_score(self, text: bytes) -> np.ndarray:
        if not self._window:
            return super()._raw_score(text)
        found = self._feature_counts(text)
        if found is None:  # as the library: uniform under norm_probs, the floor otherwise
            return np.full(len(self.nb_classes), 0.0 if self._norm_probs else RAW_FLOOR, dtype=np.float32)
        features, counts = found
        return np.log1p(counts.astype(np.float32)) @ self.nb_ptc[features] + self.nb_pc
