# The two set-up commands of the README work on a fresh machine:
#   make demo   create the environment, install, run the whole pipeline (Prefect flow over dvc.yaml)
#   make test   create the environment, install, run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# Prefect's ephemeral server gets 20 s to start by default; on a busy 2-core machine it took longer
# and the flow stopped with a traceback before any stage ran.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: install demo repro test lint bench clean-data

$(STAMP): pyproject.toml requirements.lock infra/install.sh
	bash infra/install.sh
	touch $@

install: $(STAMP)

# The whole pipeline on the embedded default, through the Prefect flow (an ephemeral Prefect
# server starts if PREFECT_API_URL is not set). Add ARGS="--set profile=micro" etc.
demo: $(STAMP)
	$(PY) -m flows.pipeline $(ARGS)

# The same stage graph with DVC alone, no Prefect (dvc.yaml rendered first for params.yaml's source),
# then the run's speedrun line to results/speedrun.jsonl (the flow of `make demo` does that itself).
repro: $(STAMP)
	$(PY) -m flows.dvc_repair
	$(PY) -m flows.graph
	$(VENV)/bin/dvc repro $(ARGS)
	$(PY) -m flows.speedrun_log

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

# ruff, configured in pyproject.toml: lint (pycodestyle, pyflakes, import order) and format. CI runs it.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Benchmarks are separate from the tests: each prints ratios against a baseline measured in the same run.
bench: $(STAMP)
	$(PY) benchmarks/bench_ingest.py
	$(PY) benchmarks/bench_extractors.py
	$(PY) benchmarks/bench_dedup.py
	$(PY) benchmarks/bench_tokenizer.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_muon.py
	$(PY) benchmarks/bench_sft.py
	$(PY) benchmarks/bench_ppo.py
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_evaluate.py
	$(PY) benchmarks/bench_scaling.py
	$(PY) benchmarks/bench_serve.py

clean-data:
	rm -rf data/web data/crawl data/ingest data/dedup data/tokenizer data/tokens data/metrics \
		data/pretrain data/pretrain-work data/sft data/reward data/ppo data/plots
