"""A loopback HTTP server for a site directory, routing by the `Host` header (virtual hosts).

It answers like a plain static web server: the file a URL maps to, its content type (site.json's
override, else by extension), the redirects listed in site.json, and 404 for anything else. Every
request is appended to a thread-safe log of (time, host, path, method), which the tests use to
prove what the crawler did and did not request. `latency_s` delays every answer, to exercise a
crawler's politeness against a slow server.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stages.crawl.site import SiteConfig

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".json": "application/json",
    ".gz": "application/gzip",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class LoggedRequest:
    time: float  # time.monotonic() when the request line was read
    host: str
    path: str  # as requested, query included
    method: str


class RequestLog:
    """Append-only, thread-safe list of the requests the server received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)


def content_type_for(site: SiteConfig, host: str, route: str, file: Path) -> str:
    override = site.content_types.get(host, {}).get(route)
    return override or CONTENT_TYPES.get(file.suffix.lower(), DEFAULT_CONTENT_TYPE)


def file_for(site: SiteConfig, host: str, route: str) -> Path | None:
    """The file a URL path maps to, or None (missing, or an attempt to escape the host folder)."""
    if host not in site.hosts:
        return None
    relative = unquote(route).lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    if any(part in ("..", ".") for part in relative.split("/")):
        return None
    host_root = (site.root / host).resolve()
    path = (host_root / relative).resolve()
    if not path.is_relative_to(host_root) or not path.is_file():
        return None
    return path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a crawler reuses its connections
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK of the headers (~40 ms per response on Linux loopback).
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # the request log below is the record; stderr stays quiet

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower()
        self.server.request_log.append(LoggedRequest(time.monotonic(), host, self.path, self.command))
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        site = self.server.site
        route = urlsplit(self.path).path or "/"
        redirect = site.redirects.get(host, {}).get(route)
        if redirect is not None:
            self._send(redirect.status, [("Location", redirect.location)], b"", send_body)
            return
        file = file_for(site, host, route)
        if file is None:
            self._send(404, [("Content-Type", "text/plain; charset=utf-8")], b"not found\n", send_body)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type_for(site, host, route, file))
        self.send_header("Content-Length", str(file.stat().st_size))
        self.end_headers()
        if send_body:
            try:
                with open(file, "rb") as fh:
                    shutil.copyfileobj(fh, self.wfile)
            except (BrokenPipeError, ConnectionResetError):
                # A crawler that stops reading an oversized page hangs up mid-body.
                self.close_connection = True

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, send_body: bool) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, site: SiteConfig, latency_s: float) -> None:
        self.site = site
        self.latency_s = latency_s
        self.request_log = RequestLog()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address) -> None:
        # A crawler that abandons a response (too large, not HTML) closes its connection with
        # data unread, which resets it: normal here, not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SiteServer:
    """Serve `site` on 127.0.0.1 (a free port) in a background thread; use as a context manager."""

    def __init__(self, site: SiteConfig, latency_s: float = 0.0) -> None:
        self.site = site
        self._server = _Server(site, latency_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="site-server", kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def requests(self) -> list[LoggedRequest]:
        return self._server.request_log.snapshot()

    def start(self) -> "SiteServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "SiteServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
