"""Settings: one typed object, from the environment over an optional TOML file over defaults.

Every setting has one name, `KEHOACH_…`, as the environment variable, and one field of
`Settings` (the name without KEHOACH_, in lower case) where its type, default and Vietnamese
description are stated once. The TOML file (`KEHOACH_CONFIG`, else `kehoach.toml` in the
current folder when it exists) says the same in sections: `[telegram] token = "…"` is
KEHOACH_TELEGRAM_TOKEN, `database_url = "…"` at the top is KEHOACH_DATABASE_URL (and
`telegram_token = "…"` at the top, too). The environment wins over the file. A wrong value
is a SettingsError in Vietnamese naming the setting where it was written (the variable, or
the file and its key) and what is expected.

    settings = Settings.load()                       # the CLI edge only: os.environ, the file
    settings = Settings.of({"KEHOACH_HTTP_PORT": "9000"})   # tests: those names, nothing else
    settings.smtp_host, settings.http_port, settings.digest_hour
"""

from __future__ import annotations

import os
import re
import ssl
import time as time_
import tomllib
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Self

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.vi import os_reason
from kehoach.store.digest import DEFAULT_HOUR
from kehoach.store.errors import StoreError
from notifiers.zalo import DEFAULT_MAX_CHARS as ZALO_MAX_CHARS
from notifiers.zalo import DEFAULT_RATE as ZALO_RATE

PREFIX = "KEHOACH_"
FILE_SETTING = "KEHOACH_CONFIG"
DEFAULT_FILE = "kehoach.toml"
#: The file's sections: `[smtp] host` is the field smtp_host.
SECTIONS = ("telegram", "zalo", "smtp", "http")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080
#: KEHOACH_HTTP_PORT=off: `kehoach serve` runs without the board and the feeds, on purpose.
BOARD_OFF = "off"
#: The SMTP port when KEHOACH_SMTP_PORT is unset, by security.
SMTP_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
HIDDEN = "••••••"
#: Set while Settings.of builds settings from a mapping alone (no environment, no file).
_GIVEN_ONLY: ContextVar[bool] = ContextVar("settings_given_only", default=False)


class SettingsError(StoreError):
    """A setting is wrong, or the settings file cannot be read or says something unknown."""


class Simulated(NamedTuple):
    """KEHOACH_SIMULATED_NOW: the time starts at `start` when the process starts and runs
    `speed` times as fast."""

    start: datetime
    speed: float

    def __str__(self) -> str:
        return f"{self.start.isoformat()}*{self.speed:g}"

    def clock(self) -> Callable[[], datetime]:
        began = time_.monotonic()
        return lambda: (
            self.start + timedelta(seconds=(time_.monotonic() - began) * self.speed)
        ).astimezone(UTC)


def setting(default: Any, what: str, expected: str = "") -> Any:
    """A field: its default, what it is (Vietnamese, shown by `kehoach settings`), and what a
    valid value looks like (in the error when it is not)."""
    return Field(
        default, description=what, json_schema_extra={"expected": expected} if expected else None
    )


Names = Annotated[list[str], NoDecode]  # comma-separated in the environment, or a TOML list


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="forbid", frozen=True, coerce_numbers_to_str=True
    )

    database_url: str | None = setting(None, "cơ sở dữ liệu (mặc định: tệp kehoach.sqlite3)")
    digest_hour: time = setting(
        DEFAULT_HOUR, "giờ gửi tin tổng hợp hằng ngày, giờ Việt Nam (mặc định 07:30)"
    )
    telegram_token: SecretStr | None = setting(
        None, "mã bot Telegram (bí mật); không đặt thì không chạy Telegram"
    )
    telegram_base_url: str | None = setting(
        None, "địa chỉ Bot API (mặc định https://api.telegram.org/bot)"
    )
    telegram_webhook_url: str | None = setting(
        None, "địa chỉ webhook; không đặt thì dùng long polling"
    )
    telegram_webhook_secret: SecretStr | None = setting(None, "secret_token của webhook (bí mật)")
    telegram_webhook_listen: str | None = setting(
        None, "địa chỉ:cổng máy chủ webhook lắng nghe (mặc định 127.0.0.1:8443, sau proxy HTTPS)"
    )
    zalo_token: SecretStr | None = setting(
        None, "mã bot Zalo (bí mật); không đặt thì không chạy Zalo"
    )
    zalo_base_url: str | None = setting(
        None, "địa chỉ Bot API của Zalo (mặc định https://bot-api.zaloplatforms.com/bot)"
    )
    zalo_webhook_url: str | None = setting(
        None, "địa chỉ webhook Zalo (https://…/zalo/webhook); không đặt thì dùng long polling"
    )
    zalo_webhook_secret: SecretStr | None = setting(
        None, "secret_token của webhook Zalo (bí mật, 8 đến 256 ký tự)", "phải dài 8 đến 256 ký tự"
    )
    zalo_rate: float = setting(
        ZALO_RATE,
        "số tin gửi Zalo tối đa mỗi giây (tài liệu Zalo không nói; mặc định 10)",
        "phải là một số dương",
    )
    zalo_max_chars: int = setting(
        ZALO_MAX_CHARS,
        "độ dài tối đa một tin Zalo, ký tự (tài liệu Zalo: 2000; mặc định 2000)",
        "phải là số nguyên từ 100 đến 2000",
    )
    simulated_now: Simulated | None = setting(
        None,
        "chỉ để thử: đồng hồ giả lập của `serve`, ví dụ 2022-05-18T09:00+07:00*60 (bắt "
        "đầu từ đó, nhanh gấp 60)",
    )
    smtp_host: str | None = setting(None, "máy chủ SMTP; không đặt thì không gửi thư")
    smtp_port: int | None = setting(
        None,
        "cổng SMTP (mặc định 587 với STARTTLS, 465 với SSL, 25 nếu không)",
        "không phải số cổng (1–65535)",
    )
    smtp_security: Literal["starttls", "ssl", "none"] = setting(
        "starttls",
        "starttls | ssl | none (mặc định starttls)",
        "không hợp lệ; chọn một trong: " + ", ".join(SMTP_PORTS),
    )
    smtp_user: str | None = setting(None, "tên đăng nhập SMTP")
    smtp_password: SecretStr | None = setting(None, "mật khẩu SMTP (bí mật)")
    smtp_from: str | None = setting(
        None,
        'địa chỉ người gửi, ví dụ "Kế hoạch <kehoach@example.vn>" (mặc định: tên đăng '
        "nhập SMTP khi nó là một địa chỉ thư)",
    )
    smtp_ca_file: Path | None = setting(
        None, "tệp chứng chỉ CA (PEM) tin cậy thêm cho TLS của máy chủ SMTP"
    )
    smtp_timeout: float = setting(
        30.0,
        "thời gian chờ máy chủ SMTP trả lời, giây (mặc định 30)",
        "phải là số giây lớn hơn 0 và dưới 3600",
    )
    http_host: str = setting(
        DEFAULT_HOST, "địa chỉ lắng nghe của trang quản lý và lịch (mặc định 127.0.0.1)"
    )
    http_port: int | None = setting(
        DEFAULT_PORT,
        "cổng của trang quản lý và lịch (mặc định 8080; off: không chạy trang quản lý)",
        "không phải một cổng (0–65535) hay off",
    )
    public_url: str | None = setting(
        None,
        "địa chỉ công khai, dùng trong liên kết lịch và tin nhắn (mặc định: "
        "http://HOST:CỔNG ở trên)",
        "phải bắt đầu bằng http:// hoặc https://",
    )
    secret_key: SecretStr | None = setting(
        None, "khóa ký phiên đăng nhập (bí mật; mặc định sinh và lưu cạnh CSDL)"
    )
    trusted_proxies: Names = setting(
        [],
        "các proxy (địa chỉ hoặc mạng, cách nhau bằng dấu phẩy) được tin tiêu đề "
        "X-Forwarded-For (mặc định: không có)",
    )
    allowed_hosts: Names = setting(
        [],
        "các tên máy được phục vụ (cách nhau bằng dấu phẩy, *.example.org cho tên miền "
        "con); mặc định: mọi tên",
    )

    # ── values ──────────────────────────────────────────────────────────────────────────────

    @field_validator("digest_hour", mode="before")
    @classmethod
    def _hour(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        try:
            return time.fromisoformat(text if len(text.split(":")[0]) == 2 else "0" + text)
        except ValueError:
            raise ValueError("không phải giờ trong ngày, ví dụ 07:30") from None

    @field_validator("simulated_now", mode="before")
    @classmethod
    def _simulated(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        start_text, _, speed_text = value.partition("*")
        try:
            start, speed = datetime.fromisoformat(start_text.strip()), float(speed_text or 1)
        except ValueError:
            start, speed = None, 0.0
        if start is None or start.tzinfo is None or not speed > 0:
            raise ValueError(
                "không hợp lệ; cần thời điểm có múi giờ và tốc độ dương, ví dụ "
                "2022-05-18T09:00+07:00*60"
            )
        return Simulated(start, speed)

    @field_validator("http_port", mode="before")
    @classmethod
    def _board_off(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() == BOARD_OFF else value

    @field_validator("http_port")
    @classmethod
    def _http_port(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 65535:
            raise ValueError("không phải một cổng (0–65535) hay off")
        return value

    @field_validator("smtp_port")
    @classmethod
    def _smtp_port(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value < 65536:
            raise ValueError("không phải số cổng (1–65535)")
        return value

    @field_validator("smtp_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0 < value < 3600:
            raise ValueError("phải là số giây lớn hơn 0 và dưới 3600")
        return value

    @field_validator("zalo_rate", mode="before")
    @classmethod
    def _decimal_comma(cls, value: Any) -> Any:
        return value.strip().replace(",", ".") if isinstance(value, str) else value

    @field_validator("zalo_rate")
    @classmethod
    def _zalo_rate(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("phải là một số dương")
        return value

    @field_validator("zalo_max_chars")
    @classmethod
    def _zalo_max_chars(cls, value: int) -> int:
        if not 100 <= value <= ZALO_MAX_CHARS:
            raise ValueError("phải là số nguyên từ 100 đến 2000")
        return value

    @field_validator("zalo_webhook_secret")
    @classmethod
    def _zalo_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 8 <= len(value.get_secret_value()) <= 256:
            raise ValueError("phải dài 8 đến 256 ký tự")
        return value

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("phải bắt đầu bằng http:// hoặc https://")
        return value.rstrip("/") if value else value

    @field_validator("trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        from notifiers.email import parse_sender

        try:
            return str(parse_sender(value)) if value else value
        except ValueError:
            raise ValueError(
                'không phải địa chỉ thư hợp lệ, ví dụ "Kế hoạch <kehoach@example.vn>"'
            ) from None

    @field_validator("smtp_ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                ssl.create_default_context().load_verify_locations(cafile=str(value))
            except (OSError, ssl.SSLError) as exc:
                reason = os_reason(exc)  # an SSLError is an OSError too
                raise ValueError(f"không đọc được chứng chỉ ({reason})") from None
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _empty(cls, value: Any, info: ValidationInfo) -> Any:
        """An empty value is the default, also over the file's (KEHOACH_SMTP_PORT= unsets the
        file's port). Defined last: `before` validators run last-defined first."""
        if isinstance(value, str) and not value.strip() and info.field_name:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @model_validator(mode="after")
    def _smtp_login(self) -> Self:
        if not self.smtp_host:
            return self
        if bool(self.smtp_user) != bool(self.smtp_password):
            missing = "smtp_password" if self.smtp_user else "smtp_user"
            raise ValueError(
                f"{label(missing)} chưa đặt: đăng nhập SMTP cần cả "
                "KEHOACH_SMTP_USER và KEHOACH_SMTP_PASSWORD"
            )
        if not self.smtp_sender:
            raise ValueError(
                f"{label('smtp_from')} chưa đặt: cần địa chỉ người gửi, ví dụ "
                '"Kế hoạch <kehoach@example.vn>"'
            )
        return self

    @model_validator(mode="after")
    def _zalo_webhook(self) -> Self:
        if self.zalo_token and self.zalo_webhook_url and self.zalo_webhook_secret is None:
            raise ValueError(
                f"{label('zalo_webhook_secret')} chưa đặt: webhook Zalo cần mã bí "
                "mật dài 8 đến 256 ký tự (Zalo gửi nó kèm mỗi cập nhật)"
            )
        return self

    # ── what is derived from them ──────────────────────────────────────────────────────────

    @property
    def board_off(self) -> bool:
        """KEHOACH_HTTP_PORT=off: no board, no feeds, on purpose."""
        return self.http_port is None

    @property
    def public_address(self) -> str:
        """The address people reach the board and the feeds at: KEHOACH_PUBLIC_URL, else where
        `kehoach serve` listens (a wildcard host is reached on loopback), without a trailing /.

        >>> Settings.of({"KEHOACH_HTTP_PORT": "9000"}).public_address
        'http://127.0.0.1:9000'
        >>> Settings.of({"KEHOACH_HTTP_HOST": "::", "KEHOACH_PUBLIC_URL": "https://kh.vn/"}
        ...             ).public_address
        'https://kh.vn'
        """
        if self.public_url:
            return self.public_url
        host = DEFAULT_HOST if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.http_port or DEFAULT_PORT}"

    @property
    def smtp_sender(self) -> str | None:
        """KEHOACH_SMTP_FROM, else the SMTP login when it is an address."""
        user = self.smtp_user if self.smtp_user and "@" in self.smtp_user else None
        return self.smtp_from or user

    # ── where they come from ───────────────────────────────────────────────────────────────

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _GIVEN_ONLY.get():
            return (init_settings,)
        path = settings_file()
        return (init_settings, env_settings) + ((FileSource(settings_cls, path),) if path else ())

    @classmethod
    def load(cls) -> Settings:
        """The settings in effect: the process's environment over the settings file (the CLI
        edge). SettingsError, in Vietnamese, when one is wrong."""
        try:
            return cls()
        except ValidationError as exc:
            path = settings_file()
            raise SettingsError(explain(exc, FileSource(cls, path).where if path else {})) from None

    @classmethod
    def of(cls, given: Settings | Mapping[str, str]) -> Settings:
        """Settings from KEHOACH_… names alone (no environment, no file: tests and callers that
        hold a mapping); the same object when given one. Other names are ignored."""
        if isinstance(given, Settings):
            return given
        fields: dict[str, Any] = {
            name.removeprefix(PREFIX).lower(): value
            for name, value in given.items()
            if name.startswith(PREFIX)
        }
        token = _GIVEN_ONLY.set(True)
        try:
            return cls(**{k: v for k, v in fields.items() if k in cls.model_fields})
        except ValidationError as exc:
            raise SettingsError(explain(exc, {})) from None
        finally:
            _GIVEN_ONLY.reset(token)

    def names(self) -> dict[str, str]:
        """The settings set, by their KEHOACH_ names, as text, secrets revealed: the mapping
        `Settings.of` reads back (a test overrides some of them, as the environment would)."""
        out = {}
        for field in type(self).model_fields:
            value = getattr(self, field)
            if value is None or value == []:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            out[env_name(field)] = self.shown(field) if not isinstance(value, str) else value
        return out

    def shown(self, name: str) -> str:
        """A field's value as `kehoach settings` shows it: "—" unset, secrets hidden."""
        value = getattr(self, name)
        if value is None or value == []:
            return BOARD_OFF if name == "http_port" else "—"
        if isinstance(value, SecretStr):
            return HIDDEN
        if isinstance(value, list):
            return ", ".join(value)
        return value.strftime("%H:%M") if isinstance(value, time) else str(value)


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def file_key(field: str) -> str:
    """`[smtp] host` for smtp_host; `database_url` for a field of no section."""
    section = next((s for s in SECTIONS if field.startswith(s + "_")), None)
    return f"[{section}] {field.removeprefix(section + '_')}" if section else field


def label(field: str) -> str:
    """A setting by both its names, for messages: `KEHOACH_SMTP_HOST ([smtp] host)`."""
    return f"{env_name(field)} ({file_key(field)})"


#: Every setting's name → what it is, in Vietnamese (`kehoach settings`, the README), and
#: the secret ones, never printed.
KNOWN: dict[str, str] = {
    env_name(f): info.description or "" for f, info in Settings.model_fields.items()
}
SECRET = frozenset(
    env_name(f)
    for f, info in Settings.model_fields.items()
    if SecretStr in getattr(info.annotation, "__args__", (info.annotation,))
)


def settings_file(cwd: Path | None = None) -> Path | None:
    """KEHOACH_CONFIG, else kehoach.toml in the current folder when there is one."""
    named = os.environ.get(FILE_SETTING)
    if named:
        return Path(named)
    path = (cwd or Path.cwd()) / DEFAULT_FILE
    return path if path.is_file() else None


def _flatten(doc: Mapping[str, Any], prefix: str, path: Path) -> dict[str, tuple[Any, str]]:
    """field → (value, where it is written in the file)."""
    out: dict[str, tuple[Any, str]] = {}
    for key, value in doc.items():
        name = f"{prefix}_{key}".strip("_").lower().replace("-", "_")
        where = f"[{prefix}] {key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(_flatten(value, name, path))
        elif isinstance(value, bool | int | float | str | time | list):
            out[name] = (value, where)
        else:
            raise SettingsError(f"tệp cấu hình {path}, {where}: phải là chữ, số hoặc đúng/sai")
    return out


class FileSource(TomlConfigSettingsSource):
    """The TOML settings file, its sections flattened onto the fields; unreadable, malformed
    or naming an unknown setting: SettingsError."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path):
        if not path.is_file():
            try:
                path.open(encoding="utf-8").close()
                reason = "không phải một tệp"
            except OSError as exc:
                reason = os_reason(exc)
            raise SettingsError(f"không đọc được tệp cấu hình {path}: {reason}")
        try:
            super().__init__(settings_cls, toml_file=path)
        except OSError as exc:
            raise SettingsError(f"không đọc được tệp cấu hình {path}: {os_reason(exc)}") from None
        except tomllib.TOMLDecodeError as exc:  # its text is English: say where, in Vietnamese
            at = re.search(r"line (\d+), column (\d+)", str(exc))
            place = f" ở dòng {at[1]}, cột {at[2]}" if at else ""
            raise SettingsError(f"tệp cấu hình {path} sai cú pháp TOML{place}") from None
        except UnicodeDecodeError:
            raise SettingsError(f"tệp cấu hình {path} không phải văn bản UTF-8") from None
        found = _flatten(self.toml_data, "", path)
        unknown = [
            where for name, (_, where) in found.items() if name not in settings_cls.model_fields
        ]
        if unknown:
            raise SettingsError(
                f"tệp cấu hình {path}: không biết thiết lập "
                + ", ".join(unknown)
                + "; các thiết lập có: "
                + ", ".join(file_key(f) for f in settings_cls.model_fields)
            )
        self.keys = {name: where for name, (_, where) in found.items()}  # field → file's key
        self.where = {name: f"tệp cấu hình {path}, {key}" for name, key in self.keys.items()}
        self.init_kwargs = {name: value for name, (value, _) in found.items()}


def explain(exc: ValidationError, in_file: Mapping[str, str]) -> str:
    """A validation error in Vietnamese: each wrong setting where it was written (the variable
    when the environment set it, else the file's key), its value, and what is expected."""
    lines = []
    for error in exc.errors(include_url=False):
        if not error["loc"]:  # a check across settings: its message names them
            lines.append(str(error.get("ctx", {}).get("error", error["msg"])))
            continue
        field = str(error["loc"][0])
        info = Settings.model_fields.get(field)
        where = (
            in_file[field]
            if field in in_file and not os.environ.get(env_name(field))
            else label(field)
        )
        if error["type"] == "value_error":
            why = str(error.get("ctx", {}).get("error", ""))
        else:
            extra = info.json_schema_extra if info else None
            why = str(extra.get("expected", "")) if isinstance(extra, dict) else ""
            why = why or "không hợp lệ"
        shown = HIDDEN if env_name(field) in SECRET else error["input"]
        line = f"{where} «{shown}» {why}"
        if line not in lines:  # a union's branches each say the same value is wrong
            lines.append(line)
    return "; ".join(lines)


def describe(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(name, value, where from, what it is) for every setting, secrets hidden: `kehoach
    settings`. Where from: the environment, the file, or the default."""
    path = settings_file()
    in_file = FileSource(Settings, path).keys if path else {}
    rows = []
    for field, info in Settings.model_fields.items():
        name = env_name(field)
        source = (
            "môi trường"
            if os.environ.get(name)
            else f"{path.name}: {in_file[field]}"
            if path and field in in_file
            else "mặc định"
        )
        rows.append((name, settings.shown(field), source, info.description or ""))
    return rows
