"""SSRF guard: a link on a web page must not make the crawler talk to private infrastructure.

A page can link to `http://169.254.169.254/latest/meta-data/` (cloud credentials), `http://10.0.0.1/`
(the LAN) or `http://localhost:22/`. The guard refuses, before any connection:
- schemes other than http(s);
- hosts that are non-public IP literals, in any notation the OS resolver accepts
  (`127.1`, `2130706433`, `0x7f.0.0.1`, `[::ffff:127.0.0.1]`), and `localhost` names (RFC 6761);
- hosts whose DNS answers include a non-public address (private, loopback, link-local, reserved,
  multicast, unspecified, shared).
Host:port pairs on the allow-list skip the address checks (urls.HostPorts: another port of an
allowed host is checked like any other URL). A host may also be *pinned* to an address (the
stage pins the synthetic web's `.test` hosts to its loopback server, like `curl --resolve`); the
crawler then connects to exactly the address that was checked or pinned, so a DNS answer that
changes between check and connect (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Iterable, Mapping

from stages.crawl.urls import HostPorts, Url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """A URL the crawler will not request; `reason` is the metrics key it is counted under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ConnectTarget:
    """Where to open the TCP connection for a URL (the checked or pinned address)."""

    ip: str
    port: int


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def ip_literal(host: str) -> IPAddress | None:
    """The address a host name denotes by itself, in any notation inet_aton accepts, else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # legacy IPv4 spellings that resolvers still honour: 127.1, 2130706433, 0x7f.1
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def is_localhost_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


class UrlGuard:
    def __init__(
        self,
        allow_hosts: Iterable[str] = (),
        pinned: Mapping[tuple[str, int], ConnectTarget] | None = None,
        resolve_timeout_s: float = 5.0,
    ) -> None:
        self.allow = HostPorts(allow_hosts)
        self.pinned = dict(pinned or {})
        self.resolve_timeout_s = resolve_timeout_s
        # Keyed by origin, not (host, port): whether a port-less allow-list entry applies depends
        # on the scheme.
        self._resolved: dict[str, ConnectTarget | Refused] = {}

    def static_refusal(self, url: Url) -> str | None:
        """The reason to refuse `url` without any lookup, or None (checks that need no DNS)."""
        if url.scheme not in ("http", "https"):
            return "scheme"
        if self.allow.allows(url) or (url.host, url.port) in self.pinned:
            return None
        literal = ip_literal(url.host)
        if literal is not None and not is_public(literal):
            return "ssrf"
        if is_localhost_name(url.host):
            return "ssrf"
        return None

    async def connect_target(self, url: Url) -> ConnectTarget:
        """Check `url` fully (resolving its host) and return where to connect; raises Refused."""
        reason = self.static_refusal(url)
        if reason:
            raise Refused(reason, url.text)
        key = (url.host, url.port)
        if key in self.pinned:
            return self.pinned[key]
        if url.origin not in self._resolved:
            self._resolved[url.origin] = await self._resolve(url.host, url.port, self.allow.allows(url))
        outcome = self._resolved[url.origin]
        if isinstance(outcome, Refused):
            raise outcome
        return outcome

    async def _resolve(self, host: str, port: int, allowed: bool) -> ConnectTarget | Refused:
        literal = ip_literal(host)
        if literal is not None:
            return ConnectTarget(str(literal), port)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            return Refused("dns", f"{host}: {exc.__class__.__name__}")
        addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
        if not addresses:
            return Refused("dns", f"{host}: no address")
        if not allowed:
            private = [a for a in addresses if not is_public(a)]
            if private:
                return Refused("ssrf", f"{host} resolves to {private[0]}")
        return ConnectTarget(str(addresses[0]), port)
