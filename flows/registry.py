"""A file-system model registry: numbered versions, a production pointer, and a decision history.

    models/registry/
      v0001/                 one registered model: the model directory copied, plus entry.json
        ppo/model/ ppo/hf/   (the copy keeps the source directory's name)
        provenance/          the run's params.yaml and dvc.lock
        entry.json           version, metrics, git commit, params digest, sources, files digest, time
      v0002/ ...
      production.json        {"version": "v0002", "promoted_at": ..., "previous": "v0001", "reason": ...}
      history.jsonl          append-only: one line per decision (promoted, refused, nothing_new, rollback)

A version directory is built under a temporary name and renamed into place, so a version either
exists whole or not at all; production.json is replaced atomically (write, fsync, rename: the
core's `write_json`), history.jsonl appended a whole line at a time (`append_jsonl`). Nothing
is ever deleted: a rollback is a promotion of an older version, recorded like any other.

    python -m flows.registry list | production | history [-n N] | promote VERSION --reason TEXT

Orchestration only: no ML code is imported here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from crisol.core.atomic import TMP_PREFIX, append_jsonl, fsync_dir, write_json

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY = REPO_ROOT / "models" / "registry"
PRODUCTION = "production.json"
HISTORY = "history.jsonl"
ENTRY = "entry.json"
_VERSION = re.compile(r"^v(\d{4,})$")


class RegistryError(RuntimeError):
    pass


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def version_name(number: int) -> str:
    return f"v{number:04d}"


def versions(registry: Path | str) -> list[str]:
    """Registered versions, oldest first (directories named vNNNN holding an entry.json)."""
    registry = Path(registry)
    if not registry.is_dir():
        return []
    found = [
        (int(m.group(1)), p.name) for p in registry.iterdir() if (m := _VERSION.match(p.name)) and (p / ENTRY).is_file()
    ]
    return [name for _, name in sorted(found)]


def version_dir(registry: Path | str, version: str) -> Path:
    path = Path(registry) / version
    if not _VERSION.match(version) or not (path / ENTRY).is_file():
        raise RegistryError(f"no version {version!r} in {registry} (has: {', '.join(versions(registry)) or 'none'})")
    return path


def read_entry(registry: Path | str, version: str) -> dict[str, Any]:
    return json.loads((version_dir(registry, version) / ENTRY).read_text())


def tree_digest(path: Path) -> str:
    """sha256 over a file's bytes, or over a directory's relative paths and file bytes (sorted)."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        rel = file.name if file == path else file.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(root: Path) -> dict[str, Any]:
    """HEAD of the repository at root and whether the work tree differs from it (None: no git)."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def dvc_lock_hashes(root: Path, paths: list[str]) -> dict[str, str]:
    """The md5 that dvc.lock records for each of `paths` (relative to root) that a stage outputs:
    with it, `dvc pull` at the recorded commit fetches the exact model from the DVC remote."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return {}
    import yaml

    data = yaml.safe_load(lock.read_text()) or {}
    wanted = {Path(p).as_posix().rstrip("/") for p in paths}
    found = {}
    for stage in (data.get("stages") or {}).values():
        for out in stage.get("outs") or []:
            path = str(out.get("path", "")).rstrip("/")
            if path in wanted and out.get("md5"):
                found[path] = out["md5"]
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def append_history(registry: Path | str, record: dict[str, Any]) -> dict[str, Any]:
    """Append one decision to history.jsonl (one write of one line, O_APPEND, fsync)."""
    record = {"time": now_iso(), **record}
    append_jsonl(Path(registry) / HISTORY, [record])
    return record


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of an append-only JSONL file, oldest first; a torn last line (a crash mid-append)
    is skipped, and a missing file has none."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def history(registry: Path | str) -> list[dict[str, Any]]:
    """Every recorded decision, oldest first."""
    return read_jsonl(Path(registry) / HISTORY)


def register(
    registry: Path | str,
    sources: list[Path | str],
    metrics: dict[str, Any],
    *,
    root: Path | str = REPO_ROOT,
    params_file: Path | str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy `sources` (files or directories; relative paths are under root) into a new version
    directory with its entry.json; returns the entry. The version appears whole or not at all."""
    registry, root = Path(registry), Path(root)
    registry.mkdir(parents=True, exist_ok=True)
    paths = _source_paths(sources, root)
    params_path = Path(params_file) if params_file else root / "params.yaml"
    tmp = registry / f"{TMP_PREFIX}register-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _copy_into(tmp, paths, params_path, root)
        entry = _entry(tmp, paths, metrics, params_path, root, extra)
        _claim_version(registry, tmp, entry)
        return entry
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _source_paths(sources: list[Path | str], root: Path) -> list[Path]:
    """The sources as paths (relative ones under root), each present and with a name of its own."""
    paths = [Path(s) if Path(s).is_absolute() else root / s for s in sources]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RegistryError(f"cannot register: missing {', '.join(missing)}")
    names = [p.name for p in paths]
    if len(set(names)) != len(names) or {"provenance", ENTRY} & set(names):
        raise RegistryError(f"cannot register: sources must have distinct names, not provenance/entry.json: {names}")
    return paths


def _copy_into(version: Path, paths: list[Path], params_path: Path, root: Path) -> None:
    """The sources, under their own names, and the provenance beside them."""
    for src in paths:
        if src.is_dir():
            shutil.copytree(src, version / src.name, symlinks=False)
        else:
            shutil.copy2(src, version / src.name)
    # The run's params.yaml and dvc.lock beside the model: what produced it, even before the
    # run's changes to them are committed (the recorded git commit is the code's).
    (version / "provenance").mkdir()
    for name, src in (("params.yaml", params_path), ("dvc.lock", root / "dvc.lock")):
        if src.is_file():
            shutil.copy2(src, version / "provenance" / name)


def _entry(
    version: Path,
    paths: list[Path],
    metrics: dict[str, Any],
    params_path: Path,
    root: Path,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """entry.json's content (without the version number): what was copied, and what produced it."""
    rel_sources = [_relative(p, root) for p in paths]
    return {
        "registered_at": now_iso(),
        "sources": {
            rel: {"copied_to": p.name, "sha256": tree_digest(version / p.name)} for rel, p in zip(rel_sources, paths)
        },
        "dvc_md5": dvc_lock_hashes(root, rel_sources),
        "metrics": metrics,
        "git": git_commit(root),
        "params": {
            "file": _relative(params_path, root),
            "sha256": file_sha256(params_path) if params_path.is_file() else None,
        },
        **(extra or {}),
    }


def _claim_version(registry: Path, tmp: Path, entry: dict[str, Any]) -> None:
    """Rename `tmp` to the next free version, writing that number into its entry.json. Renaming a
    directory onto an existing non-empty one fails, so two registrations at once end up with two
    different numbers."""
    while True:
        existing = [int(m.group(1)) for p in registry.iterdir() if (m := _VERSION.match(p.name))]
        version = version_name(max(existing, default=0) + 1)
        entry["version"] = version
        write_json(tmp / ENTRY, entry)
        try:
            os.rename(tmp, registry / version)
            break
        except OSError:
            if not (registry / version).exists():
                raise
    fsync_dir(registry)


def production(registry: Path | str) -> dict[str, Any] | None:
    """The production pointer ({version, promoted_at, previous, reason}), or None before the first promotion."""
    path = Path(registry) / PRODUCTION
    return json.loads(path.read_text()) if path.is_file() else None


def production_entry(registry: Path | str) -> dict[str, Any] | None:
    """The production version's entry.json (with its metrics), or None."""
    pointer = production(registry)
    return read_entry(registry, pointer["version"]) if pointer else None


def production_path(registry: Path | str) -> Path | None:
    """The production version's directory (serve from here), or None."""
    pointer = production(registry)
    return version_dir(registry, pointer["version"]) if pointer else None


def promote(registry: Path | str, version: str, *, reason: str, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Point production at `version` (atomically) and record the promotion in the history."""
    registry = Path(registry)
    version_dir(registry, version)  # must exist
    previous = production(registry)
    pointer = {
        "version": version,
        "promoted_at": now_iso(),
        "reason": reason,
        "previous": previous["version"] if previous else None,
    }
    write_json(registry / PRODUCTION, pointer)
    append_history(
        registry,
        {
            "decision": "promoted",
            "version": version,
            "previous": pointer["previous"],
            "reason": reason,
            **(record or {}),
        },
    )
    return pointer


def refuse(registry: Path | str, reason: str, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a refused candidate (production unchanged)."""
    current = production(registry)
    return append_history(
        registry,
        {
            "decision": "refused",
            "reason": reason,
            "production": current["version"] if current else None,
            **(record or {}),
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.registry", description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default=str(DEFAULT_REGISTRY))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="registered versions and their metrics")
    sub.add_parser("production", help="the production pointer")
    hist = sub.add_parser("history", help="recorded decisions")
    hist.add_argument("-n", type=int, default=20)
    prom = sub.add_parser("promote", help="point production at a version (a rollback, by hand)")
    prom.add_argument("version")
    prom.add_argument("--reason", required=True)
    args = parser.parse_args(argv)
    registry = Path(args.registry)
    if args.command == "list":
        current = (production(registry) or {}).get("version")
        for version in versions(registry):
            entry = read_entry(registry, version)
            scalars = {
                k: v
                for k, v in entry.get("metrics", {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            shown = ", ".join(f"{k}={v:g}" for k, v in list(scalars.items())[:6])
            print(
                f"{'*' if version == current else ' '} {version}  {entry['registered_at']}  "
                f"{(entry.get('git') or {}).get('commit') or '-':.12}  {shown}"
            )
    elif args.command == "production":
        print(json.dumps(production(registry), indent=2))
    elif args.command == "history":
        for record in history(registry)[-args.n :]:
            print(
                f"{record['time']}  {record['decision']:<11} {record.get('version') or '':<6} "
                f"{record.get('reason', '')}"
            )
    elif args.command == "promote":
        pointer = promote(registry, args.version, reason=args.reason, record={"by": "hand"})
        print(f"production: {pointer['previous']} -> {pointer['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
