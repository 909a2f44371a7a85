"""An S3-compatible DVC remote: moto's S3 server on loopback stands in for MinIO / S3. A toy
repository is reproduced and pushed; a second clone pulls the same bytes. Credentials never enter
.dvc/config: they come from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or from
the git-ignored .dvc/config.local."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("dvc_s3", reason="dvc-s3 (the DVC S3 plugin) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
boto3 = pytest.importorskip("boto3", reason="boto3 (with moto) is not installed")

from flows.pipeline import dvc_executable  # noqa: E402

DVC = dvc_executable()
BUCKET = "crisol-dvc"
KEY_ID, SECRET = "crisol-test-key", "crisol-test-secret"

TOY_DVC_YAML = textwrap.dedent("""\
    stages:
      make:
        cmd: python make.py
        deps:
          - make.py
        params:
          - toy.n
        outs:
          - out/data.bin
          - out/model
        metrics:
          - metrics.json:
              cache: false
    """)

MAKE = textwrap.dedent("""\
    import json, os, pathlib, random, yaml
    n = yaml.safe_load(open("params.yaml"))["toy"]["n"]
    rng = random.Random(n)
    out = pathlib.Path("out")
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "data.bin").write_bytes(bytes(rng.randrange(256) for _ in range(50_000)))
    for i in range(3):
        (out / "model" / f"part{i}.bin").write_bytes(bytes(rng.randrange(256) for _ in range(1000 * (i + 1))))
    pathlib.Path("metrics.json").write_text(json.dumps({"n": n}))
    """)


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port, with one empty bucket."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS settings from the machine: only what the test gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-creds"),
        AWS_EC2_METADATA_DISABLED="true",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
        **extra,
    )
    return env


def sh(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "out").rglob("*"))
        if p.is_file() and p.name != ".gitignore"
    }


def make_repo(path: Path, env: dict[str, str]) -> None:
    path.mkdir()
    (path / "dvc.yaml").write_text(TOY_DVC_YAML)
    (path / "params.yaml").write_text("toy:\n  n: 7\n")
    (path / "make.py").write_text(MAKE)
    sh(["git", "init", "-q", "-b", "main"], path, env)
    sh([DVC, "init", "-q"], path, env)


def bucket_keys(endpoint: str, prefix: str) -> list[str]:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def test_push_to_s3_remote_and_pull_into_a_clone(s3_endpoint, tmp_path):
    env = clean_env(tmp_path, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1")
    origin = tmp_path / "origin"
    make_repo(origin, env)
    # The README's commands: the remote and its endpoint in .dvc/config, credentials from the environment.
    sh([DVC, "remote", "add", "-d", "storage", f"s3://{BUCKET}/env"], origin, env)
    sh([DVC, "remote", "modify", "storage", "endpointurl", s3_endpoint], origin, env)
    config = (origin / ".dvc" / "config").read_text()
    assert "endpointurl" in config and KEY_ID not in config and SECRET not in config

    sh([DVC, "repro", "-q"], origin, env)
    sh(["git", "add", "-A"], origin, env)
    sh(["git", "commit", "-q", "-m", "toy pipeline"], origin, env)
    pushed = sh([DVC, "push"], origin, env)
    assert "pushed" in pushed
    assert len(bucket_keys(s3_endpoint, "env/")) >= 5, "data.bin, the model directory's 3 files and its .dir listing"
    before = digests(origin)

    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
    assert not (clone / "out" / "data.bin").exists() and not (clone / "out" / "model").exists(), (
        "outputs are not in git"
    )
    sh([DVC, "pull"], clone, env)
    assert digests(clone) == before and len(before) == 4
    assert "up to date" in sh([DVC, "status"], clone, env), "the clone's outputs match dvc.lock"
    assert "in sync" in sh([DVC, "status", "-c"], clone, env), "and the remote holds them all"


def test_credentials_in_config_local_never_in_config(s3_endpoint, tmp_path):
    env = clean_env(tmp_path, AWS_DEFAULT_REGION="us-east-1")  # no AWS_* keys in the environment
    origin = tmp_path / "origin"
    make_repo(origin, env)
    sh([DVC, "remote", "add", "-d", "storage", f"s3://{BUCKET}/local"], origin, env)
    sh([DVC, "remote", "modify", "storage", "endpointurl", s3_endpoint], origin, env)
    sh([DVC, "remote", "modify", "--local", "storage", "access_key_id", KEY_ID], origin, env)
    sh([DVC, "remote", "modify", "--local", "storage", "secret_access_key", SECRET], origin, env)
    assert SECRET not in (origin / ".dvc" / "config").read_text()
    assert SECRET in (origin / ".dvc" / "config.local").read_text()
    sh(["git", "check-ignore", "-q", ".dvc/config.local"], origin, env)  # exits 1 if it were not ignored

    sh([DVC, "repro", "-q"], origin, env)
    sh([DVC, "push"], origin, env)
    assert bucket_keys(s3_endpoint, "local/")
    sh(["git", "add", "-A"], origin, env)
    sh(["git", "commit", "-q", "-m", "toy pipeline"], origin, env)
    assert "config.local" not in sh(["git", "ls-files", ".dvc"], origin, env)

    # A clone has the remote but no credentials: pulling fails until it is given some.
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
    denied = subprocess.run([DVC, "pull"], cwd=clone, env=env, capture_output=True, text=True)
    assert denied.returncode != 0 and not (clone / "out" / "data.bin").exists()
    sh([DVC, "pull"], clone, dict(env, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET))
    assert digests(clone) == digests(origin)
