"""Security headers on every response: a strict Content-Security-Policy (no inline
script, no third-party origin), no MIME sniffing, no framing, no referrer from calendar feeds
(their URL is a credential) and a same-origin referrer elsewhere; HSTS when served over https."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    path = request.scope.get("path", "")
    has_nul = "\x00" in path or b"%00" in request.scope.get("query_string", b"")
    if has_nul and not path.startswith("/feeds/"):  # a feed token is only hashed: it 404s like any other
        response: Response = PlainTextResponse("Bad request: a NUL character in the URL", status_code=400)
    else:
        response = await call_next(request)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    is_feed = request.url.path.startswith("/feeds/")
    headers.setdefault("Referrer-Policy", "no-referrer" if is_feed else "same-origin")
    if request.url.scheme == "https":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not is_feed and "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"  # clinical pages and API answers are not cached
    return response
