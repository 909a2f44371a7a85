"""Writing fetches as WARC (gzip, one member per record), rotated into shards for ingest.

Each file `crawl-00000.warc.gz`, `crawl-00001.warc.gz`, ... starts with a `warcinfo` record; each
fetch is a `request` + `response` pair (warcio links them with WARC-Concurrent-To and computes the
block and payload digests). Files rotate after `records_per_file` fetches, so ingest can shard.

The payload stored is the body as decoded by the client, as Common Crawl does: when the transfer
changed it (Content-Encoding, chunked Transfer-Encoding), the original headers are kept under
`X-Crawler-<name>` and Content-Length is set to the stored length, so a WARC reader sees a
consistent HTTP message.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from stages.crawl.fetcher import Fetched

FILE_PATTERN = "crawl-{:05d}.warc.gz"
TRANSFER_HEADERS = ("content-encoding", "transfer-encoding", "content-length")


def headers_for_storage(headers: list[tuple[str, str]], payload_length: int) -> list[tuple[str, str]]:
    """The response headers as they describe the stored (decoded) payload."""
    names = {k.lower() for k, _ in headers}
    declared = next((v for k, v in headers if k.lower() == "content-length"), None)
    altered = "content-encoding" in names or "transfer-encoding" in names or declared != str(payload_length)
    if not altered:
        return list(headers)
    kept = [(f"X-Crawler-{k}" if k.lower() in TRANSFER_HEADERS else k, v) for k, v in headers]
    return kept + [("Content-Length", str(payload_length))]


class WarcShardWriter:
    """Appends request/response pairs to rotating gzip WARC files in `out_dir`."""

    def __init__(self, out_dir: Path, records_per_file: int, info: dict[str, str]) -> None:
        self.out_dir = Path(out_dir)
        self.records_per_file = records_per_file
        self.info = info
        self.files: list[Path] = []
        self.responses = 0
        self._fh: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._in_file = 0
        self._warcinfo_id = ""

    def _open_next(self) -> None:
        self.close()
        path = self.out_dir / FILE_PATTERN.format(len(self.files))
        self._fh = open(path, "wb")
        self._writer = WARCWriter(self._fh, gzip=True)
        warcinfo = self._writer.create_warcinfo_record(path.name, self.info)
        self._warcinfo_id = warcinfo.rec_headers.get_header("WARC-Record-ID")
        self._writer.write_record(warcinfo)
        self.files.append(path)
        self._in_file = 0

    def write(self, fetched: Fetched) -> None:
        if self._writer is None or self._in_file >= self.records_per_file:
            self._open_next()
        body = fetched.body or b""
        date = datetime_to_iso_date(fetched.started_at.replace(tzinfo=None))
        common = {"WARC-Date": date, "WARC-Warcinfo-ID": self._warcinfo_id}
        status_line = f"{fetched.status} {fetched.reason}".strip()
        response = self._writer.create_warc_record(
            fetched.url.text,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(
                status_line, headers_for_storage(fetched.headers, len(body)), protocol=fetched.http_version
            ),
            warc_headers_dict={**common, "WARC-IP-Address": fetched.ip},
        )
        request = self._writer.create_warc_record(
            fetched.url.text,
            "request",
            http_headers=StatusAndHeaders(
                f"GET {fetched.url.target} {fetched.http_version}", fetched.request_headers, is_http_request=True
            ),
            warc_headers_dict=common,
        )
        self._writer.write_request_response_pair(request, response)
        self._in_file += 1
        self.responses += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._fh = None
        self._writer = None
