"""prefect.yaml deploys through the real CLI to a real server; a process worker runs the
deployments; runs started through the API complete on a toy DVC workspace, two at once too."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from flows.pipeline import dvc_executable
from kit.deploy import REPO_ROOT, Worker, create_work_pools, make_toy_repo, prefect_cli, prefect_env

STAGES = list(yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"])
PREFECT_YAML = REPO_ROOT / "prefect.yaml"


def _prefect_yaml() -> dict:
    from prefect.cli.deploy._models import PrefectYamlModel

    raw = yaml.safe_load(PREFECT_YAML.read_text())
    PrefectYamlModel.model_validate(raw)  # the CLI's own model of the file
    return raw


def test_prefect_yaml_has_the_pipeline_every_stage_and_retraining():
    from prefect.cli.deploy._models import RawScheduleConfig
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers
    from prefect.utilities.callables import parameter_schema

    from flows.deployments import run_pipeline

    deployments = {d["name"]: d for d in _prefect_yaml()["deployments"]}
    stage_deployments = sorted(n.removeprefix("stage-") for n in deployments if n.startswith("stage-"))
    assert stage_deployments == sorted(STAGES), "one stage-<name> deployment per dvc.yaml stage"
    for name in STAGES:
        d = deployments[f"stage-{name}"]
        assert d["parameters"] == {"targets": [name]}
        assert d["entrypoint"] == "flows/deployments.py:run_pipeline"
        assert d["work_pool"]["name"] == "crisol-local"
    for d in deployments.values():
        path, func = d["entrypoint"].split(":")
        assert f"def {func}(" in (REPO_ROOT / path).read_text(), d["entrypoint"]

    # The run form: profile is a drop-down, overrides a list of strings, force a switch.
    props = parameter_schema(run_pipeline).model_dump()["properties"]
    assert props["profile"]["enum"] == ["current", "micro", "tiny", "small", "large"]
    assert props["overrides"]["type"] == "array" and props["overrides"]["items"] == {"type": "string"}
    assert props["force"]["type"] == "boolean"
    assert all(p.get("description") for p in props.values())

    retrain = deployments["retrain"]
    assert retrain["entrypoint"] == "flows/retrain.py:retrain"
    (schedule,) = retrain["schedules"]
    assert RawScheduleConfig.model_validate(schedule).cron == "0 3 * * 1"
    (trigger,) = _initialize_deployment_triggers("retrain", retrain["triggers"])
    assert trigger.expect == {"crisol.crawl.landed"}
    assert deployments["pipeline-docker"]["work_pool"]["name"] == "crisol-docker"
    assert deployments["pipeline-kubernetes"]["work_pool"]["name"] == "crisol-kubernetes"


def test_profile_and_overrides_become_the_pipelines_set_params():
    from flows.deployments import pipeline_overrides

    assert pipeline_overrides("current", ()) == []
    assert pipeline_overrides("micro", ("pretrain.max_steps=5",)) == ["profile=micro", "pretrain.max_steps=5"]
    assert pipeline_overrides("tiny", (), "own", "/data/mine") == ["profile=tiny", "source=own", "own.root=/data/mine"]
    assert pipeline_overrides("current", (), "current") == []


@pytest.mark.parametrize("pool", ["docker", "kubernetes"])
def test_container_pool_templates_render_a_crisol_job(pool):
    """What a docker / kubernetes worker would build from the pool's template and the deployment's
    job variables (the workers themselves, prefect-docker and prefect-kubernetes, are not here)."""
    from prefect.utilities.templating import apply_values

    template = json.loads((REPO_ROOT / "infra" / "work-pools" / f"{pool}.json").read_text())
    deployment = {d["name"]: d for d in _prefect_yaml()["deployments"]}[f"pipeline-{pool}"]
    assert deployment["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "/app"}}]
    variables = {k: v.get("default") for k, v in template["variables"]["properties"].items()}
    variables |= deployment["work_pool"]["job_variables"] | {"command": "prefect flow-run execute", "name": "run-1"}
    job = apply_values(template["job_configuration"], variables)
    assert "{{" not in json.dumps(job)
    if pool == "docker":
        assert job["image"] == "crisol:cpu" and job["command"] == "prefect flow-run execute"
        assert job["volumes"] == ["crisol-data:/app/data", "crisol-dvc-cache:/app/.dvc/cache"]
    else:
        pod = job["job_manifest"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == "crisol:cpu" and container["args"] == "prefect flow-run execute"
        assert {m["mountPath"] for m in container["volumeMounts"]} == {"/app/data", "/app/.dvc/cache"}
        assert {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]} == {"crisol-data", "crisol-dvc-cache"}
    assert not any("SECRET" in k or "PASSWORD" in k or "AUTH" in k for k in variables["env"])


@pytest.fixture(scope="module")
def deployed(prefect_server, tmp_path_factory):
    """The work pools (infra/work_pools.sh), `prefect deploy --all`, and a process worker."""
    home = tmp_path_factory.mktemp("prefect-cli-home")
    env = prefect_env(prefect_server, home)
    create_work_pools(env)
    with Worker(env, home / "worker.log") as worker:  # starts while the deployments are made
        out = prefect_cli(env, "deploy", "--all")
        yield {"env": env, "deploy_output": out, "worker": worker}


def _state(flow_run_id) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.type.value


def test_deploy_all_then_a_run_through_the_api_completes(deployed, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    expected = {f"crisol/stage-{s}" for s in STAGES} | {
        "crisol/pipeline",
        "crisol/pipeline-docker",
        "crisol/pipeline-kubernetes",
        "crisol-retrain/retrain",
        "crisol-scaling/scaling",
    }
    with get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        found = {f"{flows[d.flow_id]}/{d.name}": d for d in client.read_deployments()}
        assert expected <= set(found)
        pipeline = found["crisol/pipeline"]
        assert pipeline.work_pool_name == "crisol-local" and pipeline.enforce_parameter_schema
        assert pipeline.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}
        ]
        assert pipeline.parameter_openapi_schema["properties"]["profile"]["enum"][1:] == [
            "micro",
            "tiny",
            "small",
            "large",
        ]
        assert found["crisol/stage-pretrain"].parameters == {"targets": ["pretrain"]}
        for pool in ("crisol-docker", "crisol-kubernetes"):
            template = client.read_work_pool(pool).base_job_template
            assert template["variables"]["properties"]["image"]["default"] == "crisol:cpu"
            assert found[f"crisol/pipeline-{pool.split('-')[1]}"].job_variables == {"image": "crisol:cpu"}
        retrain = found["crisol-retrain/retrain"]
        assert [s.schedule.cron for s in retrain.schedules] == ["0 3 * * 1"]
        (automation,) = client.read_resource_related_automations(f"prefect.deployment.{retrain.id}")
        assert automation.trigger.expect == {"crisol.crawl.landed"}
        assert automation.actions[0].parameters == {
            "watch_dir": "{{ event.payload.watch_dir }}",
            "common_crawl_paths": "{{ event.payload.common_crawl_paths }}",
        }
        for schedule in retrain.schedules:  # this server runs no scheduler; belt and braces
            client.update_deployment_schedule(retrain.id, schedule.id, active=False)

    toy = make_toy_repo(tmp_path / "toy")
    flow_run = run_deployment(
        "crisol/pipeline", parameters={"root": str(toy), "overrides": ["toy.n=3"]}, timeout=90, poll_interval=1
    )
    assert flow_run.state.is_completed(), (flow_run.state, deployed["worker"].log_text())
    assert (toy / "b.txt").read_text() == "aaab"
    assert "n: 3" in (toy / "params.yaml").read_text()


def test_two_overlapping_runs_leave_the_workspace_consistent(deployed, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.deployments import run_deployment

    toy = make_toy_repo(tmp_path / "toy")
    hold = toy / "hold"
    hold.touch()  # the first run to get the workspace waits in make_a until both runs are running
    # Both at once (timeout=0: create and return), each forcing every stage to run again.
    ids = [
        run_deployment("crisol/pipeline", parameters={"root": str(toy), "force": True}, timeout=0).id for _ in range(2)
    ]
    deadline = time.monotonic() + 180
    while any(_state(i) != "RUNNING" for i in ids):
        assert time.monotonic() < deadline and all(_state(i) in ("SCHEDULED", "PENDING", "RUNNING") for i in ids), (
            [_state(i) for i in ids],
            deployed["worker"].log_text(),
        )
        time.sleep(0.5)
    hold.unlink()
    while any(_state(i) not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for i in ids):
        assert time.monotonic() < deadline, deployed["worker"].log_text()
        time.sleep(1)
    assert [_state(i) for i in ids] == ["COMPLETED", "COMPLETED"], deployed["worker"].log_text()

    with get_client(sync_client=True) as client:
        parents = [client.read_flow_run(i) for i in ids]
        assert max(r.start_time for r in parents) < min(r.end_time for r in parents), "the two runs did not overlap"
        subflows = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=ids))
        )
        assert len(subflows) == 2 and all(s.state.is_completed() for s in subflows)
        log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids + [s.id for s in subflows]))
        while True:  # a run's last log lines reach the server after its Completed state
            logs = client.read_logs(log_filter=log_filter, limit=200)
            done = sum(log.message.startswith("stage make_b ran") for log in logs)
            if done == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    messages = "\n".join(log.message for log in logs)
    for bad in ("rwlock", "is busy", "Unable to acquire lock", "Traceback"):
        assert bad not in messages, messages
    # Each pipeline's stages ran inside its hold on the workspace lock: from its "stage order"
    # line to its last stage, the two pipelines' time spans do not overlap.
    spans = []
    for sub in subflows:
        own = [log for log in logs if log.flow_run_id == sub.id]
        begin = min(log.timestamp for log in own if log.message.startswith("stage order:"))
        finish = max(log.timestamp for log in own if log.message.startswith("stage make_b ran"))
        assert sum(log.message.startswith("stage make_a ran") for log in own) == 1
        spans.append((begin, finish))
    spans.sort()
    assert spans[0][1] <= spans[1][0], f"the workspace lock must serialise the two runs: {spans}"
    status = subprocess.run([dvc_executable(), "status", "--json"], cwd=toy, capture_output=True, text=True, check=True)
    assert json.loads(status.stdout) == {}, status.stdout
    rwlock = toy / ".dvc" / "tmp" / "rwlock"  # DVC's lock table: no reader or writer left behind
    if rwlock.exists():
        assert not any(json.loads(rwlock.read_text() or "{}").values()), rwlock.read_text()
    assert (toy / "b.txt").read_text() == "aab"
