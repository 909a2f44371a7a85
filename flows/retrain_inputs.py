"""Retraining's inputs: what is new (files in a watched directory, Common Crawl paths) against the
ledger of inputs consumed so far, and what the pipeline is given (`ingest.inputs`).

A file is known by its content (sha256): a copy under another name is not new, a file rewritten
in place is. Names starting with "." are skipped (write `.name.part`, rename when done). The ledger
(`consumed-inputs.jsonl`) gets an input only once a run over it completed the whole graph.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from pathlib import Path
from typing import Any

from crisol.core.atomic import append_jsonl
from flows import registry as reg

LEDGER_NAME = "consumed-inputs.jsonl"
DEFAULT_PATTERNS = ("*.warc", "*.warc.gz", "*.wet", "*.wet.gz")


def read_ledger(path: Path) -> list[dict[str, Any]]:
    """Every consumed input, oldest first (none before the first completed run)."""
    return reg.read_jsonl(path)


def record_consumed(path: Path, new: list[dict[str, Any]], flow_run_id: str | None) -> None:
    """Add `new` to the ledger, stamped with the time and the run that consumed them."""
    consumed_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    append_jsonl(path, [{**n, "consumed_at": consumed_at, "flow_run_id": flow_run_id} for n in new])


def matches(name: str, patterns: list[str] | tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def find_new_inputs(
    root: Path,
    ledger: list[dict[str, Any]],
    watch_dir: Path | None,
    common_crawl_paths: list[str] | None,
    patterns: list[str],
) -> list[dict[str, Any]]:
    """Inputs the ledger has not seen: files by content (sha256; a copy under another name is not
    new, a file rewritten in place is), Common Crawl paths by their text."""
    new = _new_files(root, ledger, watch_dir, patterns) if watch_dir is not None else []
    seen_paths = {r["path"] for r in ledger if r.get("source") == "common_crawl"}
    for cc_path in common_crawl_paths or []:
        cc_path = cc_path.strip()
        if cc_path and cc_path not in seen_paths and cc_path not in {n["path"] for n in new}:
            new.append({"source": "common_crawl", "path": cc_path})
    return new


def _new_files(root: Path, ledger: list[dict[str, Any]], watch_dir: Path, patterns: list[str]) -> list[dict[str, Any]]:
    """The watched files whose content neither the ledger nor an earlier file of this batch has."""
    if not watch_dir.is_dir():
        raise FileNotFoundError(f"watch_dir {watch_dir} is not a directory")
    seen_digests = {r["sha256"] for r in ledger if r.get("sha256")}
    # A file the ledger knows at the same path, size and mtime is not hashed again.
    known_stat = {(r.get("abs"), r.get("size"), r.get("mtime_ns")): r["sha256"] for r in ledger if r.get("sha256")}
    new: list[dict[str, Any]] = []
    batch_digests: set[str] = set()
    for file in _watched_files(watch_dir, patterns):
        st = file.stat()
        key = (str(file.resolve()), st.st_size, st.st_mtime_ns)
        digest = known_stat.get(key) or reg.file_sha256(file)
        if digest in seen_digests or digest in batch_digests:
            continue
        batch_digests.add(digest)
        new.append(
            {
                "source": "watch_dir",
                "path": _param_path(file, root),
                "abs": key[0],
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "sha256": digest,
            }
        )
    return new


def _watched_files(watch_dir: Path, patterns: list[str]) -> list[Path]:
    """The files under watch_dir matching a pattern, sorted; none under a name starting with "."."""
    return sorted(
        p
        for p in watch_dir.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(watch_dir).parts)
        and matches(p.name, patterns)
    )


def _param_path(path: Path, root: Path) -> str:
    """How an input is written into params.yaml: relative to the repo root when inside it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path.resolve())


def ingest_inputs(new: list[dict[str, Any]], consumed: list[dict[str, Any]], cumulative: bool) -> list[str]:
    """`ingest.inputs` for this run: the new inputs; with `cumulative`, every consumed input still
    there (Common Crawl paths always are) before them, each once."""
    inputs = [n["path"] for n in new]
    if not cumulative:
        return inputs
    earlier = [r["path"] for r in consumed if r.get("source") == "common_crawl" or Path(r.get("abs") or "").is_file()]
    return list(dict.fromkeys(earlier + inputs))
