"""The ingest stage: WARC/WET files -> documents and rejects (extraction, language, quality, PII)."""
