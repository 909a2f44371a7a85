"""The evaluation suite of a user's own data (source: own). Nothing here reads the synthetic world.

    held-out text     the tokenizer's validation split of this run's documents, plus the held-out
                      text files under own.root/eval (eval_files.py); bits per byte of each model
                      beside the unigram baseline fitted on the train split (unigram.py)
    multiple choice   evaluate.multiple_choice_files plus own.root/eval's HellaSwag-format files
    QA                own.root/eval's question/answers files (qa_files.py)
    RM accuracy       the reward stage's held-out human pairs (preferences.py)
    RLHF vs SFT       reward-model score, KL, win rate on PPO's held-out prompts (prompts.py)

Every section is recorded in `parts` (the metrics and the report card): ran, with its n, or not
run, with why. The world's sections (completion choice from its pages, closed- and open-book world
questions, hallucination on invented entities, the gold score) are listed as not run.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Sequence

from crisol.chat.template import ChatTemplate
from crisol.core.source import DataSource
from crisol.core.subsets import seeded_subset
from crisol.formats.conversations import Example
from stages.evaluate.eval_files import EvalFiles, read_heldout_text, sort_eval_files
from stages.evaluate.heldout import Document, heldout_documents
from stages.evaluate.hellaswag import Item
from stages.evaluate.metrics import count_bytes, text_perplexity
from stages.evaluate.params import EvaluateParams
from stages.evaluate.preferences import PAIRS_FILE, HeldoutPair, read_heldout_pairs
from stages.evaluate.prompts import HELDOUT_PROMPTS, read_heldout_prompts
from stages.evaluate.qa_files import question_set, read_qa
from stages.evaluate.questions import QuestionSet
from stages.evaluate.suite import Suite, multiple_choice_files, task_name, unique
from stages.evaluate.unigram import Unigram

VALIDATION_SPLIT, EVAL_FILES = "validation_split", "eval_files"
HELDOUT, RM_ACCURACY, ALIGNMENT = "heldout_documents", "rm_accuracy", "alignment"
# The world's sections: part name -> what it is, for the "not run" reason.
WORLD_PARTS = {
    "completion_choice": "completion choice (items from the world's pages)",
    "closed_book": "closed-book world QA",
    "open_book": "open-book world QA",
    "hallucination": "hallucination on invented entities",
    "gold_score": "the gold score (the world's oracle)",
}


def ran(n: int, **more: Any) -> dict[str, Any]:
    return {"ran": True, "n": n, **more}


def not_run(why: str, **more: Any) -> dict[str, Any]:
    return {"ran": False, "why": why, **more}


def own_suite(source: DataSource, params: EvaluateParams, log: logging.Logger) -> Suite:
    # Each section adds its entries to `parts` and `skipped` in turn: their order is the metrics'
    # and the report card's.
    parts: dict[str, dict[str, Any]] = {}
    files = sort_eval_files(source)
    skipped = {f"eval file {name}": why for name, why in files.skipped.items()}
    documents, extra, origins = _heldout_section(params, files, parts, skipped)
    taken = [HELDOUT, RM_ACCURACY, ALIGNMENT, *WORLD_PARTS]
    choice = _multiple_choice_section(source, params, files, log, taken, parts, skipped)
    qsets = _qa_section(source, params, files, [*taken, *choice], parts, skipped)
    pairs = _preference_section(params, parts)
    aligned, origin = alignment_prompts(params)
    if aligned:
        parts[ALIGNMENT] = ran(len(aligned), prompts=origin, win_judge="reward model")
    else:
        parts[ALIGNMENT] = not_run(f"no held-out prompts: {origin}")

    for part, label in WORLD_PARTS.items():
        parts[part] = source.not_run(label)
    log.info(
        "evaluate (own): %d held-out documents (%d from eval files), multiple choice %s, QA %s, "
        "%s held-out pairs, %d alignment prompts (%s)",
        len(documents),
        extra,
        {k: len(v) for k, v in choice.items()},
        {q.task: len(q.questions) for q in qsets},
        "no" if pairs is None else len(pairs),
        len(aligned),
        origin,
    )
    return Suite(
        documents,
        choice,
        qsets,
        aligned,
        gold=False,
        skipped=skipped,
        parts=parts,
        unigram=Unigram.fit(params.train_tokens),
        origins=origins,
        preference_pairs=pairs,
    )


def _heldout_section(
    params: EvaluateParams, files: EvalFiles, parts: dict[str, dict[str, Any]], skipped: dict[str, str]
) -> tuple[list[Document], int, dict[str, str]]:
    """The validation split's held-out documents then the eval files' text; how many came from the
    eval files, and each document's origin."""
    documents = heldout_documents(params.validation_tokens, params.documents, params.heldout_documents)
    text = read_heldout_text(files.text)
    if text.skipped:
        skipped["held-out text rows"] = ", ".join(f"{r} {n}" for r, n in text.skipped.items())
    extra = text.documents[: params.heldout_documents]
    origins = {d.id: VALIDATION_SPLIT for d in documents} | {d.id: EVAL_FILES for d in extra}
    documents = [*documents, *extra]
    parts[HELDOUT] = ran(
        len(documents),
        bytes=sum(count_bytes(d.text) for d in documents),
        validation_split_documents=len(documents) - len(extra),
        eval_file_documents=len(extra),
        eval_files=[str(p) for p in files.text],
    )
    return documents, len(extra), origins


def _multiple_choice_section(
    source: DataSource,
    params: EvaluateParams,
    files: EvalFiles,
    log: logging.Logger,
    taken: list[str],
    parts: dict[str, dict[str, Any]],
    skipped: dict[str, str],
) -> dict[str, list[Item]]:
    """The configured and the eval folder's HellaSwag-format files, task name -> items."""
    choice, mc_skipped = multiple_choice_files(
        [*params.multiple_choice_files, *files.multiple_choice], params.multiple_choice_items, log, taken=taken
    )
    skipped.update(mc_skipped)
    for name, items in choice.items():
        parts[name] = ran(len(items), section="multiple choice")
    for name, why in mc_skipped.items():
        if not name.endswith(" rows"):
            parts[name] = not_run(why, section="multiple choice")
    if not choice:
        parts["multiple_choice"] = not_run(
            f"no HellaSwag-format file: evaluate.multiple_choice_files are missing "
            f"and {source.root / 'eval'} holds none (rows with ctx, endings, label)"
        )
    return choice


def _qa_section(
    source: DataSource,
    params: EvaluateParams,
    files: EvalFiles,
    taken: list[str],
    parts: dict[str, dict[str, Any]],
    skipped: dict[str, str],
) -> list[QuestionSet]:
    """One question set per QA file, each named apart from the `taken` names and from the others."""
    qsets: list[QuestionSet] = []
    for path in files.qa:
        name = unique(task_name(path), [*taken, *(q.task for q in qsets)])
        data = read_qa(path)
        if data.skipped:
            skipped[f"{name} rows"] = ", ".join(f"{r} {n}" for r, n in data.skipped.items())
        qs = question_set(name, data, params.few_shot, params.qa_items, params.seed)
        qsets.append(qs)
        parts[name] = ran(
            len(qs.questions),
            section="QA",
            shots=len(qs.shots),
            open_book=sum(e.kind == "open_book" for e in qs.questions),
        )
    if not files.qa:
        parts["qa"] = not_run(
            f"no QA file under {source.root / 'eval'} (JSONL rows with question, answers and an optional context)"
        )
    return qsets


def _preference_section(params: EvaluateParams, parts: dict[str, dict[str, Any]]) -> list[HeldoutPair] | None:
    """The reward stage's held-out human pairs, or None when there are none to score."""
    pairs = read_heldout_pairs(params.reward)
    if pairs is None:
        parts[RM_ACCURACY] = not_run(f"{params.reward / PAIRS_FILE} not found: no reward model's pairs")
    elif not pairs:
        parts[RM_ACCURACY] = not_run(
            f"{params.reward / PAIRS_FILE} holds no held-out human pair (split test, "
            "kind user): the reward model trained on no preference file"
        )
        pairs = None
    else:
        parts[RM_ACCURACY] = ran(len(pairs))  # scored by the stage (preferences.accuracy)
    return pairs


def fit_to_context(suite: Suite, template: ChatTemplate, context: int, max_new_tokens: int) -> None:
    """Keep the questions and alignment prompts whose prompt leaves room for a whole reply
    (max_new_tokens) in every model's context (`context`, the smallest); count the others in their
    part as over_length. A user's prompts can be long: generating would cut their start away, and
    scoring prompt + reply would not fit. A section left with nothing does not run, and says why."""
    parts = suite.parts or {}

    def fits(ids: Sequence[int]) -> bool:
        return len(ids) + max_new_tokens <= context

    def mark(name: str, kept: int, total: int, what: str) -> None:
        parts[name]["over_length"] = total - kept
        parts[name]["n"] = kept
        if total and not kept:
            parts[name] = not_run(
                f"every one of its {total} {what} is too long: prompt + evaluate.max_new_tokens "
                f"({max_new_tokens}) > the models' context ({context} tokens)",
                over_length=total,
                **{k: v for k, v in parts[name].items() if k not in ("ran", "n", "why", "over_length")},
            )

    qsets = []
    for qs in suite.qsets:
        kept = [
            e
            for e in qs.questions
            if fits(template.generation_prompt(e.messages[:-1]))
            and fits([template.eos_id, *template.encode_text(e.messages[-2]["content"] + "\n")])
        ]
        mark(qs.task, len(kept), len(qs.questions), "questions")
        if kept:
            qsets.append(replace(qs, questions=kept))
    suite.qsets = qsets
    total = len(suite.aligned)
    suite.aligned = [e for e in suite.aligned if fits(template.generation_prompt(e.messages[:-1]))]
    if total:
        mark(ALIGNMENT, len(suite.aligned), total, "held-out prompts")


def alignment_prompts(params: EvaluateParams) -> tuple[list[Example], str]:
    """PPO's held-out prompts (a seeded subset of at most evaluate.alignment_prompts) and where they
    came from (or, when there are none, why)."""
    held_out = read_heldout_prompts(params.rlhf)
    if held_out is None:
        return [], f"{params.rlhf / HELDOUT_PROMPTS} not found"
    return (
        seeded_subset(held_out, params.alignment_prompts, params.seed),
        f"PPO's held-out prompts ({len(held_out)}, {params.rlhf / HELDOUT_PROMPTS})",
    )


def heldout_breakdown(
    documents: Sequence[Document],
    origins: dict[str, str],
    encoded: Sequence[Sequence[int]],
    loglikelihoods: Sequence[float],
    unigram: Unigram,
) -> dict[str, Any]:
    """The unigram baseline's bits per byte on all the held-out documents, and per origin (the
    validation split, the eval files): documents, bytes, the model's and the unigram's bits per byte."""

    def figures(indices: list[int]) -> dict[str, Any]:
        texts = [documents[i].text for i in indices]
        ppl = text_perplexity(texts, [loglikelihoods[i] for i in indices], [len(encoded[i]) for i in indices])
        return {
            "documents": ppl.documents,
            "bytes": ppl.bytes,
            "bits_per_byte": ppl.bits_per_byte,
            "unigram_bits_per_byte": unigram.bits_per_byte([encoded[i] for i in indices], texts),
        }

    groups: dict[str, list[int]] = {}
    for i, d in enumerate(documents):
        groups.setdefault(origins.get(d.id, VALIDATION_SPLIT), []).append(i)
    everything = list(range(len(documents)))
    return {
        "unigram_bits_per_byte": figures(everything)["unigram_bits_per_byte"],
        "by_origin": {origin: figures(indices) for origin, indices in groups.items()},
    }
