"""One HTTP GET, the careful way: checked address, no cookies, no redirects, bounded size and time.

The fetcher never follows redirects (the crawler re-checks every hop against robots, scope and
the SSRF guard, and paces it like any other request) and keeps no cookies. It connects to the
address the guard checked or pinned and sends the URL's own host in `Host:` (and as TLS SNI), so
the URL recorded in the WARC is the real one. Bodies are streamed and abandoned past `max_bytes`
(decoded size, so a gzip bomb is stopped too); bodies the caller does not want (non-HTML) are
never downloaded. A gzip or deflate body cut short is refused, not stored as a partial page
(decoding.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Callable

import httpx

from stages.crawl.decoding import BodyDecoder, decodes
from stages.crawl.safety import Refused, UrlGuard
from stages.crawl.urls import Url

ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.5,application/xml;q=0.5,*/*;q=0.1"
# Bodies of redirects and errors are read (up to this much) so the connection can be reused.
DRAIN_BYTES = 64 * 1024


def mime_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


@dataclass
class Fetched:
    """A response as received, plus what the WARC needs to record the exchange."""

    url: Url
    ip: str
    started_at: datetime  # UTC, when the request was sent
    elapsed_s: float  # request sent -> body read (or abandoned)
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]  # as received, names in their original case
    request_headers: list[tuple[str, str]]  # as sent
    body: bytes | None  # decoded payload; None when not downloaded
    truncated: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def mime(self) -> str:
        return mime_of(self.header("Content-Type"))


def _no_cookie_jar() -> CookieJar:
    # A policy that accepts no domain: Set-Cookie is ignored, so no Cookie header is ever sent.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class Fetcher:
    def __init__(
        self,
        guard: UrlGuard,
        user_agent: str,
        timeout_s: float,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.guard = guard
        self.timeout_s = timeout_s
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment between us and the checked address
            cookies=_no_cookie_jar(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def fetch(
        self, url: Url, max_bytes: int, wants_body: Callable[[str], bool], truncate: bool = False
    ) -> Fetched:
        """GET `url`. A 2xx body is downloaded only if `wants_body(mime)`; past `max_bytes` it is
        cut (`truncate=True`) or the fetch is refused as `too_large`. Raises Refused."""
        target = await self.guard.connect_target(url)
        ip_host = f"[{target.ip}]" if ":" in target.ip else target.ip
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        request = self.client.build_request(
            "GET",
            f"{url.scheme}://{ip_host}:{target.port}{url.target}",
            headers={"Host": url.netloc},
            extensions=extensions,
        )
        started_at = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        try:
            # httpx's timeout bounds each read; this bounds the whole exchange (a server that
            # trickles one byte per second never trips a per-read timeout).
            async with asyncio.timeout(self.timeout_s):
                response = await self.client.send(request, stream=True)
                try:
                    body, truncated = await self._read_body(response, max_bytes, wants_body, truncate)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise Refused("timeout", url.text) from exc
        except httpx.HTTPError as exc:
            raise Refused("error", f"{url.text}: {exc.__class__.__name__}") from exc
        return Fetched(
            url=url,
            ip=target.ip,
            started_at=started_at,
            elapsed_s=time.perf_counter() - t0,
            status=response.status_code,
            reason=response.reason_phrase,
            http_version=response.http_version,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw],
            request_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            body=body,
            truncated=truncated,
        )

    @staticmethod
    async def _read_body(
        response: httpx.Response, max_bytes: int, wants_body: Callable[[str], bool], truncate: bool
    ) -> tuple[bytes | None, bool]:
        if response.is_success:
            if not wants_body(mime_of(response.headers.get("Content-Type"))):
                return None, False
            limit = max_bytes
        else:
            limit = DRAIN_BYTES
            truncate = True
        declared = response.headers.get("Content-Length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise Refused("too_large", f"{response.request.headers.get('Host')}: {declared} bytes")
        chunks: list[bytes] = []
        size = 0
        encoding = response.headers.get("Content-Encoding")
        # A response whose body was read already (httpx reads a bytes body up front) is decoded.
        raw = decodes(encoding) and not response.is_stream_consumed
        decoder = BodyDecoder(encoding, response.request.headers.get("Host")) if raw else None
        async for data in response.aiter_raw() if decoder else response.aiter_bytes():
            chunk = decoder.feed(data) if decoder else data
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if not truncate:
                    raise Refused("too_large", f"{response.request.headers.get('Host')}: > {limit} bytes")
                return b"".join(chunks)[:limit], True
        if decoder is not None:
            chunks.append(decoder.finish())  # a stream cut short is refused, not half a page
        return b"".join(chunks), False
