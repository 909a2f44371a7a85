"""Shared by the scaling tests: a params file whose `scaling` section sweeps a 3 x 3 IsoFLOP grid
of the pretrain kit's small models (d_model 32, 64 tokens per step: each run takes seconds)
on its small corpus."""

from __future__ import annotations

from pathlib import Path

import yaml

from kit.pretrain import write_params
from kit.stages import stage_defaults

# d_model 32, depths 1-3: N = 16,480 / 32,928 / 49,376; depth 3 at the smallest budget is 21 steps
BUDGETS = [4e8, 8e8, 1.6e9]


def write_sweep_params(root: Path, corpus: dict, **scaling) -> Path:
    path = write_params(root, corpus, fact_probes=0)
    tree = yaml.safe_load(path.read_text())
    tree["scaling"] = {
        **stage_defaults("scaling"),
        "runs_dir": str(root / "sweep"),
        "out": str(root / "scaling"),
        "figures": str(root / "figures"),
        "metrics": str(root / "scaling.json"),
        "budgets": BUDGETS,
        "depths": [1, 2, 3],
        "d_model": 32,
        "warmup_fraction": 0.1,
        "budget": 3.2e9,
        "bootstrap": 20,
        "workers": 2,
        **scaling,
    }
    path.write_text(yaml.safe_dump(tree))
    return path
