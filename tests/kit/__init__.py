"""The test kit: what more than one test module needs, in one package (importable as `kit`
through pyproject's pytest `pythonpath`). Fixtures shared by every test stay in tests/conftest.py.

    kit/paths.py       the checkout and the shared test data
    kit/stages.py      running a stage: its params file written for the test, then its command line
    kit/documents.py   DOCUMENTS parquet written directly (the input of dedup and tokenizer)
    kit/web.py         the synthetic web at micro size (the `web` stage run into a folder)
    kit/crawl.py       tiny hand-written sites, and a crawl of one
    kit/ingest.py      WARC / WET / ARC files and documents files to ingest
    kit/dedup.py       the dedup stage on written documents; duplicate-pair scoring
    kit/tokenizer.py   a small English corpus; the tokenizer stage on it
    kit/chat.py        a small fitted tokenizer with the chat tokens
    kit/row_files.py   the unusable inputs every loader of a user's row files refuses
    kit/pretrain.py    a small tokenized corpus and the pretrain stage on it
    kit/scaling.py     an IsoFLOP sweep of the pretrain kit's small models
    kit/sft.py         the micro world, a small tokenizer and base model, the sft stage on them
    kit/rlhf.py        SFT -> reward -> ppo on the micro world (the `rlhf_pipeline` fixture)
    kit/evaluate.py    tiny models, HellaSwag rows, lm-eval runs, token splits
    kit/serve.py       a real `crisol serve` in a thread
    kit/browser.py     headless Chromium through Playwright
    kit/prefect.py     a real `prefect server start`
    kit/deploy.py      a toy DVC workspace, the Prefect CLI, a process worker
    kit/workspace.py   a copy of the project's stage graph in a DVC workspace (end-to-end tests)
"""
