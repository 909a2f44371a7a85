"""Shared by the ingest tests: small WARC/WET/ARC files (written with warcio, or by hand for ARC),
documents files (JSONL, JSONL.gz, Parquet), and pages to put in them."""

from __future__ import annotations

import gzip as gzip_module
import io
import json
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crisol.formats.artifacts import read_parquet
from crisol.formats.schemas import DOCUMENTS, REJECTS
from kit.paths import SHARED_DATA
from kit.stages import write_stage_params

SHARED_WARC_DIR = SHARED_DATA / "warc"
REAL_DIR = SHARED_WARC_DIR.parent / "real"  # a user's own data: real/crawl, real/text, ...

ENGLISH = [
    (
        "The harbour town of Belmora sits at the mouth of a wide, slow river. Fishing boats leave "
        "before dawn and return in the early afternoon, when the market opens on the quay. Visitors "
        "often remark that the town has kept its old stone houses, narrow lanes and small gardens.",
        "The town council was founded in 1821, and it still meets in the hall beside the church. Its "
        "members are elected every four years by the residents of the nine parishes around the bay. "
        "Most of their work concerns the harbour, the roads and the schools of the district.",
    ),
    (
        "Amelia Corrin was born in the northern valley and trained as an engineer in the capital. "
        "She designed the first iron bridge over the river, which opened to traffic in the spring "
        "of 1874 and is still in use today. Her notebooks are kept in the library of the university.",
        "Later in her life she taught mathematics to the children of the mill workers, and she wrote "
        "a short book about the geometry of arches. The book was printed twice and was translated "
        "into three languages before the end of the century.",
    ),
    (
        "The Grey Heron Company makes rope, sailcloth and nets for the boats of the western coast. "
        "It was started by two brothers who had worked on merchant ships for many years, and it has "
        "grown into the largest employer of the county, with three workshops and a school.",
        "Every summer the company holds an open day, when families can watch the machines and learn "
        "how hemp and flax are turned into strong lines. The profits of the day go to the lifeboat "
        "service that protects the fishing fleet in bad weather.",
    ),
]
GERMAN = (
    "Die kleine Stadt am Fluss ist für ihre alten Brücken und die vielen Gärten bekannt. Jeden "
    "Sommer kommen viele Besucher, um die Märkte und die Kirchen zu sehen. Die Menschen hier "
    "arbeiten vor allem in der Landwirtschaft und im Handwerk, und sie feiern gern gemeinsam.",
    "Im Winter ist es ruhiger. Dann treffen sich die Nachbarn in der alten Schule, wo der Verein "
    "Konzerte und Vorträge über die Geschichte der Region anbietet. Der Eintritt ist frei, und "
    "nach dem Programm gibt es meistens Kuchen, Kaffee und lange Gespräche bis in den Abend.",
)
SPAM_LINE = (
    "Buy the best cheap watches online now and get the lowest prices of the year with free shipping to your home today."
)


def html_page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        f"<footer>Copyright the authors</footer></body></html>"
    ).encode("utf-8")


def english_pages() -> list[tuple[str, bytes]]:
    return [(f"http://example.test/en/{i}", html_page(f"Page {i}", list(paras))) for i, paras in enumerate(ENGLISH)]


def german_page() -> tuple[str, bytes]:
    return "http://example.test/de/0", html_page("Die Stadt", list(GERMAN))


def spam_page() -> tuple[str, bytes]:
    return "http://example.test/spam", html_page("Offer", [SPAM_LINE] * 40)


def response(
    writer: WARCWriter,
    url: str,
    body: bytes,
    status: str = "200 OK",
    content_type: str = "text/html; charset=utf-8",
    extra: list[tuple[str, str]] = (),
) -> None:
    http = StatusAndHeaders(status, [("Content-Type", content_type), *extra], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http))


def write_warc(path: Path, pages: list[tuple[str, bytes]], gzip: bool = True) -> Path:
    """A WARC of HTTP 200 HTML responses, one record per page (gzip per record, like crawlers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "crisol-tests"}))
        for url, body in pages:
            response(writer, url, body)
    return path


def write_wet(path: Path, texts: list[tuple[str, str]], gzip: bool = True) -> Path:
    """A WET file as Common Crawl makes them: a warcinfo record, then `conversion` records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "crisol-tests"}))
        for url, text in texts:
            writer.write_record(
                writer.create_warc_record(
                    url, "conversion", payload=io.BytesIO(text.encode("utf-8")), warc_content_type="text/plain"
                )
            )
    return path


def write_arc(path: Path, pages: list[tuple[str, bytes]], gzip: bool = False) -> Path:
    """An ARC (v1) file of HTTP 200 HTML responses, as the Internet Archive wrote them before WARC:
    a `filedesc://` header record, then one record per page (gzip per record when `gzip`)."""
    version = b"1 0 crisol-tests\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [
        b"filedesc://%s 0.0.0.0 20240101000000 text/plain %d\n%s\n" % (path.name.encode(), len(version), version)
    ]
    for url, body in pages:
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )
        records.append(b"%s 10.0.0.1 20240101000000 text/html %d\n%s\n" % (url.encode(), len(http), http))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(gzip_module.compress(r, mtime=0) if gzip else r for r in records))
    return path


def write_jsonl(path: Path, rows: list[dict | bytes]) -> Path:
    """A JSONL documents file (gzipped when the name ends in .gz); a bytes row is written as is."""
    data = b"".join((row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_module.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


def write_text_parquet(path: Path, columns: dict[str, list]) -> Path:
    """A Parquet documents file, as FineWeb and Dolma shards are: one column per field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def english_texts() -> list[str]:
    """The English pages' paragraphs as plain documents (each passes language ID and quality)."""
    return ["\n\n".join(paragraphs) for paragraphs in ENGLISH]


def read_metrics(tmp_path: Path) -> dict:
    """The metrics of a run on write_params's file."""
    return json.loads((tmp_path / "out" / "metrics.json").read_text())


def read_outputs(tmp_path: Path) -> tuple[list[dict], list[dict]]:
    """The documents and the rejects of a run on write_params's file, as rows."""
    return (
        read_parquet(tmp_path / "out" / "documents", DOCUMENTS).to_pylist(),
        read_parquet(tmp_path / "out" / "rejects", REJECTS).to_pylist(),
    )


def write_params(
    tmp_path: Path, inputs: list[str], workers: int = 1, dask_address: str | None = None, **ingest
) -> Path:
    """A params.yaml whose ingest outputs all land under `tmp_path/out` (source synthetic, own.root
    `tmp_path/own`: `--set source=own` switches to it)."""
    out = tmp_path / "out"
    section = {
        "inputs": inputs,
        "documents": str(out / "documents"),
        "rejects": str(out / "rejects"),
        "metrics": str(out / "metrics.json"),
        **ingest,
    }
    return write_stage_params(
        tmp_path / "params.yaml",
        "ingest",
        section,
        profile="tiny",
        source="synthetic",
        own={"root": str(tmp_path / "own")},
        executor={"workers": workers, "dask_address": dask_address},
    )
