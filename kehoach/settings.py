"""Settings: environment variables, over an optional TOML file, over the defaults.

Every setting has one name, `KEHOACH_…`, as the environment variable. The TOML file
(`KEHOACH_CONFIG`, else `kehoach.toml` in the current folder when it exists) says the same
in sections: `[telegram] token = "…"` is KEHOACH_TELEGRAM_TOKEN, `database_url = "…"` at the
top is KEHOACH_DATABASE_URL. The environment wins over the file. Code below the CLI takes the
result as a plain mapping of those names, so tests pass a dict.

    settings = load(os.environ)          # the CLI edge only
    settings.get("KEHOACH_SMTP_HOST")
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from engine.vi import os_reason
from kehoach.store.errors import StoreError

FILE_SETTING = "KEHOACH_CONFIG"
DEFAULT_FILE = "kehoach.toml"

#: name → what it is, in Vietnamese (for `kehoach settings` and the README). Secrets are
#: marked, so they are never printed.
KNOWN: dict[str, str] = {
    "KEHOACH_DATABASE_URL": "cơ sở dữ liệu (mặc định: tệp kehoach.sqlite3)",
    "KEHOACH_DIGEST_HOUR": "giờ gửi tin tổng hợp hằng ngày, giờ Việt Nam (mặc định 07:30)",
    "KEHOACH_TELEGRAM_TOKEN": "mã bot Telegram (bí mật); không đặt thì không chạy Telegram",
    "KEHOACH_TELEGRAM_BASE_URL": "địa chỉ Bot API (mặc định https://api.telegram.org/bot)",
    "KEHOACH_TELEGRAM_WEBHOOK_URL": "địa chỉ webhook; không đặt thì dùng long polling",
    "KEHOACH_TELEGRAM_WEBHOOK_SECRET": "secret_token của webhook (bí mật)",
    "KEHOACH_TELEGRAM_WEBHOOK_LISTEN": "địa chỉ:cổng máy chủ webhook lắng nghe (mặc định "
                                       "127.0.0.1:8443, sau proxy HTTPS)",
    "KEHOACH_SIMULATED_NOW": "chỉ để thử: đồng hồ giả lập của `serve`, ví dụ "
                             "2022-05-18T09:00+07:00*60 (bắt đầu từ đó, nhanh gấp 60)",
    "KEHOACH_SMTP_HOST": "máy chủ SMTP; không đặt thì không gửi thư",
    "KEHOACH_SMTP_PORT": "cổng SMTP (mặc định 587 với STARTTLS, 465 với SSL, 25 nếu không)",
    "KEHOACH_SMTP_SECURITY": "starttls | ssl | none (mặc định starttls)",
    "KEHOACH_SMTP_USER": "tên đăng nhập SMTP",
    "KEHOACH_SMTP_PASSWORD": "mật khẩu SMTP (bí mật)",
    "KEHOACH_SMTP_FROM": "địa chỉ người gửi, ví dụ \"Kế hoạch <kehoach@example.vn>\"",
    "KEHOACH_SMTP_CA_FILE": "tệp chứng chỉ CA (PEM) tin cậy thêm cho TLS của máy chủ SMTP",
    "KEHOACH_SMTP_TIMEOUT": "thời gian chờ máy chủ SMTP trả lời, giây (mặc định 30)",
    "KEHOACH_HTTP_HOST": "địa chỉ lắng nghe của trang quản lý và lịch (mặc định 127.0.0.1)",
    "KEHOACH_HTTP_PORT": "cổng của trang quản lý và lịch (mặc định 8080; off: không chạy trang "
                         "quản lý)",
    "KEHOACH_PUBLIC_URL": "địa chỉ công khai, dùng trong liên kết lịch và tin nhắn (mặc định: "
                          "http://HOST:CỔNG ở trên)",
    "KEHOACH_SECRET_KEY": "khóa ký phiên đăng nhập (bí mật; mặc định sinh và lưu cạnh CSDL)",
}
SECRET = frozenset({"KEHOACH_TELEGRAM_TOKEN", "KEHOACH_TELEGRAM_WEBHOOK_SECRET",
                    "KEHOACH_SMTP_PASSWORD", "KEHOACH_SECRET_KEY"})


#: Where `kehoach serve` serves the board and the feeds when KEHOACH_HTTP_HOST/PORT are unset.
HOST_SETTING, PORT_SETTING = "KEHOACH_HTTP_HOST", "KEHOACH_HTTP_PORT"
PUBLIC_SETTING = "KEHOACH_PUBLIC_URL"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080
#: KEHOACH_HTTP_PORT=off: `kehoach serve` runs without the board and the feeds, on purpose.
BOARD_OFF = "off"


def public_url(settings: Mapping[str, str]) -> str:
    """The address people reach the board and the feeds at: KEHOACH_PUBLIC_URL, else where
    `kehoach serve` listens (a wildcard host is reached on loopback), without a trailing /.

    >>> public_url({"KEHOACH_HTTP_PORT": "9000"})
    'http://127.0.0.1:9000'
    >>> public_url({"KEHOACH_HTTP_HOST": "0.0.0.0", "KEHOACH_PUBLIC_URL": "https://kh.vn/"})
    'https://kh.vn'
    """
    if settings.get(PUBLIC_SETTING):
        return settings[PUBLIC_SETTING].rstrip("/")
    host = settings.get(HOST_SETTING) or DEFAULT_HOST
    host = DEFAULT_HOST if host in ("0.0.0.0", "::") else host
    port = (settings.get(PORT_SETTING) or "").strip()
    port = port if port.isdigit() else str(DEFAULT_PORT)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class SettingsError(StoreError):
    """The settings file cannot be read, or says something unknown."""


def _flatten(doc: Mapping[str, object], prefix: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.items():
        name = f"{prefix}_{key}".upper().replace("-", "_")
        if isinstance(value, Mapping):
            out.update(_flatten(value, name, where))
        elif isinstance(value, bool | int | float | str):
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            raise SettingsError(f"{where}: «{key}» phải là chữ, số hoặc đúng/sai")
    return out


def read_file(path: Path) -> dict[str, str]:
    """The settings a TOML file gives, by their KEHOACH_ names."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"không đọc được tệp cấu hình {path}: {os_reason(exc)}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"tệp cấu hình {path} sai cú pháp TOML: {exc}") from None
    found = _flatten(doc, "KEHOACH", str(path))
    unknown = sorted(set(found) - set(KNOWN))
    if unknown:
        raise SettingsError(f"tệp cấu hình {path}: không biết thiết lập "
                            + ", ".join(n.removeprefix("KEHOACH_").lower() for n in unknown)
                            + "; các thiết lập có: " + ", ".join(
                                n.removeprefix("KEHOACH_").lower() for n in KNOWN))
    return found


def load(environ: Mapping[str, str], cwd: Path | None = None) -> dict[str, str]:
    """The settings in effect: the file's (if any) with the environment's over them."""
    named = environ.get(FILE_SETTING)
    path = Path(named) if named else (cwd or Path.cwd()) / DEFAULT_FILE
    found = read_file(path) if named or path.is_file() else {}
    return {**found, **environ}


def shown(settings: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(name, value or "—", what it is) for every known setting, secrets hidden."""
    return [(name, ("••••••" if name in SECRET else settings[name]) if settings.get(name)
             else "—", what) for name, what in KNOWN.items()]
