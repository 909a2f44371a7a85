"""Closed-book fact-completion probes: a sentence prefix from the synthetic web, and the object
that completes it ("Edreim Naerreima was born in" -> "Belkroungi").

Which wording. The web states each fact in several paraphrases (stages/web/paraphrase.py: three
or four templates per relation, some combining two relations, plus the lead sentence of an
article), so a fact has several prefixes. The prompt is the prefix that the seen pages print most
often before the object: the wording the model read most, as it read it (`mentions` says how often).
Ties go to the wording most facts of the relation use (so probes of one relation read alike), then
to the shorter prefix; so a near-duplicate's edit ("X born was in", two words swapped) becomes a
prompt only when nothing better states the fact. The chosen wording, with the subject and its
other facts as slots, is the probe's `template`, e.g. "{subject} was born in {born_in} in" for a
birth year; `ProbeSet.summary()` counts the templates used.

Prompts are read from the pages rather than rendered from the web's templates so that this
package depends on the web stage's artifacts only (a stage never imports another stage), and so
that a prompt is exactly what a page printed, near-duplicates' edits and list summaries included.

Ambiguity is judged on the prompt itself: a prefix is dropped when the pages continue it with two
facts' objects. "{subject} was born in" is a city for one person and a year for another; each
person's probe stands as long as that person's pages continue it one way only.

What is skipped, and counted by reason:
- `not_stated`: no seen English page about the subject prints the object;
- `no_clean_prefix`: pages print it, but never after the subject's full name in a sentence (the
  object comes first in every wording that states it, as in "{born_in} is the birthplace of
  {name}", or it appears only in tables);
- `ambiguous_prefix`: every prefix that leads to it also leads, somewhere, to another fact's
  object ("X was born in" continues with a city and with a year), or the pages also continue it
  with other words ("X has 480 employees" beside "X has its head office in Dokra"): such a prompt
  does not determine its answer, so it is not used;
- `bad_row`: an empty subject, relation or object, or a repeated fact_id.

Seen pages. pages.parquet is ground truth about the generated web, not about what was crawled and
kept. Without `seen_urls`, a page counts as seen when a polite crawl fetches it and keeps it as
English text: English, not disallowed by robots.txt, and neither the oversized page (beyond the
crawler's size limit) nor spam (which quality filters drop). Pass `seen_urls` (e.g. the URLs of
the deduplicated documents that pretraining read) to restrict the probes to facts the model saw.

Prompts carry no trailing space: the tokenizer attaches a word's space to the word, so the model
continues "...born in" with " Belkroungi"; scoring strips leading whitespace.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from crisol.core.errors import StageInputError
from crisol.core.subsets import seeded_subset
from crisol.facts.mining import FactRow, Mined, SentenceIndex, mine_page, template_of
from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import FACTS, PAGES

log = logging.getLogger(__name__)

# Page kinds a crawl cannot fetch as text, or whose text quality filters drop.
UNSEEN_KINDS = ("oversized", "spam")
SEEN_LANG = "en"
SKIP_REASONS = ("not_stated", "no_clean_prefix", "ambiguous_prefix", "bad_row")


@dataclass(frozen=True)
class FactProbe:
    fact_id: str
    subject_id: str
    subject: str
    relation: str
    prompt: str  # the sentence up to the object, no trailing space
    answer: str  # the fact's object, exactly as pages print it
    template: str  # the prompt's wording with slots: "{subject} was born in"
    mentions: int  # times the seen pages print prompt + " " + answer
    wordings: int  # distinct unambiguous prefixes the pages offer for this fact

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProbeSet:
    probes: list[FactProbe]
    facts: int  # fact rows read
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> facts
    seen_pages: int = 0  # pages about some subject that were read
    sampled_out: int = 0  # probes left out by `limit`
    # Each relation's most frequent answer over all probes, before any sampling: the chance
    # baseline of a sample is judged against these, not against the sample's own modes (in a
    # few hundred probes a year or a name repeats by luck, which would inflate chance).
    modes: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts for metrics and reports."""
        return {
            "facts": self.facts,
            "probes": len(self.probes),
            "skipped": dict(self.skipped),
            "seen_pages": self.seen_pages,
            "sampled_out": self.sampled_out,
            "templates": dict(Counter(p.template for p in self.probes).most_common()),
        }


def build_probes(
    facts_parquet: Path | str,
    pages_parquet: Path | str | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    seen_urls: Iterable[str] | None = None,
) -> list[FactProbe]:
    """Probes for the facts that the seen English pages state in a continuable sentence.

    `pages_parquet` defaults to the pages.parquet beside facts.parquet (the web stage writes both
    to one folder). `limit` keeps a random sample of that many probes (drawn with `seed`), in
    fact_id order. Skipped facts are logged by reason; `probe_set` returns the counts too.
    """
    result = probe_set(facts_parquet, pages_parquet, limit=limit, seed=seed, seen_urls=seen_urls)
    log.info("fact probes: %d of %d facts; skipped %s", len(result.probes), result.facts, result.skipped)
    return result.probes


def probe_set(
    facts_parquet: Path | str,
    pages_parquet: Path | str | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    seen_urls: Iterable[str] | None = None,
) -> ProbeSet:
    """`build_probes` with the skip counts."""
    facts_parquet = Path(facts_parquet)
    pages_parquet = facts_parquet.with_name("pages.parquet") if pages_parquet is None else Path(pages_parquet)
    facts = read_parquet(facts_parquet, FACTS).to_pylist()
    pages = (
        read_parquet(pages_parquet, PAGES)
        .select(["url", "kind", "lang", "disallowed", "main_text", "entity_ids"])
        .to_pylist()
    )
    return probes_from_rows(facts, pages, limit=limit, seed=seed, seen_urls=seen_urls)


def probes_from_rows(
    facts: list[dict],
    pages: list[dict],
    *,
    limit: int | None = None,
    seed: int = 0,
    seen_urls: Iterable[str] | None = None,
) -> ProbeSet:
    """The same from rows of the FACTS and PAGES schemas (dicts), e.g. generated in memory."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 (got {limit})")
    skipped: Counter = Counter({reason: 0 for reason in SKIP_REASONS})
    rows = _fact_rows(facts, skipped)
    by_subject: dict[str, list[FactRow]] = {}
    for row in rows:
        by_subject.setdefault(row.subject_id, []).append(row)
    mined = Mined()
    seen = _seen(pages, seen_urls)
    for page in seen:
        mine_page(page["main_text"] or "", page["entity_ids"] or [], by_subject, mined)
    index = SentenceIndex(page["main_text"] or "" for page in seen)
    probes = _choose(rows, by_subject, mined, index, skipped)
    modes = mode_answers(probes)
    sampled_out = 0
    if limit is not None and limit < len(probes):
        sampled_out = len(probes) - limit
        probes = seeded_subset(probes, limit, seed)
    return ProbeSet(
        probes, facts=len(facts), skipped=dict(skipped), seen_pages=mined.pages, sampled_out=sampled_out, modes=modes
    )


def _fact_rows(facts: list[dict], skipped: Counter) -> list[FactRow]:
    rows, seen_ids = [], set()
    for fact in facts:
        values = [fact.get(k) for k in ("fact_id", "subject_id", "subject", "relation", "object")]
        if not all(isinstance(v, str) and v.strip() for v in values) or values[0] in seen_ids:
            skipped["bad_row"] += 1
            continue
        seen_ids.add(values[0])
        rows.append(FactRow(*values))
    return sorted(rows, key=lambda r: r.fact_id)


def _seen(pages: list[dict], seen_urls: Iterable[str] | None) -> list[dict]:
    readable = [
        p for p in pages if p.get("lang") == SEEN_LANG and not p.get("disallowed") and p.get("kind") not in UNSEEN_KINDS
    ]
    if seen_urls is None:
        return readable
    urls = set(seen_urls)
    kept = [p for p in readable if p["url"] in urls]
    if urls and not kept:
        raise StageInputError(
            f"none of the {len(urls)} seen URLs is a readable English page of pages.parquet (first: {next(iter(urls))})"
        )
    return kept


def _choose(
    rows: list[FactRow], by_subject: dict[str, list[FactRow]], mined: Mined, index: SentenceIndex, skipped: Counter
) -> list[FactProbe]:
    # A prefix that leads to two facts' objects has two right answers: no fact may use it; nor
    # may one that the pages also continue with something else (it does not determine its answer).
    owners: Counter = Counter(prefix for counts in mined.prefixes.values() for prefix in counts)
    objects = {row.fact_id: row.object for row in rows}
    usable = {
        fact_id: {p: n for p, n in counts.items() if owners[p] == 1 and index.only_continues_with(p, objects[fact_id])}
        for fact_id, counts in mined.prefixes.items()
        if fact_id in objects
    }
    templates: dict[tuple[str, str], str] = {}
    popularity: Counter = Counter()  # (relation, template) -> facts offering it
    for row in rows:
        for prefix in usable.get(row.fact_id, {}):
            template = template_of(prefix, row, by_subject[row.subject_id])
            templates[(row.fact_id, prefix)] = template
            popularity[(row.relation, template)] += 1
    probes = []
    for row in rows:
        options = usable.get(row.fact_id)
        if not options:
            reason = (
                "ambiguous_prefix"
                if row.fact_id in mined.prefixes
                else "no_clean_prefix"
                if row.fact_id in mined.stated
                else "not_stated"
            )
            skipped[reason] += 1
            continue
        prefix = min(
            options, key=lambda p: (-options[p], -popularity[(row.relation, templates[(row.fact_id, p)])], len(p), p)
        )
        probes.append(
            FactProbe(
                row.fact_id,
                row.subject_id,
                row.subject,
                row.relation,
                prefix,
                row.object,
                templates[(row.fact_id, prefix)],
                options[prefix],
                len(options),
            )
        )
    return probes


def mode_answers(probes: list[FactProbe]) -> dict[str, str]:
    """relation -> its most frequent answer (ties: the alphabetically first)."""
    by_relation: dict[str, Counter] = {}
    for probe in probes:
        by_relation.setdefault(probe.relation, Counter())[probe.answer] += 1
    return {relation: min(counts, key=lambda a: (-counts[a], a)) for relation, counts in by_relation.items()}


def chance_rate(probes: list[FactProbe], modes: dict[str, str] | None = None) -> float:
    """Accuracy of always answering the relation's most frequent answer: the floor that a model
    which knows the relations' answer sets, but not the facts, reaches. `modes` (e.g. a ProbeSet's,
    over all probes) default to the modes of `probes` themselves."""
    if not probes:
        raise ValueError("chance_rate: no probes")
    modes = modes or mode_answers(probes)
    return sum(p.answer == modes[p.relation] for p in probes) / len(probes)
