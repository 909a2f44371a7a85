"""Arrow schema of the dedup stage's clusters artifact (kept apart from schemas.py, which the
foundation owns; same ArtifactSchema contract: bump `version` on any incompatible change)."""

from __future__ import annotations

import pyarrow as pa

from stages.common.schemas import ArtifactSchema

# One row per input document: which cluster it fell in and whether it survived.
CLUSTERS = ArtifactSchema("clusters", 1, pa.schema([
    pa.field("id", pa.string(), nullable=False),            # document id (DOCUMENTS.id)
    pa.field("cluster_id", pa.string(), nullable=False),    # id of the document the cluster keeps
    pa.field("cluster_size", pa.int64(), nullable=False),   # 1 for a unique document
    pa.field("kept", pa.bool_(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),          # unique | exact | near
    # Similarity to the kept document: 1 for exact copies, the MinHash estimate for near ones,
    # null for a unique document.
    pa.field("jaccard_to_kept", pa.float32()),
]))
