"""Pronounceable, unique pseudo-words from syllables: names for a fictional world.

Generic on purpose: the `web` stage names its people, places and organisations with it, and a
later stage can use it (with another seed, checked against the facts table) to name entities that
do not exist, for hallucination probes. Deterministic: all randomness comes from the caller's
`random.Random`.
"""

from __future__ import annotations

import random

# Onset-nucleus-coda syllables; clusters are ones English speakers can say at first sight. Inner
# syllables always have an onset (no vowel clashes) and complex codas only end a word.
ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "h",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "gr",
    "kr",
    "tr",
    "th",
    "st",
    "sh",
    "ch",
)
FIRST_ONSETS = ONSETS + ("", "", "")
NUCLEI = ("a", "a", "e", "e", "i", "o", "o", "u", "a", "e", "i", "o", "ae", "ei", "ia", "ou")
INNER_CODAS = ("", "", "", "", "", "", "n", "r", "l", "s", "m")
FINAL_CODAS = ("", "", "", "n", "r", "l", "s", "m", "nd", "rn", "lt", "sk", "th", "x")

# Real English words the syllable grammar can produce; a name equal to one of them would blur
# the line between the fictional world and ordinary text, so they are rejected.
COMMON_WORDS = frozenset(
    """
alpha bacon baker banana baron basin cabin camel canal coma data delta demon dozen fatal felon
final fever given hero hotel human humor label lava lemon level lever linen lover major maker
manor medal melon menu metal minor modal model moral motor mover nasal natal never novel panel
paper pedal petal piano potato power radio resin risen rival river robin rotor ruin rural salad
salon satin seven silver siren sofa solo talon taken tenor tidal token tomato total tower tuba
tutor vapor vital wagon water woman women zero later cover pasta tango mango gala sonar lunar
solar polar cedar cider rider tiger spider timer tumor sober rumor sugar razor visor donor
honor manner banner dinner winner summer hammer number limit habit rabbit robot remit permit
denim venom lotus bonus torus virus focus mucus locus humus sinus status radius genius
marathon bandit commit admit panic tonic sonic topic logic magic comic relic ironic
""".split()
)


class NameForge:
    """Hands out pseudo-words that were never handed out before by this forge."""

    def __init__(self, rng: random.Random, taken: set[str] | None = None):
        self.rng = rng
        self.taken: set[str] = set(taken or ())

    def syllable(self, first: bool, last: bool) -> str:
        onset = self.rng.choice(FIRST_ONSETS if first else ONSETS)
        return onset + self.rng.choice(NUCLEI) + self.rng.choice(FINAL_CODAS if last else INNER_CODAS)

    def word(
        self,
        min_syllables: int = 2,
        max_syllables: int = 3,
        min_len: int = 4,
        max_len: int = 10,
        attempts: int = 10_000,
    ) -> str:
        """A new capitalised pseudo-word; raises if the grammar is exhausted (never in practice)."""
        for _ in range(attempts):
            n = self.rng.randint(min_syllables, max_syllables)
            word = "".join(self.syllable(i == 0, i == n - 1) for i in range(n))
            if not (min_len <= len(word) <= max_len) or not _sayable(word):
                continue
            if word in COMMON_WORDS or word in self.taken:
                continue
            self.taken.add(word)
            return word.capitalize()
        raise RuntimeError("name space exhausted: raise max_syllables or max_len")


def _sayable(word: str) -> bool:
    """No triple letters, no three vowels or four consonants in a row."""
    run_v = run_c = 0
    for i, ch in enumerate(word):
        if i >= 2 and ch == word[i - 1] == word[i - 2]:
            return False
        if ch in "aeiouy":
            run_v, run_c = run_v + 1, 0
        else:
            run_v, run_c = 0, run_c + 1
        if run_v > 2 or run_c > 3:
            return False
    return True
