"""What every answer of the board carries and every request must pass (one ASGI middleware),
and how a path is written to a log.

- Headers on every response: a Content-Security-Policy without inline script and with
  `frame-ancestors 'none'` (no framing: clickjacking), `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: same-origin` (a feed address never leaves in a Referer), and
  Strict-Transport-Security when KEHOACH_PUBLIC_URL is https.
- Redirects are relative: a Location built from the request's Host (Starlette's trailing-slash
  redirect) loses its scheme and host, so `Host: evil.example` cannot send anyone there.
- A body larger than MAX_BODY (a plan's upload and a draft's form: LARGER_BODIES) is refused
  with 413: a declared length before anything is read, a chunked body once it passes the limit
  (it is read here first, at most that limit).
- KEHOACH_ALLOWED_HOSTS (comma-separated names, `*.example.org` for subdomains): when set, any
  other Host header gets 400.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kehoach.documents import MAX_UPLOAD
from kehoach.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
#: The largest request body taken (the board's forms and JSON are a few KiB) ...
MAX_BODY = 64 * 1024
#: ... but for a plan's upload and the form of a draft (a field or two per obligation).
LARGER_BODIES = (("/ke-hoach/moi", MAX_UPLOAD + 64 * 1024), ("/ke-hoach/nhap/", 4 * 1024 * 1024))


def body_limit(path: str) -> int:
    """The largest body a request to `path` may send."""
    return next((limit for prefix, limit in LARGER_BODIES if path.startswith(prefix)), MAX_BODY)


def too_large_message(limit: int) -> str:
    size = f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
    return f"Nội dung gửi lên quá lớn (tối đa {size})."


#: Path words under which the next part is a secret (a feed token): /lich/TOKEN.ics.
FEED_WORDS = frozenset({"lich", "ical", "feed", "feeds"})
URLSAFE = re.compile(r"[A-Za-z0-9_-]{20,}")


def headers_for(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The security headers every response gets."""
    pairs = [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ]
    if (settings.public_url or "").lower().startswith("https://"):
        pairs.append(("strict-transport-security", HSTS))
    return [(k.encode(), v.encode()) for k, v in pairs]


def allowed_hosts(settings: Settings) -> list[str]:
    return [h.lower() for h in settings.allowed_hosts]


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether the Host header's name (port dropped) is one of `allowed`."""
    name = host.lower().rsplit(":", 1)[0] if not host.endswith("]") else host.lower()
    return any(name == a or (a.startswith("*.") and name.endswith(a[1:])) for a in allowed)


def relative(location: str) -> str:
    """A Location without scheme and host, never starting with // (another host).

    >>> relative("http://evil.example/qua-han?x=1")
    '/qua-han?x=1'
    """
    parts = urlsplit(location)
    if parts.scheme not in ("http", "https") and not location.startswith(("//", "\\")):
        return location
    path = "/" + parts.path.lstrip("/\\")
    return path + (f"?{parts.query}" if parts.query else "")


def token_shaped(part: str) -> bool:
    """A path part that looks like a random token (20+ URL-safe characters with an upper-case
    letter or an underscore, or 40+ of them), an extension aside; ids and words do not."""
    stem = part.split(".", 1)[0]
    return bool(URLSAFE.fullmatch(stem)) and (
        len(stem) >= 40 or "_" in stem or any(c.isupper() for c in stem)
    )


def loggable(path: str) -> str:
    """The path as a log writes it: whatever follows a feed word (however the path is spelt:
    //lich/, /LICH/, /./lich/, /tinh/../lich/) and any token-shaped part become ***.

    >>> loggable("/tinh/../lich/AbC123.ics"), loggable("/buoc/x/" + "Ab" * 12)
    ('/lich/***', '/buoc/x/***')
    """
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    if len(parts) > 1 and parts[0].lower() in FEED_WORDS:
        return f"/{parts[0]}/***"
    if "\x00" in path:
        return "/***"
    return "/".join("***" if token_shaped(p) else p for p in path.split("/"))


class Guard:
    """The board's outer middleware: allowed hosts, security headers, relative redirects."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.headers = headers_for(settings)
        self.hosts = allowed_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name.decode() not in headers:
                        headers.raw.append((name, value))
                if "location" in headers:
                    headers["location"] = relative(headers["location"])
            await send(message)

        refused = self.refusal(scope)
        if refused is None and "transfer-encoding" in Headers(scope=scope):
            receive, refused = await self.chunked(scope, receive)
        if refused is not None:
            await refused(scope, receive, sending)
            return
        await self.app(scope, receive, sending)

    async def chunked(self, scope: Scope, receive: Receive) -> tuple[Receive, Response | None]:
        """Read a body of unknown length, up to MAX_BODY; (its replay, None) or a 413."""
        messages, size, more, limit = [], 0, True, body_limit(scope["path"])
        while more:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > limit:
                return receive, self.too_large(scope)
            more = message["type"] == "http.request" and message.get("more_body", False)

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        return replay, None

    @staticmethod
    def too_large(scope: Scope) -> Response:
        message = too_large_message(body_limit(scope["path"]))
        if scope["path"].startswith("/api/"):
            return JSONResponse({"detail": message}, 413)
        return PlainTextResponse(message + "\n", 413)

    def refusal(self, scope: Scope) -> Response | None:
        """The answer to a request refused before the app sees it (unknown host, body too
        large), else None."""
        headers = Headers(scope=scope)
        if self.hosts and not host_allowed(headers.get("host", ""), self.hosts):
            return PlainTextResponse("Tên máy chủ (Host) không được phép.\n", 400)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > body_limit(scope["path"]):
            return self.too_large(scope)
        return None
