"""Language identification: common languages recognised, probabilities, candidate sets."""

from __future__ import annotations

import pytest

from stages.ingest.langid import identify, known_languages

SENTENCES = {
    "en": "The committee met on Tuesday to discuss the new budget for the public library.",
    "de": "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt der Bibliothek zu besprechen.",
    "es": "El comité se reunió el martes para discutir el nuevo presupuesto de la biblioteca pública.",
    "fr": "Le comité s'est réuni mardi pour discuter du nouveau budget de la bibliothèque publique.",
}


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_identifies_language_with_a_probability(lang):
    code, prob = identify(SENTENCES[lang])
    assert code == lang
    assert 0.5 < prob <= 1.0


def test_probability_is_lower_for_ambiguous_text():
    _, clear = identify(SENTENCES["en"])
    _, vague = identify("OK 2024")
    assert 0.0 <= vague < clear


def test_candidate_set_restricts_the_answer():
    code, prob = identify(SENTENCES["es"], languages=["en", "de"])
    assert code in ("en", "de") and 0.0 <= prob <= 1.0
    # restricting does not disturb the unrestricted identifier (one per candidate set)
    assert identify(SENTENCES["es"])[0] == "es"


def test_unknown_candidate_code_is_an_error():
    with pytest.raises(ValueError, match="xx"):
        identify(SENTENCES["en"], languages=["en", "xx"])


def test_blank_text_is_undetermined():
    assert identify("") == ("und", 0.0)
    assert identify(" \n\t") == ("und", 0.0)


def test_only_the_first_characters_decide():
    text = SENTENCES["de"] + " " + SENTENCES["fr"] * 20
    assert identify(text, max_chars=len(SENTENCES["de"]))[0] == "de"
    assert identify(text, max_chars=len(text))[0] == "fr"


def test_known_languages_include_the_common_ones():
    assert {"en", "de", "es", "fr"} <= set(known_languages())
