"""The board's errors and how each is answered: a Vietnamese page for a browser, a JSON
`{"detail": "…"}` under /api/. Nothing reaches the user as a traceback or a bare 500.

| what | status |
| --- | --- |
| not logged in | 303 to the login page (401 under /api/) |
| role without access, CSRF token missing or wrong | 403 |
| a step outside the person's units, or no such step | 404 (the same answer: nothing revealed) |
| malformed parameter or body | 422 naming the parameter |
| action not allowed now / a concurrent change | 409 |
| too many failed logins, password checks all busy | 429 with Retry-After |
| request body over 64 KiB | 413 |
| database unreachable or busy | 503 (a generic reason; the detail, with its address, logged) |

A 422 names the parameter and shows at most the first SHOWN characters of what was sent, and
never a password or token.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kehoach.store.actions import ActionNotAllowed, InvalidAction
from kehoach.store.errors import (
    ConcurrentChange,
    DatabaseBusy,
    DatabaseUnavailable,
    SchemaOutdated,
    StepNotFound,
    StepStateError,
    StoreError,
)
from kehoach.store.feeds import FeedError, FeedNotFound
from kehoach.store.people import PersonError

from .security import body_limit, loggable, too_large_message

log = logging.getLogger("kehoach.web")


class BoardError(Exception):
    """An answer other than the page asked for: `status` and a Vietnamese message."""

    status = 400
    title = "Không thực hiện được"

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message, self.headers = message, headers or {}


class Invalid(BoardError):
    status, title = 422, "Tham số không hợp lệ"


class NotLoggedIn(BoardError):
    status, title = 401, "Cần đăng nhập"


class Forbidden(BoardError):
    status, title = 403, "Không có quyền"


class CsrfRejected(Forbidden):
    title = "Biểu mẫu không hợp lệ"


class NotFound(BoardError):
    status, title = 404, "Không tìm thấy"


class TooManyAttempts(BoardError):
    status, title = 429, "Thử quá nhiều lần"


class ServerBusy(TooManyAttempts):
    title = "Máy chủ đang bận"


STORE_STATUS: list[tuple[type[Exception], int, str]] = [
    (StepNotFound, 404, "Không tìm thấy"),
    (ActionNotAllowed, 409, "Không thực hiện được"),
    (StepStateError, 409, "Không thực hiện được"),
    (ConcurrentChange, 409, "Có thay đổi cùng lúc"),
    (InvalidAction, 422, "Dữ liệu không hợp lệ"),
    (PersonError, 422, "Dữ liệu không hợp lệ"),
    (FeedNotFound, 404, "Không tìm thấy"),
    (FeedError, 422, "Dữ liệu không hợp lệ"),
    (DatabaseBusy, 503, "Cơ sở dữ liệu đang bận"),
    (DatabaseUnavailable, 503, "Không kết nối được cơ sở dữ liệu"),
    (SchemaOutdated, 503, "Cơ sở dữ liệu chưa được nâng cấp"),
    (StoreError, 400, "Không thực hiện được"),
]
#: What the public is told when the database fails (the store's message names its address).
PUBLIC_REASONS: dict[type[Exception], str] = {
    DatabaseBusy: "cơ sở dữ liệu đang bận",
    DatabaseUnavailable: "không kết nối được cơ sở dữ liệu",
    SchemaOutdated: "cơ sở dữ liệu chưa được nâng cấp",
}
#: Characters of a bad value echoed in a 422; fields whose value is never echoed.
SHOWN = 40
SECRET_FIELDS = frozenset({"password", "csrf", "token", "x-csrf-token"})
#: Pydantic's error types, as a person reads them.
PROBLEMS = {
    "missing": "thiếu",
    "int_parsing": "phải là một số nguyên",
    "int_from_float": "phải là một số nguyên",
    "bool_parsing": "phải là true hoặc false",
    "date_parsing": "phải là một ngày dạng YYYY-MM-DD",
    "date_from_datetime_parsing": "phải là một ngày dạng YYYY-MM-DD",
    "string_too_long": "quá dài",
    "string_type": "phải là chữ",
    "json_invalid": "không phải JSON hợp lệ",
    "model_attributes_type": "phải là một đối tượng JSON",
    "dict_type": "phải là một đối tượng JSON",
    "extra_forbidden": "không được nhận",
    "string_pattern_mismatch": "phải là một số nguyên không âm",
}


def cut(text: str) -> str:
    """What a message shows of something typed: its first SHOWN characters."""
    return text[:SHOWN] + ("…" if len(text) > SHOWN else "")


NUL_MESSAGE = "Yêu cầu có ký tự không hợp lệ (ký tự NUL)."


async def reject_nul(request: Request) -> None:
    """App-wide dependency: a NUL character in the path or the query is refused with 400
    (PostgreSQL cannot store one; SQLite would just find nothing: the same answer on both).
    Not on a feed (/lich/…): a malformed token gets the feeds' bare 404, like any bad one."""
    if request.url.path.startswith("/lich/"):
        return
    if (
        "\x00" in request.url.path
        or "%00" in request.url.query.lower()
        or "\x00" in "".join(request.query_params.values())
    ):
        raise BoardError(NUL_MESSAGE)


def api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


def _problem(error: dict[str, Any]) -> str:
    where = [str(p) for p in error.get("loc", ()) if p not in ("query", "body", "path", "header")]
    name = ".".join(where) or "nội dung yêu cầu"
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "greater_than_equal":
        text = f"phải lớn hơn hoặc bằng {ctx.get('ge')}"
    elif kind == "less_than_equal":
        text = f"phải nhỏ hơn hoặc bằng {ctx.get('le')}"
    elif kind == "literal_error":
        text = f"phải là một trong: {ctx.get('expected')}"
    else:
        text = PROBLEMS.get(kind, "không hợp lệ")
    given = error.get("input")
    shown = ""
    if (
        isinstance(given, str | int | float)
        and kind != "missing"
        and not SECRET_FIELDS & {str(p).lower() for p in error.get("loc", ())}
    ):
        shown = f" (đã nhập «{cut(str(given))}»)"
    return f"tham số «{name}» {text}{shown}"


def answer(
    request: Request, status: int, title: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    if api(request):
        return JSONResponse({"detail": message}, status, headers=headers)
    from kehoach.web.render import page

    return page(
        request, "error.html", {"title": title, "message": message}, status=status, headers=headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""

    @app.exception_handler(NotLoggedIn)
    async def _login(request: Request, exc: NotLoggedIn) -> Response:
        if api(request):
            return JSONResponse({"detail": exc.message}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/dang-nhap?next={quote(target, safe='')}", 303)

    @app.exception_handler(BoardError)
    async def _board(request: Request, exc: BoardError) -> Response:
        return answer(request, exc.status, exc.title, exc.message, exc.headers)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> Response:
        for kind, status, title in STORE_STATUS:
            if isinstance(exc, kind) and status == 503:
                log.error("%s %s: %s", request.method, loggable(request.url.path), exc)
                return answer(
                    request,
                    status,
                    title,
                    "Cơ sở dữ liệu tạm thời không dùng được; "
                    "lỗi đã được ghi lại. Hãy thử lại sau ít phút.",
                )
            if isinstance(exc, kind):
                return answer(request, status, title, str(exc))
        return answer(request, 400, "Không thực hiện được", str(exc))  # pragma: no cover

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:  # a NUL in a form field
        return answer(
            request,
            400,
            "Dữ liệu không hợp lệ",
            NUL_MESSAGE if "NUL" in str(exc) else "Dữ liệu gửi lên không hợp lệ.",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [_problem(e) for e in exc.errors()]
        return answer(
            request,
            422,
            "Tham số không hợp lệ",
            "Yêu cầu không hợp lệ: " + "; ".join(problems) + ".",
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: "Không có trang này.",
            405: "Phương thức này không dùng được ở đây.",
            413: too_large_message(body_limit(request.url.path)),
        }
        message = messages.get(exc.status_code, str(exc.detail))
        return answer(request, exc.status_code, "Lỗi", message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("lỗi không lường trước ở %s %s", request.method, loggable(request.url.path))
        return answer(
            request,
            500,
            "Lỗi hệ thống",
            "Đã có lỗi không lường trước; lỗi đã được ghi lại. Hãy thử lại sau.",
        )
