"""Arrow schemas of the artifacts stages exchange. Bump `version` on any incompatible change."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class ArtifactSchema:
    name: str
    version: int
    arrow: pa.Schema


# One row per kept document (ingest -> dedup -> tokenizer).
DOCUMENTS = ArtifactSchema(
    "documents",
    1,
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),  # stable: hash of url + payload digest, or a text row's id
            pa.field("url", pa.string()),
            pa.field("text", pa.string(), nullable=False),
            pa.field("title", pa.string()),
            pa.field("lang", pa.string()),
            pa.field("lang_score", pa.float32()),
            pa.field("n_words", pa.int32()),
            pa.field("quality", pa.map_(pa.string(), pa.float64())),  # filter signals, by name
            pa.field("pii_masked", pa.int32()),  # how many PII spans were replaced
            pa.field("source_file", pa.string()),  # provenance: WARC/WET/ARC or documents file
            pa.field("record_id", pa.string()),  # WARC-Record-ID, or `file:<path>#<row>`
            pa.field("payload_digest", pa.string()),  # WARC-Payload-Digest (or computed)
            pa.field("fetch_date", pa.string()),  # WARC-Date
            pa.field("content_kind", pa.string()),  # "html" (extracted), "wet" or "text" (plain text)
        ]
    ),
)

# One row per dropped document or record, with the reason (ingest's rejects file).
REJECTS = ArtifactSchema(
    "rejects",
    1,
    pa.schema(
        [
            pa.field("id", pa.string()),
            pa.field("url", pa.string()),
            pa.field("reason", pa.string(), nullable=False),  # e.g. "quality:gopher_min_words"
            pa.field("detail", pa.string()),
            pa.field("text", pa.string()),  # truncated sample for inspection
            pa.field("lang", pa.string()),
            pa.field("source_file", pa.string()),
            pa.field("record_id", pa.string()),
        ]
    ),
)

# Ground truth of the synthetic world: one row per fact (for SFT data, preferences, evaluation).
FACTS = ArtifactSchema(
    "facts",
    1,
    pa.schema(
        [
            pa.field("fact_id", pa.string(), nullable=False),
            pa.field("subject_id", pa.string(), nullable=False),
            pa.field("subject_type", pa.string()),  # person | place | organisation
            pa.field("subject", pa.string()),  # display name
            pa.field("relation", pa.string()),  # e.g. "born_in", "founded_year"
            pa.field("object", pa.string()),  # display value
            pa.field("object_id", pa.string()),  # entity id when the object is an entity
        ]
    ),
)

# Ground truth of the synthetic web: one row per generated page (for extraction/dedup checks).
PAGES = ArtifactSchema(
    "pages",
    1,
    pa.schema(
        [
            pa.field("url", pa.string(), nullable=False),
            pa.field("host", pa.string()),
            pa.field("kind", pa.string()),  # article|news|list|faq|mirror|near_duplicate|spam|foreign|...
            pa.field("style", pa.string()),  # page template used
            pa.field("lang", pa.string()),
            pa.field("duplicate_of", pa.string()),  # url of the original for mirrors/near-dups
            pa.field("edit_fraction", pa.float32()),  # share of words edited in a near-dup
            pa.field("disallowed", pa.bool_()),  # robots.txt forbids it
            pa.field("main_text", pa.string()),  # the text an extractor should recover
            pa.field("entity_ids", pa.list_(pa.string())),
        ]
    ),
)

# The dedup stage's clusters: one row per input document, which cluster it fell in and whether it survived.
CLUSTERS = ArtifactSchema(
    "clusters",
    1,
    pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),  # document id (DOCUMENTS.id)
            pa.field("cluster_id", pa.string(), nullable=False),  # id of the document the cluster keeps
            pa.field("cluster_size", pa.int64(), nullable=False),  # 1 for a unique document
            pa.field("kept", pa.bool_(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),  # unique | exact | near
            # Similarity to the kept document: 1 for exact copies, the MinHash estimate for near ones,
            # null for a unique document.
            pa.field("jaccard_to_kept", pa.float32()),
        ]
    ),
)
