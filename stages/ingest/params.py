"""The `ingest` section of params.yaml: inputs, outputs, and the filters each document passes."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from crisol.core.params import Section
from crisol.core.path_roles import InputName, OutputDir, OutputFile
from stages.ingest.langid import known_languages
from stages.ingest.pii import PiiParams
from stages.ingest.quality import QualityParams


class IngestParams(Section):
    """WARC/WET to documents: extraction, language ID, quality filters, PII (stages/ingest). WARC/WET/ARC
    and documents files in, documents and rejects (Parquet) out; every profile runs the defaults."""

    # Local files, directories, globs, URLs (http(s)://, s3://, any fsspec protocol) and Common
    # Crawl listings (warc.paths.gz, wet.paths.gz), one shard per file. Documents files (.jsonl,
    # .jsonl.gz, .parquet with a `text` column) too. With source own: own.root/{crawl,text} instead.
    inputs: list[InputName] = Field(default_factory=lambda: ["data/crawl/warc"], min_length=1)
    cc_base_url: str = "https://data.commoncrawl.org/"  # what listing lines are relative to
    max_files: int | None = Field(None, ge=1)  # cap on input files (listings are long)
    sources_timeout_s: float = Field(60.0, gt=0)  # connect/read stall limit for remote files

    documents: OutputDir = Path("data/ingest/documents")
    rejects: OutputDir = Path("data/ingest/rejects")
    metrics: OutputFile = Path("data/metrics/ingest.json")

    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)  # languages kept
    min_lang_score: float = Field(0.5, ge=0.0, le=1.0)
    max_record_bytes: int = Field(2_000_000, ge=1024)  # larger payloads / row texts are skipped, counted
    reject_text_chars: int = Field(500, ge=0)  # text sample kept with each reject

    # Every threshold of every rule (stages/ingest/quality.py); null disables a rule.
    quality: QualityParams = Field(default_factory=QualityParams)
    # Which kinds of personal data are masked, and the tokens that replace them (stages/ingest/pii.py).
    pii: PiiParams = Field(default_factory=PiiParams)

    @field_validator("languages")
    @classmethod
    def _known_codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        unknown = sorted(set(codes) - set(known_languages()))
        if unknown:  # a typo here would silently drop every document
            raise ValueError(f"unknown language code(s) {unknown}; use ISO 639-1 codes like 'en'")
        return codes
