"""The ingest stage: WARC/WET/ARC and documents files -> documents and rejects (extraction, language,
quality, PII)."""
