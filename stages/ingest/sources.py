"""Where ingest reads from: local files, directories, globs, URLs, and Common Crawl path listings.

`expand_inputs` turns the `inputs` param into an ordered list of `Source`s, one per input file
(one shard each): WARC/WET/ARC files (kind "crawl") and documents files (kind "text": JSONL,
JSONL.gz or Parquet with a `text` column). Anything that names nothing is a `StageInputError`
naming the input; a directory's files of other types are counted by reason (`skipped`), not
silently passed over. Remote files are not touched here: listing 90,000 Common Crawl files must
not cost 90,000 requests. `open_source` streams one file, locally or through fsspec.
"""

from __future__ import annotations

import glob
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from crisol.core.errors import StageInputError
from crisol.core.source import KINDS, DataSource

ARC_SUFFIXES = (".arc", ".arc.gz")
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".wet", ".wet.gz", *ARC_SUFFIXES)  # .warc.wet.gz ends in .wet.gz
TEXT_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")  # documents: C4, FineWeb, Dolma shards
LISTING_SUFFIXES = (".paths", ".paths.gz")  # Common Crawl's warc.paths.gz etc.
GLOB_CHARS = ("*", "?", "[")
OWN_KINDS = ("crawl", "text")  # the own-data folders ingest reads


@dataclass(frozen=True)
class Source:
    """One input file: `name` as the user gave it (provenance), `location` to open it anywhere."""

    name: str
    location: str  # an absolute local path or a URL, so any worker in any directory can open it
    rel: str = ""  # its path inside the directory it was found in (or its file name): row locators

    @property
    def kind(self) -> str:
        """ "text" for documents files, else "crawl" (a file named explicitly is read as WARC)."""
        return "text" if is_text(self.name) else "crawl"

    @property
    def is_arc(self) -> bool:
        return self.name.lower().endswith(ARC_SUFFIXES)


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def is_text(name: str) -> bool:
    return name.lower().endswith(TEXT_SUFFIXES)


def is_listing(name: str) -> bool:
    return name.lower().endswith(LISTING_SUFFIXES)


def _local(name: str, rel: str | None = None) -> Source:
    return Source(name=name, location=str(Path(name).resolve()), rel=rel or Path(name).name)


def directory_sources(path: Path, skipped: Counter) -> list[Source]:
    """The directory's input files, sorted, recursively; every other file counted in `skipped`
    (`hidden` for dot-files and files in dot-folders, `unknown_suffix` for the rest)."""
    sources = []
    for p in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            skipped["hidden"] += 1
        elif is_archive(p.name) or is_text(p.name):
            sources.append(_local(str(p), rel.as_posix()))
        else:
            skipped["unknown_suffix"] += 1
    return sources


def _directory(path: Path, skipped: Counter) -> list[Source]:
    sources = directory_sources(path, skipped)
    if not sources:
        raise StageInputError(
            f"input directory has no WARC/WET/ARC or documents files "
            f"({', '.join(ARCHIVE_SUFFIXES + TEXT_SUFFIXES)}): {path}"
        )
    return sources


def _local_glob(pattern: str) -> list[Source]:
    matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not matches:
        raise StageInputError(f"input glob matches no files: {pattern}")
    return [_local(p) for p in matches]


def _remote_glob(pattern: str) -> list[Source]:
    import fsspec

    fs, _ = fsspec.core.url_to_fs(pattern)
    try:
        matches = sorted(fs.glob(pattern))
    except Exception as exc:  # any backend error: the input is unusable as given
        raise StageInputError(f"cannot list input glob {pattern}: {type(exc).__name__}: {exc}") from None
    if not matches:
        raise StageInputError(f"input glob matches no files: {pattern}")
    return [Source(name=url, location=url) for url in (fs.unstrip_protocol(m) for m in matches)]


def resolve_listed(line: str, base_url: str) -> str:
    """A listing line is relative to Common Crawl's base URL unless it is a URL itself."""
    if "://" in line:
        return line
    return base_url.rstrip("/") + "/" + line.lstrip("/")


def _listing(name: str, base_url: str, timeout_s: float) -> list[Source]:
    import fsspec

    location = name if is_remote(name) else str(Path(name).resolve())
    if not is_remote(name) and not Path(location).is_file():
        raise StageInputError(f"input listing not found: {name}")
    try:
        with fsspec.open(
            location, "rt", compression="infer", encoding="utf-8", **remote_options(location, timeout_s)
        ) as fh:
            lines = [line.strip() for line in fh]
    except Exception as exc:  # unreadable listing: nothing sensible to ingest
        raise StageInputError(f"cannot read input listing {name}: {type(exc).__name__}: {exc}") from None
    urls = [resolve_listed(line, base_url) for line in lines if line and not line.startswith("#")]
    if not urls:
        raise StageInputError(f"input listing is empty: {name}")
    return [Source(name=url, location=url) for url in urls]


def expand_input(name: str, base_url: str, timeout_s: float, skipped: Counter) -> list[Source]:
    name = name.removeprefix("file://")
    if is_listing(name):
        return _listing(name, base_url, timeout_s)
    if any(ch in name for ch in GLOB_CHARS):
        return _remote_glob(name) if is_remote(name) else _local_glob(name)
    if is_remote(name):
        return [Source(name=name, location=name)]
    path = Path(name)
    if path.is_dir():
        return _directory(path, skipped)
    if path.is_file():
        return [_local(name)]
    raise StageInputError(f"input not found: {name}")


def expand_inputs(
    inputs: list[str], base_url: str, timeout_s: float, max_files: int | None = None, skipped: Counter | None = None
) -> list[Source]:
    """Every input file, in the given order, each once; at most `max_files` of them. A directory's
    files that are not inputs are counted by reason in `skipped`."""
    skipped = Counter() if skipped is None else skipped
    seen: set[str] = set()
    sources: list[Source] = []
    for name in inputs:
        for source in expand_input(name, base_url, timeout_s, skipped):
            if source.location not in seen:
                seen.add(source.location)
                sources.append(source)
    return sources[:max_files] if max_files is not None else sources


def own_sources(data: DataSource, max_files: int | None, skipped: Counter) -> list[Source]:
    """With source own: the files of own.root/crawl and own.root/text (whichever exist), crawl first.

    A one-line error when neither holds a file, or none of their files is one ingest reads."""
    data.require("ingest", *OWN_KINDS)
    sources = [
        source
        for kind in OWN_KINDS
        if (folder := data.folder(kind)) is not None
        for source in directory_sources(folder, skipped)
    ]
    if not sources:
        wanted = "; or ".join(f"{data.root / kind}/ with {KINDS[kind]}" for kind in OWN_KINDS)
        raise StageInputError(
            f"ingest: no input file ingest reads under {data.root} "
            f"({sum(skipped.values())} other file(s) skipped): expected {wanted}"
        )
    return sources[:max_files] if max_files is not None else sources


def remote_options(location: str, timeout_s: float) -> dict:
    """fsspec options: HTTP is streamed (no range requests, no length needed) with timeouts."""
    if not location.startswith(("http://", "https://")):
        return {}
    import aiohttp

    # No total timeout: a 1 GB WARC may take minutes; a stalled connection may not.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
    return {"block_size": 0, "client_kwargs": {"timeout": timeout}}


@contextmanager
def open_source(location: str, timeout_s: float) -> Iterator[BinaryIO]:
    """Open one input file for streaming reads, wherever it lives."""
    if not is_remote(location):
        with open(location, "rb") as fh:
            yield fh
        return
    import fsspec

    with fsspec.open(location, "rb", **remote_options(location, timeout_s)) as fh:
        yield fh
