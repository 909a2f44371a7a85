"""One record's way to a document: extract (HTML) -> language -> quality -> PII masking.

`process_record` returns a DOCUMENTS row or a REJECTS row (with the first reason it failed), and
counts what happened under `html_pages`, `wet_records`, `extracted`, `kept`, `dropped.<reason>`,
`languages.<code>` (every identified document) and `pii_masked.<kind>`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from stages.ingest.extract import extract_html
from stages.ingest.langid import identify
from stages.ingest.params import IngestParams
from stages.ingest.pii import mask_pii
from stages.ingest.quality import assess
from stages.ingest.records import RawRecord


def document_id(url: str, record_id: str) -> str:
    """Stable across runs and executors: the same record always gets the same id."""
    return hashlib.sha1((url + record_id).encode("utf-8")).hexdigest()[:16]


def _reject(raw: RawRecord, doc_id: str, source: str, reason: str, text: str | None,
            params: IngestParams, counters: Counter, lang: str | None = None, detail: str | None = None) -> dict:
    counters[f"dropped.{reason}"] += 1
    return {
        "id": doc_id, "url": raw.url, "reason": reason, "detail": detail,
        "text": text[: params.reject_text_chars] if text is not None else None,
        "lang": lang, "source_file": source, "record_id": raw.record_id,
    }


def _text_of(raw: RawRecord, counters: Counter) -> tuple[str, str | None]:
    if raw.kind == "wet":
        counters["wet_records"] += 1
        return raw.payload.decode("utf-8", errors="replace"), None
    counters["html_pages"] += 1
    # The extractor decodes the bytes itself: BOM, HTTP charset, <meta> charset, UTF-8.
    page = extract_html(raw.payload, url=raw.url or None, charset=raw.charset)
    if page is None:
        return "", None
    return page.text, page.title


def process_record(raw: RawRecord, source: str, params: IngestParams,
                   counters: Counter) -> tuple[dict | None, dict | None]:
    """(document row, None) when the record is kept, (None, reject row) when it is not."""
    doc_id = document_id(raw.url, raw.record_id)
    text, title = _text_of(raw, counters)
    if not text.strip():
        return None, _reject(raw, doc_id, source, "no_text", None, params, counters)
    if raw.kind == "html":
        counters["extracted"] += 1

    lang, score = identify(text)
    counters[f"languages.{lang}"] += 1
    detail = f"score={score:.3f}"
    if lang not in params.languages:
        return None, _reject(raw, doc_id, source, f"lang:{lang}", text, params, counters, lang, detail)
    if score < params.min_lang_score:
        return None, _reject(raw, doc_id, source, "lang_low_score", text, params, counters, lang, detail)

    # assess() also applies C4 line cleaning when configured, so its text is the one kept.
    quality = assess(text, lang, params.quality)
    counters["quality_lines_dropped"] += quality.lines_dropped
    signals = quality.signals
    if quality.reason is not None:
        detail = json.dumps({k: round(v, 4) for k, v in sorted(signals.items())})
        return None, _reject(raw, doc_id, source, f"quality:{quality.reason}", text, params, counters,
                             lang, detail)

    masked, spans = mask_pii(quality.text, params.pii)
    for kind, count in spans.items():
        if count:
            counters[f"pii_masked.{kind}"] += count
    counters["kept"] += 1
    return {
        "id": doc_id, "url": raw.url, "text": masked, "title": title,
        "lang": lang, "lang_score": float(score), "n_words": len(masked.split()),
        "quality": {name: float(value) for name, value in signals.items()},
        "pii_masked": int(sum(spans.values())),
        "source_file": source, "record_id": raw.record_id, "payload_digest": raw.payload_digest,
        "fetch_date": raw.date, "content_kind": raw.kind,
    }, None
