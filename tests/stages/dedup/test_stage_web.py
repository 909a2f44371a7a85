"""On the synthetic web (micro profile), the planted mirrors and near-duplicates are found.

Documents are built straight from the generator's pages.parquet (main text as the text), for the
pages a crawl plus ingest would keep (see kit.dedup.web_documents): this isolates dedup from
extraction and takes ~2 s instead of a crawl. Ground truth: a mirror or near-duplicate is in the
group of the page it copies (`duplicate_of`), so mirrors and near copies of one original form one
group, and the duplicate pairs are all pairs within a group.
"""

from __future__ import annotations

from kit.dedup import dedup, precision_recall, web_documents
from kit.web import generate


def test_precision_and_recall_of_duplicate_pairs_on_the_micro_web(tmp_path):
    pages = generate(tmp_path / "web") / "pages.parquet"
    documents, truth = web_documents(pages)
    assert len(documents) > 300
    # The micro profile's override (params.yaml): a smaller corpus needs a lower floor for
    # "frequent" shingles, or its FAQ template (on ~50 pages) stays in the signatures.
    out = dedup(tmp_path / "dedup", documents, files=3, row_group=50, frequent_shingle_min_docs=20)
    precision, recall, predicted, expected = precision_recall(out["clusters"], truth)
    assert expected >= 40, "the micro web plants mirrors and near-duplicates"
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, predicted, expected)
    kinds = {row["kind"] for row in out["clusters"]}
    assert kinds == {"unique", "exact", "near"}  # mirrors are exact copies, near-duplicates near
    assert out["metrics"]["frequent_shingles"]["distinct"] > 0
