"""Reading a site directory's `site.json` (the contract between stage `web` and stage `crawl`).

The directory holds `site.json` plus one folder per host with the files its URLs map to:
`http://H/` -> `H/index.html`, `http://H/a/` -> `H/a/index.html`, `http://H/a.html` -> `H/a.html`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from crisol.core.errors import StageInputError

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Redirect:
    status: int
    location: str


@dataclass(frozen=True)
class SiteConfig:
    root: Path
    hosts: tuple[str, ...]
    seeds: tuple[str, ...]
    # host -> path -> redirect / content type
    redirects: dict[str, dict[str, Redirect]] = field(default_factory=dict)
    content_types: dict[str, dict[str, str]] = field(default_factory=dict)


def _fail(path: Path, why: str) -> StageInputError:
    return StageInputError(f"{path}: {why}")


def load_site(root: Path) -> SiteConfig:
    """Read and check `root/site.json`; any problem is one clear StageInputError."""
    path = Path(root) / "site.json"
    if not path.is_file():
        raise _fail(path, "site description not found (run stage `web` first, or set crawl.site)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not valid JSON ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise _fail(path, "top level must be an object")
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise _fail(path, f"schema_version {raw.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    hosts = raw.get("hosts")
    seeds = raw.get("seeds", [])
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and h for h in hosts):
        raise _fail(path, "'hosts' must be a non-empty list of host names")
    if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
        raise _fail(path, "'seeds' must be a list of URLs")
    hosts = [h.lower() for h in hosts]
    for seed in seeds:
        parts = urlsplit(seed)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _fail(path, f"seed {seed!r} is not an absolute http(s) URL")
    redirects: dict[str, dict[str, Redirect]] = {}
    for host, table in _host_tables(path, raw, "redirects", hosts).items():
        redirects[host] = {}
        for route, spec in table.items():
            if not (
                isinstance(spec, dict)
                and isinstance(spec.get("status"), int)
                and 300 <= spec["status"] < 400
                and isinstance(spec.get("location"), str)
            ):
                raise _fail(path, f"redirects.{host}.{route}: needs a 3xx 'status' and a 'location'")
            redirects[host][route] = Redirect(spec["status"], spec["location"])
    content_types = {}
    for host, table in _host_tables(path, raw, "content_types", hosts).items():
        if not all(isinstance(v, str) and v for v in table.values()):
            raise _fail(path, f"content_types.{host}: values must be content types")
        content_types[host] = dict(table)
    return SiteConfig(
        root=Path(root), hosts=tuple(hosts), seeds=tuple(seeds), redirects=redirects, content_types=content_types
    )


def _host_tables(path: Path, raw: dict, key: str, hosts: list[str]) -> dict[str, dict]:
    tables = raw.get(key, {}) or {}
    if not isinstance(tables, dict):
        raise _fail(path, f"'{key}' must be an object keyed by host")
    for host, table in tables.items():
        if host.lower() not in hosts:
            raise _fail(path, f"{key}.{host}: host not listed in 'hosts'")
        if not isinstance(table, dict):
            raise _fail(path, f"{key}.{host}: must be an object keyed by path")
    return {host.lower(): table for host, table in tables.items()}
