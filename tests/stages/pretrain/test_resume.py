"""A run killed with SIGKILL after a checkpoint and started again resumes by itself and ends with
exactly the weights of an uninterrupted run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import torch

from kit.paths import REPO_ROOT
from kit.pretrain import final_weights, make_corpus, metrics, run_subprocess, write_params
from kit.stages import run_stage, stage_command

# Slow enough per step that the kill lands mid-run, small enough for seconds in all.
RUN = {
    "max_steps": 60,
    "checkpoint_every": 10,
    "eval_every": 30,
    "log_every": 10,
    "model": {
        "depth": 2,
        "d_model": 64,
        "n_heads": None,
        "n_kv_heads": None,
        "ffn_hidden": None,
        "tie_embeddings": True,
    },
    "seq_len": 32,
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _kill_after_first_checkpoint(command: list[str], work: os.PathLike, timeout: float = 90) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while not list(work.glob("tiny/step-*/state.json")):
            assert proc.poll() is None, f"run ended before a checkpoint: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint written in time"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


# Each optimiser's state and the weight average are part of the state: a resume that lost any of
# them would write other weights. Muon runs with the average on (both states in one run, a kill
# and a resume cost ~15 s each), AdamW with it off (the plain run).
@pytest.mark.parametrize("optimizer, ema", [("adamw", 0.0), ("muon", 0.9)])
def test_sigkill_then_restart_ends_with_the_uninterrupted_weights(tmp_path, corpus, optimizer, ema):
    run = {**RUN, "optimizer": optimizer, "ema": ema}
    reference_root = tmp_path / "reference"
    reference_root.mkdir()
    assert run_subprocess(stage_command("pretrain", write_params(reference_root, corpus, **run))).returncode == 0
    reference = final_weights(reference_root)

    root = tmp_path / "killed"
    root.mkdir()
    command = stage_command("pretrain", write_params(root, corpus, **run))
    _kill_after_first_checkpoint(command, root / "work")
    assert not (root / "pretrain").exists(), "the kill must land before the run finished"
    killed_at = sorted((root / "work" / "tiny").glob("step-*"))[-1].name
    assert killed_at != "step-000060"

    restarted = run_subprocess(command)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert "resumed from" in restarted.stderr
    assert metrics(root)["resumed_from_step"] >= 10
    resumed = final_weights(root)
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), f"{name} differs after resume"
    # The curves cover the whole run, not only the resumed part.
    assert (root / "plots" / "train_loss.csv").read_text() == (reference_root / "plots" / "train_loss.csv").read_text()


def test_a_finished_run_rerun_resumes_at_the_end_and_rewrites_outputs(tmp_path, corpus):
    params = write_params(tmp_path, corpus)
    assert run_stage("pretrain", params) == 0
    first = final_weights(tmp_path)
    # DVC deletes its outs before it runs a stage: the checkpoints outside them make the rerun cheap.
    shutil.rmtree(tmp_path / "pretrain")
    assert run_stage("pretrain", params) == 0
    again = final_weights(tmp_path)
    assert all(torch.equal(first[k], again[k]) for k in first)
    m = metrics(tmp_path)
    assert m["resumed_from_step"] == m["steps"] == 12
    for key in (
        "parameters",
        "parameters_non_embedding",
        "tokens",
        "flops",
        "tokens_per_s",
        "wall_seconds",
        "energy_kwh",
        "validation",
    ):
        assert m[key] is not None, key
    assert m["mfu"] is None  # CPU: no peak to measure against
    assert m["tokens"] == 12 * 4 * 16
    assert (tmp_path / "pretrain" / "hf" / "config.json").is_file()
    assert (tmp_path / "pretrain" / "hf" / "tokenizer.json").is_file()


def test_the_stage_export_loads_in_transformers_with_our_logits(tmp_path, corpus):
    transformers = pytest.importorskip("transformers")
    from crisol.model import load_model

    assert run_stage("pretrain", write_params(tmp_path, corpus, max_steps=3, eval_every=3, checkpoint_every=3)) == 0
    ours = load_model(tmp_path / "pretrain" / "model").eval()
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "pretrain" / "hf", local_files_only=True).eval()
    ids = torch.randint(0, ours.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits.float(), ours(ids)[0], rtol=0, atol=1e-4)
