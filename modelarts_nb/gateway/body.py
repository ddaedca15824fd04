"""Reading an answer's body as it arrives, and refusing it before it passes ``MAX_BODY``.

Why apart from the send loop: read whole, a 300 MB answer cost the kernel 600 MB and an endless
one all of it, and httpx's own decoders inflate a whole network read at once (up to 1,000 times
its size). This is the one place that bounds both; what the body then means is ``responses``'s.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import httpx

from . import errors
from .responses import MAX_BODY, request_id

__all__ = ["TooLarge", "read_body"]


class TooLarge(errors.ApiError):
    """An answer over ``MAX_BODY``, refused before more of it was read."""

    @classmethod
    def of(cls, response: httpx.Response) -> TooLarge:
        return cls(status=response.status_code, request_id=request_id(response),
                   what=f"the answer was larger than {MAX_BODY // 2**20} MB; nothing further "
                   "was read")

    def reading(self, what: str) -> errors.ApiError:
        """The error a read of ``what`` raises: a plain ApiError, in one line."""
        return errors.ApiError(status=self.status, request_id=self.request_id,
                               what=f"reading {what} failed: {self.what}")


def read_body(response: httpx.Response, check_cancel: Callable[[], None]) -> None:
    """Read the body as it arrives and refuse it before it passes ``MAX_BODY`` (or at once,
    when its Content-Length says it will). ``check_cancel`` raises on a Stop: it ends a slow
    body between chunks.

    The body is then kept where httpx's own ``Response.read()`` keeps it (``_content``),
    so ``response.content`` and ``.json()`` work as for an answer read whole."""
    if _declared_length(response) > MAX_BODY:
        raise TooLarge.of(response)
    chunks: list[bytes] = []
    size = 0
    for chunk in _decoded(response):
        check_cancel()
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge.of(response)
        chunks.append(chunk)
    response._content = b"".join(chunks)  # noqa: SLF001 - as Response.read() does


def _declared_length(response: httpx.Response) -> int:
    """The answer's Content-Length, or 0 when it has none (h11 has refused a malformed one)."""
    try:
        return int(response.headers.get("Content-Length", "0"))
    except ValueError:
        return 0


_STEP = 1 << 20  # inflated bytes at most per step, so the cap is checked as a gzip bomb grows
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes, inflated ``_STEP`` at a time: httpx's own decoders inflate a whole
    network read at once (up to 1,000 times its size, and brotli far more). An encoding we
    did not ask for is a DecodingError, as a corrupt one is."""
    if hasattr(response, "_content"):  # built in memory (a test's transport): already read
        yield response.content
        return
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        yield from response.iter_raw()
        return
    if coding not in _WBITS:
        raise httpx.DecodingError(f"unasked encoding {coding[:40]!r}", request=response.request)
    inflate = zlib.decompressobj(_WBITS[coding])
    try:
        for data in response.iter_raw():
            while data:
                yield inflate.decompress(data, _STEP)
                data = inflate.unconsumed_tail
        yield inflate.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc), request=response.request) from None

