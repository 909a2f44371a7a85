"""Which models `crisol serve` offers and how it finds them: the pipeline's by name from
params.yaml, the registry's promoted version, any model directory form by path; an HF export
reads back into the same network; a promotion is picked up by a running server; the `crisol`
command answers a user's mistake with one line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import torch
import yaml

from crisol.model.hf_import import load_hf_model
from crisol.model.weights import load_model
from crisol.serve.catalog import CatalogError, ModelSpec, choose_specs, load, locate, pipeline_specs
from flows import registry as reg
from kit.serve import running_server


def workspace(root: Path, rlhf_pipeline) -> Path:
    """A checkout-like folder: params.yaml naming data/ paths, the sft and ppo outs under them."""
    (root / "data").mkdir(parents=True)
    shutil.copytree(rlhf_pipeline["sft"], root / "data" / "sft")
    shutil.copytree(rlhf_pipeline["ppo"], root / "data" / "ppo")
    (root / "params.yaml").write_text(
        yaml.safe_dump({"pretrain": {"out": "data/pretrain"}, "sft": {"out": "data/sft"}, "ppo": {"out": "data/ppo"}})
    )
    return root


def test_pipeline_models_by_name_and_the_promoted_one(tmp_path, rlhf_pipeline):
    root = workspace(tmp_path, rlhf_pipeline)
    names = [s.name for s in pipeline_specs(root, root / "params.yaml")]
    assert names == ["sft", "rlhf"]  # no pretrain out yet: base is not offered
    registry = root / "models" / "registry"
    entry = reg.register(registry, [root / "data" / "ppo"], {"m": 1.0}, root=root)
    reg.promote(registry, entry["version"], reason="test")
    specs = {s.name: s for s in pipeline_specs(root, root / "params.yaml")}
    assert specs["production"].path == registry / entry["version"]
    assert locate(specs["production"].path)[0] == registry / entry["version"] / "ppo" / "model"


def test_every_directory_form_locates_the_same_weights(rlhf_pipeline):
    sft = rlhf_pipeline["sft"]
    assert locate(sft)[:2] == (sft / "model", "crisol")
    assert locate(sft / "model")[:2] == (sft / "model", "crisol")
    assert locate(sft / "hf")[:2] == (sft / "hf", "hf")
    assert locate(sft)[2] == sft / "hf" / "tokenizer.json"


def test_hf_export_reads_back_to_identical_logits(rlhf_pipeline):
    ours = load_model(rlhf_pipeline["sft"] / "model")
    theirs = load_hf_model(rlhf_pipeline["sft"] / "hf")
    ids = torch.randint(0, ours.config.vocab_size, (2, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours(ids)[0], theirs(ids)[0])
    assert load(ModelSpec("x", rlhf_pipeline["sft"] / "hf")).chat


def test_choose_specs_names_and_mistakes(tmp_path, rlhf_pipeline):
    available = [ModelSpec("sft", rlhf_pipeline["sft"])]
    assert choose_specs([], available) == available
    assert choose_specs(["mine=" + str(tmp_path)], available) == [ModelSpec("mine", tmp_path)]
    with pytest.raises(CatalogError, match="neither a pipeline model"):
        choose_specs(["rlhf"], available)
    with pytest.raises(CatalogError, match="given twice"):
        choose_specs(["sft", "sft=" + str(tmp_path)], available)
    with pytest.raises(CatalogError, match="no model to serve"):
        choose_specs([], [])
    with pytest.raises(CatalogError, match="no model here"):
        locate(tmp_path)


def test_a_running_server_picks_up_a_promotion(tmp_path, rlhf_pipeline):
    root = workspace(tmp_path, rlhf_pipeline)
    registry = root / "models" / "registry"
    first = reg.register(registry, [root / "data" / "sft"], {}, root=root)
    reg.promote(registry, first["version"], reason="first")
    second = reg.register(registry, [root / "data" / "ppo"], {}, root=root)
    with running_server({}, watch=0.2, resolve=lambda: pipeline_specs(root, root / "params.yaml")) as url:

        def production_root() -> str:
            cards = httpx.get(url + "/v1/models").json()["data"]
            return next(c["root"] for c in cards if c["id"] == "production")

        assert production_root().endswith(f"{first['version']}/sft/model")
        reg.promote(registry, second["version"], reason="better")
        deadline = time.monotonic() + 20
        while not production_root().endswith(f"{second['version']}/ppo/model"):
            assert time.monotonic() < deadline, "the promotion was not picked up"
            time.sleep(0.1)
        ask = {"model": "production", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        assert httpx.post(url + "/v1/chat/completions", json=ask).status_code == 200


def crisol(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crisol", *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120
    )


def test_cli_mistakes_are_one_line(tmp_path):
    result = crisol("serve", "--model", "nope", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "neither a pipeline model" in result.stderr
    result = crisol("chat", cwd=tmp_path)
    assert result.returncode == 2 and "no model to chat with" in result.stderr


def test_terminal_chat_streams_replies_and_resets(tmp_path, rlhf_pipeline):
    root = workspace(tmp_path, rlhf_pipeline)
    result = crisol(
        "chat",
        "--temperature",
        "0",
        "--max-tokens",
        "6",
        cwd=root,
        stdin="Who founded it?\n/reset\n" + "long " * 300 + "\nhi\n/quit\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("[rlhf: ") and out.count("rlhf> ") == 2
    assert "[a new conversation]" in out and "longer than the model's" in out


@pytest.mark.parametrize(("flag", "threads"), [([], 1), (["--threads", "2"], 2)])
def test_serve_generates_a_narrow_model_on_one_thread_unless_told(tmp_path, rlhf_pipeline, flag, threads):
    """One thread for a narrow model: a busy neighbour cannot stall its decode steps
    (crisol/model/generation_threads.py); the whole process's count, chosen once, at start."""
    root = workspace(tmp_path, rlhf_pipeline)
    server = subprocess.Popen(
        [sys.executable, "-m", "crisol", "serve", "--port", "0", *flag], cwd=root, stderr=subprocess.PIPE, text=True
    )
    try:
        said = []
        for line in iter(server.stderr.readline, ""):  # until it listens, or exits
            said.append(line)
            if "chat page and API" in line:
                break
        assert f"crisol serve: {threads} torch thread(s)\n" in said, said
    finally:
        server.kill()
        server.wait()
