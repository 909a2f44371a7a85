"""Content-Encoding gzip and deflate, decoded here rather than by httpx.

httpx decodes a compressed body chunk by chunk and, at its end, flushes whatever the stream held:
a gzip or deflate stream cut short (a server's file that was cut, a connection closed early with
no Content-Length to tell) became a partial page, stored and ingested as though it were whole.
Here a stream that ends before its end marker raises `Refused("truncated_body")`, and damaged
data `Refused("corrupt_body")`: the crawler counts the fetch under that reason. Other encodings
(the crawler asks for gzip and deflate only) are left to httpx.
"""

from __future__ import annotations

import zlib

from stages.crawl.safety import Refused

GZIP = ("gzip", "x-gzip")
DEFLATE = "deflate"


def decodes(encoding: str | None) -> bool:
    """Whether a body of this Content-Encoding is decoded here (read raw from httpx)."""
    return (encoding or "").strip().lower() in (*GZIP, DEFLATE)


class BodyDecoder:
    """One response body's decoder; `feed` the raw chunks, then `finish`."""

    def __init__(self, encoding: str, where: str) -> None:
        self.encoding = encoding.strip().lower()
        self.where = where  # for the refusal's detail
        self._fed = False
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if self.encoding in GZIP else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        try:
            out = self._z.decompress(data)
        except zlib.error as exc:
            if self.encoding == DEFLATE and not self._fed:
                # "deflate" is often sent raw, without zlib's header (as httpx and browsers accept).
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data)
            raise Refused("corrupt_body", f"{self.where}: {self.encoding}: {exc}") from None
        self._fed = self._fed or bool(data)
        return out

    def finish(self) -> bytes:
        """The rest of the body; Refused when the stream ended before its end marker."""
        if self._fed and not self._z.eof:
            raise Refused("truncated_body", f"{self.where}: the {self.encoding} stream ends before its end")
        return self._z.flush()
