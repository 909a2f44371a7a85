"""Fact probes: sentence prefixes the synthetic web really prints, each continued by its fact's
object; which wording is chosen, what is skipped and why, and the chance floor."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from crisol.core.errors import StageInputError
from crisol.facts.matching import ends_cleanly
from crisol.facts.mining import SentenceIndex
from crisol.facts.probes import FactProbe, build_probes, chance_rate, mode_answers, probe_set, probes_from_rows
from kit.web import generate


@pytest.fixture(scope="module")
def web_out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("facts-web"))


@pytest.fixture(scope="module")
def built(web_out):
    return probe_set(web_out / "facts.parquet", web_out / "pages.parquet")


@pytest.fixture(scope="module")
def seen_pages(web_out) -> list[dict]:
    rows = pq.read_table(web_out / "pages.parquet").to_pylist()
    return [r for r in rows if r["lang"] == "en" and not r["disallowed"] and r["kind"] not in ("oversized", "spam")]


def states_at_sentence_start(text: str, prompt: str, answer: str) -> bool:
    """`prompt answer` opens a sentence of `text` and the answer ends a word there."""
    needle = f"{prompt} {answer}"
    for match in re.finditer(re.escape(needle), text):
        start, end = match.start(), match.end()
        opens = start == 0 or text[start - 1] == "\n" or text[max(0, start - 2) : start] in (". ", "! ", "? ")
        if opens and ends_cleanly(text, end):
            return True
    return False


# --- on a generated world ----------------------------------------------------------------------


def test_every_prompt_then_answer_opens_a_sentence_of_a_seen_page_about_the_subject(built, seen_pages):
    by_subject: dict[str, list[str]] = {}
    for page in seen_pages:
        for eid in page["entity_ids"]:
            by_subject.setdefault(eid, []).append(page["main_text"])
    for probe in built.probes:
        hits = sum(states_at_sentence_start(text, probe.prompt, probe.answer) for text in by_subject[probe.subject_id])
        assert hits >= 1, probe
        assert probe.mentions >= 1 and probe.wordings >= 1


def test_prompts_name_their_subject_never_their_answer_and_ask_one_thing(built):
    assert built.probes
    for probe in built.probes:
        assert probe.subject in probe.prompt and probe.answer not in probe.prompt, probe
        assert probe.prompt == probe.prompt.strip() and "{subject}" in probe.template
        assert probe.fact_id == f"{probe.subject_id}/{probe.relation}"
    prompts = Counter(p.prompt for p in built.probes)
    assert max(prompts.values()) == 1


def test_counts_add_up_and_most_facts_become_probes(built, web_out):
    facts = pq.read_table(web_out / "facts.parquet").num_rows
    assert built.facts == facts
    assert len(built.probes) + sum(built.skipped.values()) == facts
    assert built.skipped["not_stated"] == 0  # the web states every fact on a crawlable page
    assert built.skipped["bad_row"] == 0
    assert len(built.probes) >= 0.9 * facts
    relations = {p.relation for p in built.probes}
    assert len(relations) == 17  # every relation of the world is probed


def test_build_probes_reads_pages_beside_facts_by_default(built, web_out):
    probes = build_probes(web_out / "facts.parquet")
    assert probes == built.probes


def test_limit_draws_a_reproducible_sample_in_fact_order(built, web_out):
    a = build_probes(web_out / "facts.parquet", limit=50, seed=3)
    b = build_probes(web_out / "facts.parquet", limit=50, seed=3)
    c = build_probes(web_out / "facts.parquet", limit=50, seed=4)
    assert a == b and a != c and len(a) == 50
    assert [p.fact_id for p in a] == sorted(p.fact_id for p in a)
    assert set(a) <= set(built.probes)
    assert build_probes(web_out / "facts.parquet", limit=10**6) == built.probes
    with pytest.raises(ValueError, match="limit"):
        build_probes(web_out / "facts.parquet", limit=0)


def test_seen_urls_restrict_probes_to_what_those_pages_state(built, seen_pages, web_out):
    article = next(p for p in seen_pages if p["kind"] == "article")
    probes = build_probes(web_out / "facts.parquet", seen_urls=[article["url"]])
    assert probes and {p.subject_id for p in probes} <= set(article["entity_ids"])
    assert all(states_at_sentence_start(article["main_text"], p.prompt, p.answer) for p in probes)
    with pytest.raises(StageInputError, match="seen URLs"):
        build_probes(web_out / "facts.parquet", seen_urls=["http://nowhere.test/x.html"])


def test_missing_or_wrong_artifacts_are_one_line_errors(web_out, tmp_path):
    with pytest.raises(StageInputError, match="not found"):
        build_probes(tmp_path / "facts.parquet")
    with pytest.raises(StageInputError, match="expected a 'pages' artifact"):
        build_probes(web_out / "facts.parquet", web_out / "facts.parquet")


def test_chance_is_computed_from_the_probes_and_well_under_ten_percent(built):
    chance = chance_rate(built.probes)
    modes = mode_answers(built.probes)
    assert chance == sum(p.answer == modes[p.relation] for p in built.probes) / len(built.probes)
    assert 0 < chance < 0.10


def test_a_samples_chance_uses_the_modes_of_all_probes(built, web_out):
    sample = probe_set(web_out / "facts.parquet", limit=40, seed=1)
    assert sample.modes == mode_answers(built.probes)
    full_modes = sample.modes
    expected = sum(p.answer == full_modes[p.relation] for p in sample.probes) / len(sample.probes)
    assert chance_rate(sample.probes, sample.modes) == expected


# --- on hand-made rows: one rule at a time -----------------------------------------------------


def fact(subject_id: str, subject: str, relation: str, obj: str) -> dict:
    return {
        "fact_id": f"{subject_id}/{relation}",
        "subject_id": subject_id,
        "subject_type": "person",
        "subject": subject,
        "relation": relation,
        "object": obj,
        "object_id": None,
    }


def page(url: str, text: str, entity_ids: list[str], **fields) -> dict:
    return {
        "url": url,
        "kind": "article",
        "lang": "en",
        "disallowed": False,
        "main_text": text,
        "entity_ids": entity_ids,
        **fields,
    }


def only(result, fact_id: str) -> FactProbe:
    return next(p for p in result.probes if p.fact_id == fact_id)


def test_the_most_printed_wording_is_the_prompt():
    facts = [fact("p1", "Ana Tor", "works_for", "Osk Mills")]
    pages = [
        page("http://a/1", "Ana Tor\nAna Tor is employed by Osk Mills. She likes it.", ["p1"]),
        page("http://a/2", "Note\nThe staff agree. Ana Tor works for Osk Mills.", ["p1"]),
        page("http://a/3", "Ana Tor works for Osk Mills.", ["p1"]),
    ]
    probe = only(probes_from_rows(facts, pages), "p1/works_for")
    assert (probe.prompt, probe.answer, probe.mentions, probe.wordings) == ("Ana Tor works for", "Osk Mills", 2, 2)


def test_ties_go_to_the_wording_that_other_facts_of_the_relation_share():
    facts = [fact("p1", "Ana Tor", "works_for", "Osk Mills"), fact("p2", "Bo Lin", "works_for", "Vel Bank")]
    pages = [
        page("http://a/1", "Ana Tor is employed by Osk Mills. For years Ana Tor has worked at Osk Mills.", ["p1"]),
        page("http://a/2", "Bo Lin is employed by Vel Bank.", ["p2"]),
    ]
    result = probes_from_rows(facts, pages)
    assert only(result, "p1/works_for").template == "{subject} is employed by"


def test_a_prefix_that_leads_to_two_facts_is_not_used():
    facts = [fact("p1", "Ana Tor", "born_in", "Kelmar"), fact("p1", "Ana Tor", "birth_year", "1923")]
    pages = [page("http://a/1", "Ana Tor was born in Kelmar. Ana Tor was born in 1923 in the city of Kelmar.", ["p1"])]
    result = probes_from_rows(facts, pages)
    assert only(result, "p1/born_in").prompt == "Ana Tor was born in 1923 in the city of"
    assert result.skipped["ambiguous_prefix"] == 1  # the year only ever follows "Ana Tor was born in"
    assert only(result, "p1/born_in").template == "{subject} was born in {birth_year} in the city of"


def test_objects_before_the_subject_or_only_in_tables_have_no_clean_prefix():
    facts = [fact("p1", "Ana Tor", "born_in", "Kelmar"), fact("p1", "Ana Tor", "birth_year", "1923")]
    pages = [page("http://a/1", "Kelmar is the birthplace of Ana Tor.\nName | Born\nAna Tor | 1923", ["p1"])]
    result = probes_from_rows(facts, pages)
    assert not result.probes and result.skipped["no_clean_prefix"] == 2


def test_only_readable_english_pages_count_and_objects_must_be_whole_words():
    facts = [fact("p1", "Ana Tor", "born_in", "Kelmar")]
    unseen = [
        page("http://a/1", "Ana Tor was born in Kelmar.", ["p1"], disallowed=True),
        page("http://a/2", "Ana Tor was born in Kelmar.", ["p1"], lang="de"),
        page("http://a/3", "Ana Tor was born in Kelmar.", ["p1"], kind="spam"),
        page("http://a/4", "Ana Tor was born in Kelmar.", ["p1"], kind="oversized"),
        page("http://a/5", "Ana Tor was born in Kelmarsh.", ["p1"]),
        page("http://a/6", "Ana Tor was born in Kelmar.", ["someone-else"]),
    ]
    result = probes_from_rows(facts, unseen)
    assert not result.probes and result.skipped["not_stated"] == 1
    result = probes_from_rows(facts, unseen, seen_urls=["http://a/5"])
    assert result.seen_pages == 1 and result.skipped["not_stated"] == 1


def test_a_sentence_belongs_to_the_entity_it_names_first():
    facts = [
        fact("p1", "Bo Lin", "birth_year", "1885"),
        fact("c1", "Kelmar", "founded_year", "1885"),
        fact("o1", "Kelmar Mills", "founded_year", "1901"),
    ]
    pages = [
        page("http://a/1", "Bo Lin was born in Kelmar in 1885. Kelmar Mills was founded in 1901.", ["p1", "c1", "o1"])
    ]
    result = probes_from_rows(facts, pages)
    assert only(result, "p1/birth_year").prompt == "Bo Lin was born in Kelmar in"
    assert only(result, "o1/founded_year").prompt == "Kelmar Mills was founded in"
    assert result.skipped["no_clean_prefix"] == 1  # nothing says when Kelmar was founded


def test_the_longer_of_two_overlapping_objects_is_the_one_stated():
    facts = [
        fact("c1", "Veskaria", "official_language", "Veskarian"),
        fact("c1", "Veskaria", "currency", "Veskarian crown"),
    ]
    pages = [
        page(
            "http://a/1",
            "The currency of Veskaria is the Veskarian crown. The official language of Veskaria is Veskarian.",
            ["c1"],
        )
    ]
    result = probes_from_rows(facts, pages)
    assert only(result, "c1/currency").prompt == "The currency of Veskaria is the"
    assert only(result, "c1/official_language").prompt == "The official language of Veskaria is"


def test_numbers_match_as_written():
    facts = [fact("c1", "Osk", "population", "1,300")]
    pages = [page("http://a/1", "Osk has a population of 11,300. The population of Osk is 1,300,000.", ["c1"])]
    assert probes_from_rows(facts, pages).skipped["not_stated"] == 1
    pages = [page("http://a/1", "Osk has a population of 1,300.", ["c1"])]
    assert only(probes_from_rows(facts, pages), "c1/population").prompt == "Osk has a population of"


def test_bad_fact_rows_are_counted_not_fatal():
    good = fact("p1", "Ana Tor", "born_in", "Kelmar")
    facts = [
        good,
        dict(good),
        fact("p2", "Bo Lin", "born_in", ""),
        {**fact("p3", "Cy Ro", "born_in", "X"), "subject": None},
    ]
    result = probes_from_rows(facts, [page("http://a/1", "Ana Tor was born in Kelmar.", ["p1"])])
    assert len(result.probes) == 1 and result.skipped["bad_row"] == 3 and result.facts == 4


def test_chance_rate_is_the_share_of_each_relations_most_frequent_answer():
    def probe(i: int, relation: str, answer: str) -> FactProbe:
        return FactProbe(f"s{i}/{relation}", f"s{i}", f"S{i}", relation, f"S{i} x", answer, "{subject} x", 1, 1)

    probes = [probe(0, "a", "k"), probe(1, "a", "k"), probe(2, "a", "m"), probe(3, "b", "z"), probe(4, "b", "y")]
    assert mode_answers(probes) == {"a": "k", "b": "y"}  # ties: alphabetically first
    assert chance_rate(probes) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="no probes"):
        chance_rate([])


def test_a_prompt_the_pages_continue_otherwise_does_not_determine_its_answer():
    index = SentenceIndex(
        [
            "Trilikrom Works has 480 employees. Trilikrom Works has its head office in Dokra.",
            "Trilikrom Works employs 480 people.",
        ]
    )
    assert not index.only_continues_with("Trilikrom Works has", "480")
    assert index.only_continues_with("Trilikrom Works employs", "480")
    assert not index.only_continues_with("Trilikrom Works employs", "48")  # a whole word or number
