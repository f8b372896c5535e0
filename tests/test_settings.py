"""kehoach.settings through the real CLI: a wrong setting, in the environment or in
kehoach.toml, stops the command with a Vietnamese message naming it where it was written and
what is expected (exit 1, as every store error), never pydantic's English or a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kehoach.cli import main
from kehoach.settings import KNOWN, SECRET, Settings, SettingsError

ENGLISH = ("Traceback", "validation error", "Input should", "pydantic", "Expected", "line ")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current folder of its own, and no KEHOACH_ setting from the test's environment."""
    for name in [n for n in os.environ if n.startswith("KEHOACH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings_command(env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["settings"], env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("file", "env", "said"),
    [
        (
            "",
            {"KEHOACH_HTTP_PORT": "tám"},
            "KEHOACH_HTTP_PORT ([http] port) «tám» không phải một cổng (0–65535) hay off",
        ),
        (
            "[http]\nport = 70000\n",
            {},
            "kehoach.toml, [http] port «70000» không phải một cổng (0–65535) hay off",
        ),
        (
            'digest_hour = "sáng"\n',
            {},
            "kehoach.toml, digest_hour «sáng» không phải giờ trong ngày, ví dụ 07:30",
        ),
        (
            "",
            {"KEHOACH_DIGEST_HOUR": "25:00"},
            "KEHOACH_DIGEST_HOUR (digest_hour) «25:00» không phải giờ trong ngày",
        ),
        (
            "",
            {"KEHOACH_SMTP_SECURITY": "tls"},
            "KEHOACH_SMTP_SECURITY ([smtp] security) «tls» không "
            "hợp lệ; chọn một trong: starttls, ssl, none",
        ),
        (
            '[smtp]\nhost = "mail.example.vn"\nsecurity = "tls"\n',
            {"KEHOACH_SMTP_SECURITY": "ssl"},
            "KEHOACH_SMTP_FROM ([smtp] from) chưa đặt",
        ),  # the environment's value won; from missing
        (
            "[telegram]\ntokn = 1\n",
            {},
            "kehoach.toml: không biết thiết lập [telegram] tokn; các "
            "thiết lập có: database_url, digest_hour, [telegram] token",
        ),
        ("[telegram\n", {}, "kehoach.toml sai cú pháp TOML ở dòng 1, cột 10"),
        (
            "",
            {"KEHOACH_CONFIG": "khong-co.toml"},
            "không đọc được tệp cấu hình khong-co.toml: không có tệp hay thư mục này",
        ),
    ],
    ids=[
        "port-env",
        "port-file",
        "hour-file",
        "hour-env",
        "security-env",
        "env-over-file",
        "unknown-key",
        "malformed-toml",
        "missing-file",
    ],
)
def test_a_wrong_setting_is_told_in_vietnamese_by_its_place(
    folder: Path, file: str, env: dict[str, str], said: str
) -> None:
    if file:
        (folder / "kehoach.toml").write_text(file, encoding="utf-8")
    code, output = settings_command(env)
    assert code == 1
    assert said in " ".join(output.split()), output
    assert output.startswith("lỗi ")
    assert not any(word in output for word in ENGLISH), output


def test_a_wrong_setting_stops_serve_before_it_starts(kehoach_bin: str, folder: Path) -> None:
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_")}
    done = subprocess.run(
        [kehoach_bin, "serve"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**env, "KEHOACH_DIGEST_HOUR": "7h30"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "KEHOACH_DIGEST_HOUR (digest_hour) «7h30» không phải giờ trong ngày" in done.stderr
    assert "Traceback" not in done.stderr and not (folder / "kehoach.sqlite3").exists()


def test_secrets_are_never_shown(folder: Path) -> None:
    (folder / "kehoach.toml").write_text(
        'secret_key = "khoa-bi-mat"\n[telegram]\ntoken = "123:bi-mat"\n', encoding="utf-8"
    )
    code, output = settings_command({"KEHOACH_SMTP_PASSWORD": "mk-bi-mat"})
    assert code == 0 and "bi-mat" not in output and output.count("••••••") == 3
    settings = Settings.load()
    assert "bi-mat" not in repr(settings) and "bi-mat" not in str(settings.model_dump())
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == "123:bi-mat"
    with pytest.raises(SettingsError) as caught:  # nor in an error about them
        Settings.of({"KEHOACH_SECRET_KEY": "k", "KEHOACH_SMTP_PORT": "x"})
    assert "«x»" in str(caught.value) and set(KNOWN) >= SECRET


def test_every_documented_spelling_of_the_file(folder: Path) -> None:
    (folder / "kehoach.toml").write_text(
        'database_url = "sqlite:///x.db"\ntelegram_base_url = "http://127.0.0.1:1/bot"\n'
        'trusted_proxies = ["10.0.0.1", "10.0.1.0/24"]\ndigest_hour = 06:45:00\n'
        '[http]\nport = "off"\n[smtp]\nhost = "h"\nuser = "a@b.vn"\npassword = "p"\nport = 2525\n'
        '[telegram]\nwebhook-url = "https://kh.vn/tg"\n',
        encoding="utf-8",
    )
    got = Settings.load()
    assert (got.database_url, got.telegram_base_url, got.telegram_webhook_url) == (
        "sqlite:///x.db",
        "http://127.0.0.1:1/bot",
        "https://kh.vn/tg",
    )
    assert got.trusted_proxies == ["10.0.0.1", "10.0.1.0/24"] and got.board_off
    assert (got.smtp_port, got.smtp_sender, str(got.digest_hour)) == (2525, "a@b.vn", "06:45:00")


def test_given_settings_read_neither_the_environment_nor_the_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "kehoach.toml").write_text("[http]\nport = 9001\n", encoding="utf-8")
    monkeypatch.setenv("KEHOACH_HTTP_HOST", "0.0.0.0")
    assert Settings.load().public_address == "http://127.0.0.1:9001"  # wildcard: loopback
    given = Settings.of({"KEHOACH_HTTP_PORT": "9002", "PATH": "/bin", "KEHOACH_CONFIG": "x"})
    assert (given.http_host, given.http_port) == ("127.0.0.1", 9002)
    assert Settings.of(given) is given


def test_every_documented_setting_is_a_field() -> None:
    """docs/deploy.md's names, and its `[section] key` spellings, are the fields'."""
    import re

    from kehoach.settings import FILE_SETTING, file_key
    from tests.conftest import ROOT

    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bKEHOACH_[A-Z_]*[A-Z]\b", guide)) - {FILE_SETTING}
    assert named and named <= set(KNOWN), named - set(KNOWN)
    keys = set(re.findall(r"`(\[[a-z]+\] [a-z_]+)`", guide))
    assert keys and keys <= {file_key(f) for f in Settings.model_fields}


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ({"KEHOACH_HTTP_PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"KEHOACH_HTTP_HOST": "0.0.0.0", "KEHOACH_HTTP_PORT": "8181"}, "http://127.0.0.1:8181"),
        ({"KEHOACH_PUBLIC_URL": "https://kehoach.example.vn/"}, "https://kehoach.example.vn"),
    ],
)
def test_the_channels_cron_wires_link_to_the_boards_real_address(
    given: dict[str, str], address: str
) -> None:
    """`kehoach tick` and `digest` (cron) wire the channels without `serve`: the links in
    their messages must name the board where it is, derived from host and port like the
    feeds; they said http://127.0.0.1:8080 whatever KEHOACH_HTTP_PORT was."""
    from kehoach.serve import wired_channels
    from notifiers.rendering import board_url

    channels = wired_channels(given)
    assert channels and {c.public_url for c in channels} == {address}
    assert board_url(channels[0].public_url, "/qua-han") == f"{address}/qua-han"
