"""Where a run's data comes from: the synthetic world (the default) or a user's own folder.

    source: synthetic   # web -> crawl -> ingest ...; the world's facts measure what a model learned
    source: own         # no web, no crawl: inputs come from own.root, one sub-folder per kind
    own:
      root: data/own

With `own`, every part of a stage that reads the world's ground truth (fact probes, generated
instructions, the gold oracle, world QA) does not run, and the stage says so in its metrics
(`parts`): nothing falls back silently to world data. Each stage finds its inputs by kind:

    crawl/         WARC, WET, ARC files (gzip per record or whole-file, or plain)
    text/          documents: JSONL, JSONL.gz or Parquet with a `text` column
    instructions/  SFT rows (Alpaca, Dolly, OpenAI messages, ShareGPT)
    preferences/   reward-model pairs (prompt/chosen/rejected, hh-rlhf transcripts)
    prompts/       PPO prompts (JSONL `prompt` or `messages`)
    eval/          multiple-choice (HellaSwag format), QA and held-out text files
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from crisol.core.errors import StageInputError
from crisol.core.params import Section, validate_section

SYNTHETIC, OWN = "synthetic", "own"

# What each kind of own-data folder holds, for the one-line error of a folder that lacks it.
KINDS: dict[str, str] = {
    "crawl": "WARC/WET/ARC files (.warc, .warc.gz, .wet, .wet.gz, .arc, .arc.gz)",
    "text": "documents with a 'text' column (.jsonl, .jsonl.gz, .parquet)",
    "instructions": "instruction rows: Alpaca, Dolly, OpenAI messages or ShareGPT (.json, .jsonl, .json.gz, .jsonl.gz, "
    ".parquet)",
    "preferences": "preference pairs: prompt/chosen/rejected or hh-rlhf transcripts (.json, .jsonl, .json.gz, "
    ".jsonl.gz, .parquet)",
    "prompts": "prompts: JSONL rows with 'prompt' or 'messages' (.jsonl, .jsonl.gz)",
    "eval": "HellaSwag-format multiple choice, QA rows (question, answers[, context]) "
    "or held-out text (.jsonl, .jsonl.gz, .txt)",
}


class OwnParams(Section):
    """A user's own data: one folder, laid out by kind (see KINDS)."""

    root: Path = Path("data/own")


class SourceParams(Section):
    """The top-level `source` and `own` of params.yaml."""

    # Where the data comes from: `synthetic` (the generated web, crawled: the default and our measuring
    # instrument, since its facts are known) or `own` (your files under own.root, laid out by kind:
    # crawl/ text/ instructions/ preferences/ prompts/ eval/; docs/own-data.md). With `own` the web
    # and crawl stages do not run, and nothing reads the synthetic world.
    source: Literal["synthetic", "own"] = SYNTHETIC
    own: OwnParams = Field(default_factory=OwnParams)


def _visible(path: Path) -> bool:
    return not any(part.startswith(".") for part in path.parts)


@dataclass(frozen=True)
class DataSource:
    """The active data source, as a stage sees it."""

    kind: str = SYNTHETIC
    root: Path = Path("data/own")

    @property
    def is_own(self) -> bool:
        return self.kind == OWN

    @property
    def has_world(self) -> bool:
        """Whether the synthetic world's ground truth is this run's data (and may be read)."""
        return self.kind == SYNTHETIC

    def folder(self, kind: str) -> Path | None:
        """own.root/<kind> when the source is own and the folder exists, else None."""
        if kind not in KINDS:
            raise ValueError(f"unknown own-data kind {kind!r}; known: {', '.join(KINDS)}")
        if not self.is_own:
            return None
        path = self.root / kind
        return path if path.is_dir() else None

    def files(self, kind: str) -> list[Path]:
        """Every visible file under own.root/<kind>, recursively, in a canonical (sorted) order."""
        folder = self.folder(kind)
        if folder is None:
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p.relative_to(folder)))

    def require(self, stage: str, *kinds: str) -> None:
        """One-line error unless own.root holds at least one of `kinds` (with a file in it)."""
        if any(self.files(kind) for kind in kinds):
            return
        if not self.root.is_dir():
            raise StageInputError(f"{stage}: own-data folder {self.root} not found (own.root; source: own)")
        wanted = "; or ".join(f"{self.root / kind}/ with {KINDS[kind]}" for kind in kinds)
        raise StageInputError(f"{stage}: source is own but {self.root} has no input for this stage: expected {wanted}")

    def refuse_world(self, stage: str) -> None:
        """A stage that makes the synthetic world does not run for own data: a one-line error for
        a graph rendered for the other source (dvc.yaml, `python -m flows.graph` renders it)."""
        if self.is_own:
            raise StageInputError(
                f"{stage}: source is own, so the synthetic web is not part of this run; "
                "render the stage graph for it with `python -m flows.graph`"
            )

    def not_run(self, part: str) -> dict[str, Any]:
        """A metrics entry for a part of a stage that reads the world and so did not run."""
        return {"ran": False, "why": f"source is {self.kind}: {part} needs the synthetic world's ground truth"}

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.kind, **({"own_root": str(self.root)} if self.is_own else {})}


def source_of(tree: dict[str, Any]) -> DataSource:
    """The data source of a resolved params tree (`source` and `own` at its top level)."""
    data = {key: tree[key] for key in ("source", "own") if key in tree}
    params = validate_section({"": data}, "", SourceParams)  # errors name `source` / `own.root`
    return DataSource(kind=params.source, root=params.own.root)
