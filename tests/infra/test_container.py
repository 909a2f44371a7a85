"""The container image and the compose stack (infra/): static checks that always run, and one slow
test that builds the image with podman and runs web -> crawl -> ingest in it on the micro profile
(only with CRISOL_CONTAINER_TEST=1 and podman installed: a cold build takes ~12 minutes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from kit.paths import REPO_ROOT

INFRA = REPO_ROOT / "infra"
CONTAINERFILE = INFRA / "Containerfile"
COMPOSE = INFRA / "compose.yaml"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|AUTH|TOKEN|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")


def containerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = CONTAINERFILE.read_text()
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(instructions):
    """Instructions grouped per build stage: {stage name: [(INSTRUCTION, args), ...]}."""
    groups: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in instructions:
        if word == "FROM":
            parts = rest.split()
            current = parts[-1] if len(parts) >= 3 and parts[-2].upper() == "AS" else parts[0]
            groups[current] = []
        elif current is not None:
            groups[current].append((word, rest))
    return groups


def arg_defaults(stage) -> dict[str, str]:
    defaults = {}
    for word, rest in stage:
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            defaults[key] = value.strip('"')
    return defaults


# ------------------------------------------------------------------ the image


def test_final_stage_runs_as_a_non_root_user():
    groups = stages(containerfile_instructions())
    final = list(groups.values())[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage declares no USER: the image would run as root"
    user = users[-1]
    for key, value in arg_defaults(final).items():
        user = user.replace("${%s}" % key, value).replace("$" + key, value)
    name, _, group = user.partition(":")
    assert name not in ("root", "0", ""), f"USER {users[-1]} resolves to {user}"
    assert group not in ("root", "0"), f"USER {users[-1]} resolves to {user}"
    assert int(name) >= 1000


def test_cpu_is_the_default_and_never_installs_pypi_torch():
    """The CPU image's torch comes from a staged wheel or PyTorch's CPU index, pinned to +cpu."""
    instructions = containerfile_instructions()
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in instructions
    deps = stages(instructions)["deps"]
    defaults = arg_defaults(deps)
    assert defaults["TORCH_VARIANT"] == "cpu"
    torch_runs = [rest for word, rest in deps if word == "RUN" and "torch==" in rest]
    assert len(torch_runs) == 1
    cpu_branch = torch_runs[0].split("cpu)", 1)[1].split(";;", 1)[0]
    assert "local_label=${TORCH_LOCAL:-+cpu}" in cpu_branch
    assert "index=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" in cpu_branch
    installs = re.findall(r"pip install[^;]*", cpu_branch)
    assert len(installs) == 2
    for install in installs:
        assert '"torch==${TORCH_VERSION}${local_label}"' in install, install
        assert "--find-links /tmp/wheels" in install or '--index-url "$index"' in install, install
    # no other instruction of any stage names torch for pip
    other = [
        rest
        for group in stages(instructions).values()
        for word, rest in group
        if word == "RUN" and re.search(r"pip install[^&;]*\btorch\b", rest) and rest not in torch_runs
    ]
    assert not other, other


def test_image_installs_the_locked_project_not_editable_and_runs_stages():
    instructions = containerfile_instructions()
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "pip install -c requirements.lock" in runs
    assert not re.search(r"pip install[^&;]*\s-e\s", runs)
    assert ("ENTRYPOINT", '["python", "-m"]') in instructions
    assert any(word == "WORKDIR" and rest == "/app" for word, rest in instructions)
    copied = " ".join(rest for word, rest in instructions if word == "COPY")
    for path in ("stages/", "flows/", "params.yaml", "dvc.yaml"):
        assert path in copied


def test_no_secrets_baked_into_the_image():
    for word, rest in containerfile_instructions():
        if word in ("ENV", "ARG", "LABEL"):
            for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", rest):
                if SECRET_WORDS.search(key):
                    pytest.fail(f"{word} {key}={value}: credentials come from the environment at run time")


def test_build_context_is_an_allow_list():
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "the build context must start from nothing"
    included = [line[1:] for line in lines if line.startswith("!")]
    for forbidden in (".env", "data", ".git", ".venv", ".dvc/cache", ".dvc/config.local"):
        assert not any(inc.rstrip("/") == forbidden or inc.startswith(forbidden + "/") for inc in included)


def test_build_script_uses_this_machines_podman_settings():
    script = (INFRA / "build_and_run.sh").read_text()
    assert "--runtime runc" in script
    assert "--ulimit nofile=1024:1024 --ulimit nproc=1024:1024" in script
    assert "ca-certificates.crt:ro" in script
    assert "localhost/debian-python:bookworm" in script
    assert "--set profile=" in script
    subprocess.run(["bash", "-n", str(INFRA / "build_and_run.sh")], check=True)


# ------------------------------------------------------------------ the compose stack


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) are resolved by the safe loader


def test_every_service_turns_analytics_off(compose):
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        assert str(env.get("PREFECT_SERVER_ANALYTICS_ENABLED")).lower() == "false", name


def test_prefect_api_auth_is_configured_on_server_and_clients(compose):
    services = compose["services"]
    server_env = services["prefect-server"]["environment"]
    server_auth = INTERPOLATION.fullmatch(server_env["PREFECT_SERVER_API_AUTH_STRING"])
    assert server_auth, "the server's auth string must come from a required variable"
    db_url = server_env["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert db_url.startswith("postgresql+asyncpg://") and INTERPOLATION.search(db_url)
    clients = [name for name, svc in services.items() if "PREFECT_API_URL" in (svc.get("environment") or {})]
    assert {"worker", "deploy"} <= set(clients)
    for name in clients:
        client_auth = INTERPOLATION.fullmatch(services[name]["environment"]["PREFECT_API_AUTH_STRING"])
        assert client_auth and client_auth.group(1) == server_auth.group(1), name


def test_no_literal_secrets_in_compose(compose):
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_WORDS.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}: {key} must be exactly ${{VAR:?...}}"
            for password in re.findall(r"://[^:/@]+:([^@]*)@", value):  # credentials inside a URL
                assert INTERPOLATION.fullmatch(password), f"{name}: {key} holds a literal password"
    example = (INFRA / "env.example").read_text()
    for line in example.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert value == "", f"env.example must not carry a value for {key}"
    assert "/.env" in (INFRA / ".gitignore").read_text().split()


def test_worker_and_crisol_services_run_as_non_root_and_ports_stay_local(compose):
    for name, service in compose["services"].items():
        if str(service.get("image", "")).endswith("crisol:cpu") or "crisol" in str(service.get("image", "")):
            assert service.get("user") not in (None, "root", "0", "0:0"), name
            assert service["user"].split(":")[0] != "0", name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    worker = compose["services"]["worker"]
    assert "prefect worker start" in " ".join(worker["command"])


# ------------------------------------------------------------------ slow: a real build and run


@pytest.mark.timeout(3600)
@pytest.mark.skipif(
    os.environ.get("CRISOL_CONTAINER_TEST") != "1" or shutil.which("podman") is None,
    reason="set CRISOL_CONTAINER_TEST=1 (and install podman) to build the image and run ingest in it",
)
def test_image_builds_and_runs_ingest_on_micro(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, DATA_DIR=str(data), PROFILE="micro")
    result = subprocess.run(
        ["bash", str(INFRA / "build_and_run.sh")], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    metrics = json.loads((data / "metrics" / "ingest.json").read_text())
    assert metrics["profile"] == "micro"
    assert metrics["kept"] > 0 and metrics["errors_total"] == 0
    assert metrics["kept"] + metrics["dropped_total"] == metrics["html_pages"]
    assert any((data / "ingest" / "documents").iterdir())
    assert "ingest metrics" in result.stdout


def test_serve_service_runs_the_model_server_behind_a_key(compose):
    serve = compose["services"]["serve"]
    assert serve["command"][:2] == ["crisol", "serve"] and "--wait" in serve["command"]
    assert INTERPOLATION.fullmatch(serve["environment"]["CRISOL_API_KEY"])
    assert serve["ports"] == ["127.0.0.1:8000:8000"]
    mounts = {volume.split(":")[1]: volume for volume in serve["volumes"]}
    assert mounts["/app/data"].endswith(":ro") and mounts["/app/models"].endswith(":ro")
    assert "models:/app/models" in compose["services"]["worker"]["volumes"]
