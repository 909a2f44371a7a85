"""SSRF guard: links to private, loopback and link-local addresses are refused before any
connection, whatever their spelling or however a name resolves."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from pydantic import ValidationError

from kit.crawl import crawl, page, robots, write_site
from stages.crawl.params import CrawlParams
from stages.crawl.safety import ConnectTarget, Refused, UrlGuard
from stages.crawl.urls import parse_url

H = "s.test"
REAL_GETADDRINFO = socket.getaddrinfo
FAKE_DNS = {
    H: "127.0.0.1",
    "intranet.example": "10.0.0.5",
    "rebind.example": "169.254.169.254",
    "public.example": "93.184.216.34",
}


@pytest.fixture
def fake_dns(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        if host in FAKE_DNS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (FAKE_DNS[host], port or 80))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Tripwire:
    """A loopback listener that counts connections: a refused URL must never reach it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _static(url: str, guard: UrlGuard | None = None) -> str | None:
    return (guard or UrlGuard()).static_refusal(parse_url(url))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://127.0.0.1:9/",
        "http://localhost:22/",
        "http://LOCALHOST./",
        "http://api.localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://[fc00::1]/",
    ],
)
def test_guard_refuses_non_public_addresses(url):
    assert _static(url) == "ssrf"


def test_guard_schemes_allow_list_and_public_addresses():
    assert _static("mailto:someone@example.org") == "scheme"
    assert _static("javascript:alert(1)") == "scheme"
    assert _static("ftp://example.org/file") == "scheme"
    assert _static("file:///etc/passwd") == "scheme"
    assert _static("http://8.8.8.8/") is None
    assert _static("https://example.org/") is None
    assert _static("http://10.0.0.1/", UrlGuard(allow_hosts=["10.0.0.1"])) is None
    pinned = UrlGuard(pinned={("site.test", 80): ConnectTarget("127.0.0.1", 4321)})
    assert asyncio.run(pinned.connect_target(parse_url("http://site.test/a"))) == ConnectTarget("127.0.0.1", 4321)


def test_guard_checks_what_a_name_resolves_to(fake_dns):
    guard = UrlGuard()

    def target(url):
        return asyncio.run(guard.connect_target(parse_url(url)))

    assert target("http://public.example/") == ConnectTarget("93.184.216.34", 80)
    for name in ("intranet.example", "rebind.example"):
        with pytest.raises(Refused) as refused:
            target(f"http://{name}/")
        assert refused.value.reason == "ssrf"
    allowed = UrlGuard(allow_hosts=["intranet.example"])
    assert asyncio.run(allowed.connect_target(parse_url("http://intranet.example/"))).ip == "10.0.0.5"


def test_crawl_never_connects_to_forbidden_targets(tmp_path, fake_dns):
    trip = Tripwire()
    try:
        forbidden = [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            f"http://localhost:{trip.port}/",
            f"http://127.0.0.1:{trip.port}/",
            f"http://[::1]:{trip.port}/",
            f"http://2130706433:{trip.port}/",
        ]
        files = {
            f"{H}/robots.txt": robots(0.0),
            f"{H}/index.html": page(
                *forbidden, "mailto:a@b.test", "javascript:void(0)", "http://intranet.example/", "/fine.html"
            ),
            f"{H}/fine.html": page(),
        }
        site = write_site(tmp_path / "site", files, [f"http://{H}/"])
        # intranet.example is in scope (allow-listed) but resolves to 10.0.0.5: the DNS check
        # must still refuse it.
        run = crawl(site, tmp_path, allow_hosts=["intranet.example"])
    finally:
        trip.close()
    assert trip.connections == 0
    assert run.paths() == ["/robots.txt", "/", "/fine.html"]
    assert run.metrics["refused"]["ssrf"] == len(forbidden) + 1
    assert run.metrics["refused"]["scheme"] == 2
    assert "intranet.example" in run.metrics["hosts"]  # counted against the in-scope host


def test_allow_list_entries_name_a_port():
    def allowed(url, *entries):
        return _static(url, UrlGuard(allow_hosts=entries)) is None

    # No port: the scheme's default port, and no other.
    assert allowed("http://localhost/", "localhost") and allowed("https://localhost/", "localhost")
    assert not allowed("http://localhost:9/", "localhost")
    assert not allowed("http://localhost:443/", "localhost")  # 443 is https's default, not http's
    assert allowed("http://localhost:8000/x", "localhost:8000")
    assert not allowed("http://localhost/", "localhost:8000")
    assert allowed("http://[::1]:8000/", "[::1]:8000") and allowed("http://[::1]/", "::1")
    for entry in ("http://a.test/", "a.test/x", "a.test:http", "user@a.test", "a.test:0", ""):
        with pytest.raises(ValidationError):
            CrawlParams(ssrf_allow_hosts=[entry])


def test_another_port_of_an_allowed_host_is_refused_to_links_and_redirects(tmp_path, fake_dns):
    # The seed's host is allow-listed in both lists and resolves to loopback: allowing it must not
    # open its other ports (a link or a redirect to `H:<any port>` reaching a local service).
    trip = Tripwire()
    try:
        elsewhere = f"http://{H}:{trip.port}"
        files = {f"{H}/robots.txt": robots(0.0), f"{H}/index.html": page(f"{elsewhere}/", "/hop")}
        redirects = {H: {"/hop": {"status": 302, "location": f"{elsewhere}/x"}}}
        site = write_site(tmp_path / "site", files, [f"http://{H}/"], redirects=redirects)
        run = crawl(site, tmp_path, allow_hosts=[H], ssrf_allow_hosts=[H])
    finally:
        trip.close()
    assert trip.connections == 0
    assert run.paths() == ["/robots.txt", "/", "/hop"]
    assert run.metrics["refused"]["out_of_scope"] == 2
