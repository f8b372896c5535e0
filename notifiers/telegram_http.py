"""python-telegram-bot's HTTP layer on aiohttp (a `telegram.request.BaseRequest`): about half
the CPU per request of the default httpx one, which is what bounds a busy dispatcher on a
small machine (bench/telegram_bench.py compares both).

Errors are PTB's own: a connect timeout is a `TimedOut` whose message says the request was
not sent (the channel may send it again); a timeout while waiting for the answer is a plain
`TimedOut` (unknown outcome); any other transport failure is a `NetworkError`.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON = {"Content-Type": "application/json"}
NOT_SENT = "not sent"  # in a TimedOut's message: the request never left


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        connection_pool_size: int = 16,
        read_timeout: float | None = 10.0,
        connect_timeout: float | None = 10.0,
    ):
        self.pool, self._read_timeout, self._connect_timeout = (
            connection_pool_size,
            read_timeout,
            connect_timeout,
        )
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        timeout = aiohttp.ClientTimeout(  # PTB types its defaults as object
            total=None,
            sock_connect=connect,  # type: ignore[arg-type]
            sock_read=read,  # type: ignore[arg-type]
        )
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for key, value in request_data.json_parameters.items():
                    form.add_field(key, value)
                for key, (name, content, mime) in files.items():
                    form.add_field(key, content, filename=name, content_type=mime)
                data = form
            else:  # a JSON body, as the Bot API accepts: a third of the CPU of a urlencoded form
                data, headers = request_data.json_payload, JSON
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as res:
                return res.status, await res.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(f"Connect timeout: request {NOT_SENT} to Telegram") from exc
        except TimeoutError as exc:
            raise TimedOut("Timed out waiting for Telegram's answer") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
