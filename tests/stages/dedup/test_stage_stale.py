"""A killed dedup's temporaries (its work directory, its half-written documents) go with the next run."""

from __future__ import annotations

import subprocess
import sys

from kit.dedup import dedup
from kit.documents import document


def test_a_run_sweeps_a_dead_runs_temporaries_and_nothing_else(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    out = tmp_path / "run" / "out"
    out.mkdir(parents=True)
    stale = [f".tmp-dedup-work.{pid}.k2j4_x9a", f".tmp-documents.{pid}.abcd1234", f".tmp-documents.{pid}.old"]
    for name in stale:
        (out / name).mkdir()
        (out / name / "shingles-00000.npy").write_bytes(b"x")
    (out / ".tmp-other").write_text("not dedup's")
    docs = [document(f"d{i}", f"page {i} " + " ".join(f"w{i * 100 + j}" for j in range(50))) for i in range(20)]
    result = dedup(tmp_path / "run", docs)
    assert result["metrics"]["documents_out"] == 20
    hidden = sorted(p.name for p in out.iterdir() if p.name.startswith(".") and not p.name.endswith(".crisol-owner"))
    assert hidden == [".tmp-other"]
