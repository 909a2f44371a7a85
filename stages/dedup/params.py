"""The `dedup` section of params.yaml. Defaults are the `tiny` profile, PROFILES holds the other
profiles' values; docs/dedup.md says how to choose them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from crisol.core.params import Section
from crisol.core.path_roles import InputPath, OutputDir, OutputFile


class DedupParams(Section):
    """Exact and MinHash near-duplicate removal (stages/dedup). docs/dedup.md: "Choosing the parameters".
    Documents in; deduplicated documents, a clusters table, a sample file and metrics out."""

    input: InputPath = Path("data/ingest/documents")  # = ingest.documents
    documents: OutputDir = Path("data/dedup/documents")
    clusters: OutputFile = Path("data/dedup/clusters.parquet")
    samples: OutputFile = Path("data/dedup/samples.json")
    metrics: OutputFile = Path("data/metrics/dedup.json")

    # Work is sharded by Parquet row groups: one shard is at most this many documents (a row group
    # larger than this is one shard on its own).
    docs_per_shard: int = Field(2000, ge=1)

    # Normalisation, shared by the exact hash and the shingles.
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    lowercase: bool = True
    strip_punctuation: bool = True  # punctuation and symbols become spaces

    # Shingles: word n-grams (scripts written without spaces count one token per character), or
    # character n-grams of the normalised text.
    shingle_kind: Literal["word", "char"] = "word"
    shingle_size: int = Field(5, ge=1, le=64)

    # Shingles in more than max(min_docs, fraction x documents) documents are template text and
    # are left out of the signatures (see frequent.py); null fraction: keep every shingle.
    frequent_shingle_fraction: float | None = Field(0.01, gt=0.0, le=1.0)
    frequent_shingle_min_docs: int = Field(20, ge=1)

    # MinHash and LSH. `bands` x `rows` (both or neither) must fit in `num_perm`; when not given they
    # are chosen for `threshold` by datasketch's own optimiser with these weights (recall-heavy:
    # every candidate is verified afterwards, so a false candidate costs only a comparison).
    num_perm: int = Field(128, ge=2, le=1024)
    threshold: float = Field(0.4, gt=0.0, le=1.0)  # exact shingle Jaccard to the kept document to be removed
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    false_positive_weight: float = Field(0.1, ge=0.0, le=1.0)
    false_negative_weight: float = Field(0.9, ge=0.0, le=1.0)
    seed: int = Field(1, ge=0, lt=2**32)  # datasketch's permutation seed (and token hashing)

    sample_clusters: int = Field(5, ge=0)  # example clusters written to `samples`
    sample_chars: int = Field(300, ge=0)  # text shown per example document

    @model_validator(mode="after")
    def _bands_and_rows(self) -> "DedupParams":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they follow from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.false_positive_weight + self.false_negative_weight == 0:
            raise ValueError("false_positive_weight and false_negative_weight cannot both be 0")
        return self


# The profiles' values (the defaults are tiny's; crisol/core/params.py: PROFILE_NOTES).
PROFILES = {
    "micro": {
        "frequent_shingle_min_docs": 20,  # ~300 documents: the FAQ template is on ~50 pages
    },
}
