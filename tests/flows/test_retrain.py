"""The retraining flow and the model registry, over a toy DVC graph (never the real pipeline):
toy `ingest` reads `ingest.inputs`, toy `train` writes a fake model dir (data/ppo), toy `evaluate`
writes data/metrics/evaluate.json with the scores that params `toy.gold` / `toy.hallucination`
ask for, and exits 1 when `toy.fail` is true."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from flows import registry as reg
from flows.pipeline import dvc_executable
from flows.retrain import CRAWL_LANDED, MetricRule, compare, find_new_inputs
from kit import deploy
from kit.flow_process import FlowProcess

DVC = dvc_executable()

TOY_DVC_YAML = textwrap.dedent("""\
    stages:
      ingest:
        cmd: python toy_ingest.py
        deps:
          - toy_ingest.py
        params:
          - ingest.inputs
        outs:
          - docs.txt
      train:
        cmd: python toy_train.py
        deps:
          - toy_train.py
          - docs.txt
        params:
          - toy.gold
          - toy.hallucination
        outs:
          - data/ppo
      evaluate:
        cmd: python toy_evaluate.py
        deps:
          - toy_evaluate.py
          - data/ppo
        params:
          - toy.fail
        metrics:
          - data/metrics/evaluate.json:
              cache: false
    """)

TOY_INGEST = textwrap.dedent("""\
    import os, pathlib, time, yaml
    while os.path.exists("hold"):  # a test holds the run here
        time.sleep(0.1)
    inputs = yaml.safe_load(open("params.yaml"))["ingest"]["inputs"]
    text = "".join(pathlib.Path(p).read_text() for p in inputs)
    pathlib.Path("docs.txt").write_text(text)
    print("ingested", len(inputs), "files", flush=True)
    """)

TOY_TRAIN = textwrap.dedent("""\
    import hashlib, json, pathlib, yaml
    toy = yaml.safe_load(open("params.yaml"))["toy"]
    docs = pathlib.Path("docs.txt").read_text()
    out = pathlib.Path("data/ppo")
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "hf").mkdir(parents=True, exist_ok=True)
    (out / "model" / "weights.json").write_text(json.dumps({"gold": toy["gold"], "hallucination": toy["hallucination"],
                                                           "docs": hashlib.sha256(docs.encode()).hexdigest()}))
    (out / "hf" / "config.json").write_text(json.dumps({"model_type": "toy"}))
    """)

TOY_EVALUATE = textwrap.dedent("""\
    import json, pathlib, sys, yaml
    if yaml.safe_load(open("params.yaml"))["toy"]["fail"]:
        print("toy evaluate: failing as asked", flush=True)
        sys.exit(1)
    weights = json.loads(pathlib.Path("data/ppo/model/weights.json").read_text())
    pathlib.Path("data/metrics").mkdir(parents=True, exist_ok=True)
    pathlib.Path("data/metrics/evaluate.json").write_text(json.dumps({
        "rlhf_gold_score": weights["gold"], "rlhf_hallucination_rate": weights["hallucination"],
        "rlhf_closed_book_exact_match": 0.3, "models": {"rlhf": {"alignment": {"gold_score": weights["gold"]}}}}))
    """)


@pytest.fixture
def toy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "dvc.yaml").write_text(TOY_DVC_YAML)
    (root / "params.yaml").write_text(
        "# toy params\ningest:\n  inputs:\n  - seed.warc\ntoy:\n  gold: 0.5\n  hallucination: 0.2\n  fail: false\n"
    )
    (root / "seed.warc").write_text("seed crawl\n")
    for name, text in (("toy_ingest.py", TOY_INGEST), ("toy_train.py", TOY_TRAIN), ("toy_evaluate.py", TOY_EVALUATE)):
        (root / name).write_text(text)
    (root / "incoming").mkdir()
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def set_toy(root: Path, **values) -> None:
    from flows.workspace import apply_param_overrides

    apply_param_overrides(root / "params.yaml", [f"toy.{k}={json.dumps(v)}" for k, v in values.items()])


def drop(root: Path, name: str, text: str) -> Path:
    path = root / "incoming" / name
    path.write_text(text)
    return path


def run_retrain(root: Path, **kwargs):
    from flows.retrain import retrain

    state = retrain(watch_dir="incoming", root=str(root), return_state=True, **kwargs)
    assert state.is_completed(), state
    return state.result(), state.state_details.flow_run_id


def artifact_for(flow_run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=["retrain-decision"]),
            )
        )
    assert len(found) == 1, found
    assert found[0].type == "markdown"
    return found[0].data


# --- the flow against a real Prefect server ------------------------------------------------------


def test_first_model_promoted_then_a_better_one(prefect_server, toy_repo):
    registry = toy_repo / "models" / "registry"
    drop(toy_repo, "a.warc.gz", "crawl a\n")
    first, run_id = run_retrain(toy_repo)
    assert first["decision"] == "promoted" and first["version"] == "v0001"
    assert first["reason"].startswith("first model")
    assert reg.production(registry)["version"] == "v0001"
    params = (toy_repo / "params.yaml").read_text()
    assert "incoming/a.warc.gz" in params and "# toy params" in params, "ingest.inputs points at the new file"
    copied = registry / "v0001" / "ppo"
    assert json.loads((copied / "model" / "weights.json").read_text())["gold"] == 0.5
    assert (copied / "hf" / "config.json").is_file()
    entry = reg.read_entry(registry, "v0001")
    assert entry["metrics"]["rlhf_gold_score"] == 0.5
    assert entry["params"]["sha256"] and entry["sources"]["data/ppo"]["sha256"] == reg.tree_digest(copied)
    assert entry["dvc_md5"]["data/ppo"].endswith(".dir"), "the dvc.lock hash lets `dvc pull` refetch it"
    assert "incoming/a.warc.gz" in (registry / "v0001" / "provenance" / "params.yaml").read_text()
    assert entry["dvc_md5"]["data/ppo"] in (registry / "v0001" / "provenance" / "dvc.lock").read_text()
    md = artifact_for(run_id)
    assert "promoted v0001" in md and "rlhf_gold_score" in md

    drop(toy_repo, "b.warc", "crawl b\n")
    set_toy(toy_repo, gold=0.7)
    second, run_id = run_retrain(toy_repo)
    assert second["decision"] == "promoted" and second["version"] == "v0002", second["reason"]
    assert "better on rlhf_gold_score" in second["reason"]
    assert reg.production(registry) | {"promoted_at": None} == {
        "version": "v0002",
        "previous": "v0001",
        "promoted_at": None,
        "reason": second["reason"],
    }
    rows = {r["metric"]: r for r in second["comparison"]}
    assert rows["rlhf_gold_score"]["verdict"] == "better" and rows["rlhf_gold_score"]["production"] == 0.5
    assert rows["rlhf_hallucination_rate"]["verdict"] == "same"
    assert "| rlhf_gold_score | max | 0.5 | 0.7 | +0.2 | better |" in artifact_for(run_id)
    assert "incoming/b.warc" in (toy_repo / "params.yaml").read_text()
    assert "incoming/a.warc.gz" not in (toy_repo / "params.yaml").read_text(), "only the new input"
    assert [h["decision"] for h in reg.history(registry)] == ["promoted", "promoted"]
    assert [
        r["path"]
        for r in json.loads("[" + ",".join((registry / "consumed-inputs.jsonl").read_text().splitlines()) + "]")
    ] == ["incoming/a.warc.gz", "incoming/b.warc"]


def test_worse_model_refused_and_nothing_new_does_nothing(prefect_server, toy_repo):
    registry = toy_repo / "models" / "registry"
    drop(toy_repo, "a.warc", "crawl a\n")
    assert run_retrain(toy_repo)[0]["decision"] == "promoted"

    # Better on gold, worse on hallucinations: not a Pareto improvement.
    drop(toy_repo, "b.warc", "crawl b\n")
    set_toy(toy_repo, gold=0.9, hallucination=0.4)
    worse, run_id = run_retrain(toy_repo, cumulative=True)
    assert worse["decision"] == "refused" and "worse on rlhf_hallucination_rate (0.2 -> 0.4)" in worse["reason"]
    assert worse["ingest_inputs"] == ["incoming/a.warc", "incoming/b.warc"], "cumulative: every input so far"
    assert reg.production(registry)["version"] == "v0001" and reg.versions(registry) == ["v0001"]
    assert "# Retraining: refused" in artifact_for(run_id)

    # Nothing new in the watch dir (a copy of a consumed file under a new name is not new either).
    (toy_repo / "incoming" / "b-copy.warc").write_bytes((toy_repo / "incoming" / "b.warc").read_bytes())
    params_before = (toy_repo / "params.yaml").read_text()
    idle, run_id = run_retrain(toy_repo)
    assert idle["decision"] == "nothing_new" and idle["reason"].startswith("no new inputs")
    assert (toy_repo / "params.yaml").read_text() == params_before
    assert "nothing new" in artifact_for(run_id)
    decisions = reg.history(registry)
    assert [h["decision"] for h in decisions] == ["promoted", "refused", "nothing_new"]
    assert decisions[1]["candidate_metrics"]["rlhf_hallucination_rate"] == 0.4
    assert all(h.get("flow_run_id") for h in decisions)


def test_failed_run_is_refused_and_production_unchanged(prefect_server, toy_repo):
    registry = toy_repo / "models" / "registry"
    drop(toy_repo, "a.warc", "crawl a\n")
    assert run_retrain(toy_repo)[0]["version"] == "v0001"
    pointer = (registry / "production.json").read_text()

    drop(toy_repo, "b.warc", "crawl b\n")
    set_toy(toy_repo, gold=0.99, fail=True)  # a better model whose evaluation fails
    failed, run_id = run_retrain(toy_repo)
    assert failed["decision"] == "refused" and "pipeline run failed" in failed["reason"], failed["reason"]
    assert "evaluate" in failed["reason"]
    assert (registry / "production.json").read_text() == pointer and reg.versions(registry) == ["v0001"]
    assert "refused" in artifact_for(run_id)

    # The failed run's inputs stay new: once the stage is fixed, the next run retries them.
    set_toy(toy_repo, fail=False)
    retried, _ = run_retrain(toy_repo)
    assert retried["decision"] == "promoted" and retried["version"] == "v0002"
    assert [i["path"] for i in retried["inputs"]] == ["incoming/b.warc"]
    assert [h["decision"] for h in reg.history(registry)] == ["promoted", "refused", "promoted"]


@pytest.mark.timeout(180)  # the old lock hung here for good
def test_a_killed_retrain_never_blocks_the_next(prefect_server, toy_repo, tmp_path):
    """A retrain run SIGKILLed mid-way (with everything it started) leaves nothing that blocks the next
    retrain: the Prefect limit it held before stayed taken for good."""
    drop(toy_repo, "a.warc", "crawl a\n")
    (toy_repo / "hold").touch()
    env = deploy.prefect_env(prefect_server, tmp_path / "prefect-home")
    args = ["flows.retrain", "--watch-dir", str(toy_repo / "incoming"), "--root", str(toy_repo)]
    with FlowProcess(args, env, tmp_path / "killed.log") as killed:
        killed.wait_for(r"ingest \| Running stage", timeout=90)  # inside the retrain, its pipeline running
        killed.kill()
    (toy_repo / "hold").unlink()
    started = time.monotonic()
    assert run_retrain(toy_repo)[0]["decision"] == "promoted"
    assert time.monotonic() - started < 60


def test_partial_run_and_stale_metrics_are_refused(prefect_server, toy_repo):
    registry = toy_repo / "models" / "registry"
    # A run that stops short of evaluate (targets) never promotes, and leaves its inputs new.
    drop(toy_repo, "a.warc", "crawl a\n")
    partial, _ = run_retrain(toy_repo, targets=["ingest"])
    assert partial["decision"] == "refused" and partial["reason"].startswith("partial run"), partial["reason"]
    assert reg.production(registry) is None
    # A metrics file the run does not write (no stage declares it) and that predates the run.
    stale = toy_repo / "old-metrics.json"
    stale.write_text(json.dumps({"rlhf_gold_score": 1.0}))
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    old, _ = run_retrain(toy_repo, metrics_file="old-metrics.json")
    assert old["decision"] == "refused" and "older than this run" in old["reason"], old["reason"]
    assert reg.production(registry) is None and reg.versions(registry) == []
    assert [h["decision"] for h in reg.history(registry)] == ["refused", "refused"]


def test_announce_emits_the_crawl_landed_event(prefect_server, tmp_path, monkeypatch):
    import flows.retrain as retrain_module

    (tmp_path / "x.warc.gz").write_bytes(b"")
    event = retrain_module.announce(str(tmp_path))
    assert event is not None and event.event == CRAWL_LANDED
    assert event.payload == {"watch_dir": str(tmp_path.resolve()), "common_crawl_paths": None, "files": ["x.warc.gz"]}
    assert event.resource.id == f"crisol.crawl.{tmp_path.resolve()}"
    sent = []
    monkeypatch.setattr(
        retrain_module,
        "emit_event",
        lambda name, **kw: sent.append((name, kw)) or SimpleNamespace(id="e1", payload=kw["payload"]),
    )
    assert retrain_module.main(["--announce", "--cc-path", "crawl-data/x/wet.paths.gz"]) == 0
    assert sent[0][0] == CRAWL_LANDED
    assert sent[0][1]["payload"]["common_crawl_paths"] == ["crawl-data/x/wet.paths.gz"]


# --- the rule and the registry, no server --------------------------------------------------------


def test_metric_rules_parse_and_compare():
    rules = [MetricRule.parse(t) for t in ("gold:max", "halluc:min:0.05", "models.rlhf.bpb:min")]
    assert [str(r) for r in rules] == ["gold:max", "halluc:min:0.05", "models.rlhf.bpb:min"]
    for bad in ("gold", "gold:up", "gold:max:-1", ":max", "gold:max:x"):
        with pytest.raises(ValueError):
            MetricRule.parse(bad)
    old = {"gold": 0.5, "halluc": 0.20, "models": {"rlhf": {"bpb": 2.0}}}
    assert compare(rules, old, None)[:2] == (True, "first model: no production model yet")
    assert compare(rules, {**old, "gold": 0.6}, old)[0] is True
    # within tolerance is "same": better gold with slightly more hallucination still promotes
    ok, reason, rows = compare(rules, {**old, "gold": 0.6, "halluc": 0.24}, old)
    assert ok and [r["verdict"] for r in rows] == ["better", "same", "same"]
    ok, reason, _ = compare(rules, {**old, "halluc": 0.3}, old)
    assert not ok and reason.startswith("worse on halluc")
    ok, reason, _ = compare(rules, dict(old), old)
    assert not ok and "no metric improved" in reason
    ok, reason, _ = compare(rules, {**old, "models": {"rlhf": {"bpb": 1.5}}}, old)
    assert ok and "models.rlhf.bpb" in reason
    ok, reason, _ = compare(rules, {"gold": float("nan"), "halluc": 0.1, "models": {"rlhf": {"bpb": 1.0}}}, None)
    assert not ok and "lack gold" in reason
    # a metric production never recorded is not compared; the others decide
    ok, _, rows = compare(rules, {**old, "gold": 0.7}, {"gold": 0.5, "halluc": 0.2})
    assert ok and rows[2]["verdict"] == "not compared"


def test_registry_versions_pointer_and_history(tmp_path):
    registry = tmp_path / "registry"
    model = tmp_path / "ppo"
    (model / "model").mkdir(parents=True)
    (model / "model" / "w.bin").write_bytes(b"\x00\x01")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    assert reg.production(registry) is None and reg.versions(registry) == [] and reg.history(registry) == []
    one = reg.register(registry, [model], {"gold": 0.5}, root=tmp_path)
    (model / "model" / "w.bin").write_bytes(b"\x02")
    two = reg.register(registry, ["ppo"], {"gold": 0.6}, root=tmp_path)
    assert (one["version"], two["version"]) == ("v0001", "v0002")
    assert (registry / "v0001" / "ppo" / "model" / "w.bin").read_bytes() == b"\x00\x01", "a copy, not a link"
    assert one["sources"]["ppo"]["sha256"] != two["sources"]["ppo"]["sha256"]
    assert one["git"] == {"commit": None, "dirty": None}
    assert not list(registry.glob(".tmp-*")), "no temporary directories left"
    reg.promote(registry, "v0002", reason="test")
    reg.promote(registry, "v0001", reason="rollback")
    assert reg.production(registry)["previous"] == "v0002"
    assert reg.production_entry(registry)["metrics"] == {"gold": 0.5}
    assert reg.production_path(registry) == registry / "v0001"
    reg.refuse(registry, "worse")
    with (registry / "history.jsonl").open("a") as fh:
        fh.write('{"torn')  # a crash mid-line is skipped, not fatal
    assert [(h["decision"], h.get("version")) for h in reg.history(registry)] == [
        ("promoted", "v0002"),
        ("promoted", "v0001"),
        ("refused", None),
    ]
    with pytest.raises(reg.RegistryError, match="no version"):
        reg.promote(registry, "v0009", reason="nope")
    with pytest.raises(reg.RegistryError, match="missing"):
        reg.register(registry, ["absent"], {}, root=tmp_path)
    assert reg.main(["--registry", str(registry), "list"]) == 0


def test_new_inputs_by_content_and_common_crawl_paths(tmp_path):
    watch = tmp_path / "in"
    (watch / "sub").mkdir(parents=True)
    (watch / "a.warc.gz").write_bytes(b"a")
    (watch / "sub" / "b.wet").write_bytes(b"b")
    (watch / "notes.txt").write_bytes(b"n")
    (watch / ".c.warc.gz").write_bytes(b"partial")  # still being written
    (watch / "dup.warc").write_bytes(b"a")  # same content as a.warc.gz
    new = find_new_inputs(tmp_path, [], watch, ["cc/x.wet.gz"], ["*.warc", "*.warc.gz", "*.wet", "*.wet.gz"])
    assert [n["path"] for n in new] == ["in/a.warc.gz", "in/sub/b.wet", "cc/x.wet.gz"]
    again = find_new_inputs(tmp_path, new, watch, ["cc/x.wet.gz"], ["*.warc", "*.warc.gz", "*.wet", "*.wet.gz"])
    assert again == []
    (watch / "a.warc.gz").write_bytes(b"a2")  # rewritten in place: new content, new input
    assert [n["path"] for n in find_new_inputs(tmp_path, new, watch, None, ["*.warc.gz"])] == ["in/a.warc.gz"]


def test_announce_fires_a_deployment_event_trigger(tmp_path):
    """End to end with a server that runs its services (the shared fixture runs none): a
    deployment of crisol-retrain with an event trigger on crisol.crawl.landed gets a flow run
    whose parameters come from the event's payload."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    import flows.retrain as retrain_module
    from kit.prefect import prefect_server

    home = tmp_path / "prefect-home"
    with prefect_server(home, services=True) as url:
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: str(home)}):
            trigger = DeploymentEventTrigger(
                expect={CRAWL_LANDED},
                match={"prefect.resource.id": "crisol.crawl.*"},
                parameters={
                    "watch_dir": "{{ event.payload.watch_dir }}",
                    "common_crawl_paths": "{{ event.payload.common_crawl_paths }}",
                },
            )
            deployment_id = retrain_module.retrain.to_deployment(name="retrain-on-crawl", triggers=[trigger]).apply()
            time.sleep(2)  # the triggers service loads new automations periodically
            landed = tmp_path / "landed"
            landed.mkdir()
            runs = []
            with get_client(sync_client=True) as client:
                for _ in range(3):  # re-announce if the automation was not loaded yet
                    assert retrain_module.announce(str(landed)) is not None
                    deadline = time.monotonic() + 15
                    while not runs and time.monotonic() < deadline:
                        runs = [r for r in client.read_flow_runs() if r.deployment_id == deployment_id]
                        time.sleep(0.5)
                    if runs:
                        break
            assert runs, "the event trigger created no flow run"
            assert runs[0].parameters == {"watch_dir": str(landed.resolve()), "common_crawl_paths": None}
