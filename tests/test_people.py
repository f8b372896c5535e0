"""People, plan groups, routing of notifications to people, scopes, settings; on SQLite and
PostgreSQL (the fixtures of conftest.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from kehoach import settings as settings_mod
from kehoach.chat.links import mark_lost, set_contact
from kehoach.store import read_session, tick, write_session
from kehoach.store.digest import digest
from kehoach.store.directory import routes, scope_units
from kehoach.store.models import group_members_table, groups_table, outbox_table
from kehoach.store.people import (
    PersonError,
    add_person,
    find_person,
    list_people,
    person_view,
    prefer,
)
from tests.conftest import load, run

NOW = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)
PLAN = """\
id: cum-thu
title: Kế hoạch của cụm thử
issuer: tinh-doan
period: {from: 1/1/2022, to: 31/12/2022}
units:
  - {id: tinh-doan, name: Tỉnh Đoàn}
  - {id: doan-a, name: Đoàn A}
  - {id: doan-b, name: Đoàn B}
  - {id: doan-c, name: Đoàn C}
clusters:
  - {id: cum-1, name: Cụm 1, head: doan-a, members: [doan-a, doan-b]}
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo tháng
    when: ngày 25 hằng tháng
    responsible: [doan-a, doan-b, doan-c]
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "cum-thu.yaml"
    path.write_text(PLAN, encoding="utf-8")
    return path


def people(db: Engine, **kinds: tuple[str, str, dict[str, object]]) -> dict[str, int]:
    ids = {}
    with write_session(db) as s:
        for key, (unit, role, extra) in kinds.items():
            ids[key] = add_person(s, key, unit, NOW, board_role=role, email=extra.get("email"))  # type: ignore[arg-type]
            if "chat" in extra:
                set_contact(s, ids[key], "telegram", str(extra["chat"]), NOW)
    return ids


def test_load_stores_clusters_and_issuer_and_follows_edits(db: Engine, plan: Path) -> None:
    load(db, plan)
    with read_session(db) as s:
        assert s.execute(
            select(groups_table.c.id, groups_table.c.kind, groups_table.c.head_id)
        ).all() == [("cum-1", "cluster", "doan-a")]
        assert sorted(s.execute(select(group_members_table.c.unit_id)).scalars()) == [
            "doan-a",
            "doan-b",
        ]
    plan.write_text(
        PLAN.replace("members: [doan-a, doan-b]", "members: [doan-a, doan-c]"), encoding="utf-8"
    )
    load(db, plan)
    with read_session(db) as s:
        assert sorted(s.execute(select(group_members_table.c.unit_id)).scalars()) == [
            "doan-a",
            "doan-c",
        ]


def test_scopes_follow_board_roles(db: Engine, plan: Path) -> None:
    load(db, plan)
    ids = people(
        db,
        head=("doan-a", "cluster_head", {}),
        sec=("tinh-doan", "secretary", {}),
        unit=("doan-b", "unit_secretary", {}),
        member=("doan-c", "member", {}),
    )
    with read_session(db) as s:
        assert scope_units(s, ids["head"]) == {"doan-a", "doan-b"}
        assert scope_units(s, ids["sec"]) == {"tinh-doan", "doan-a", "doan-b", "doan-c"}
        assert scope_units(s, ids["unit"]) == {"doan-b"}
        assert scope_units(s, ids["member"]) == {"doan-c"}
        assert scope_units(s, 9999) == set()


def test_routes_pick_the_first_running_contact_and_fall_back(db: Engine, plan: Path) -> None:
    load(db, plan)
    ids = people(
        db,
        an=("doan-a", "member", {"email": "an@example.vn", "chat": 42}),
        binh=("doan-a", "member", {"email": "binh@example.vn"}),
        chi=("doan-b", "member", {}),
    )
    with read_session(db) as s:
        both = routes(s, ["doan-a", "doan-b", "doan-c"], ("telegram", "email"), "console")
        assert [(r.person_id, r.channel) for r in both["doan-a"]] == [
            (ids["an"], "telegram"),
            (ids["binh"], "email"),
        ]
        assert [(r.person_id, r.channel) for r in both["doan-b"]] == [(None, "console")]
        only_mail = routes(s, ["doan-a"], ("email",), "console")
        assert [r.channel for r in only_mail["doan-a"]] == ["email", "email"]
    with write_session(db) as s:  # a lost Telegram link is not used
        mark_lost(s, ids["an"], "telegram", "42", NOW, "Telegram: Forbidden")
    with read_session(db) as s:
        assert [r.channel for r in routes(s, ["doan-a"], ("telegram",), "console")["doan-a"]] == [
            "console"
        ]


def test_tick_and_digest_send_to_each_reachable_person(db: Engine, plan: Path) -> None:
    load(db, plan)
    ids = people(
        db,
        an=("doan-a", "member", {"email": "an@example.vn"}),
        binh=("doan-a", "member", {"chat": 7}),
    )
    now = datetime(2022, 4, 18, 2, tzinfo=UTC)  # the reminder 7 days before 25/4
    with write_session(db) as s:
        tick(s, now, channel="console", channels=("telegram", "email"))
        digest(s, now, time(7, 30), channel="console", channels=("telegram", "email"))
    with read_session(db) as s:
        rows = s.execute(
            select(
                outbox_table.c.unit_id,
                outbox_table.c.person_id,
                outbox_table.c.channel,
                outbox_table.c.purpose,
            )
        ).all()
    got = {(u, p, c, purpose) for u, p, c, purpose in rows}
    for purpose in ("reminder", "digest"):
        assert ("doan-a", ids["an"], "email", purpose) in got
        assert ("doan-a", ids["binh"], "telegram", purpose) in got
        assert ("doan-b", None, "console", purpose) in got  # nobody reachable: not dropped
    assert not any(u == "doan-a" and p is None for u, p, _c, _ in got)


def test_a_preferred_channel_is_tried_first_and_checked(db: Engine, plan: Path) -> None:
    load(db, plan)
    ids = people(
        db,
        an=("doan-a", "member", {"email": "an@example.vn", "chat": 42}),
        binh=("doan-a", "member", {"email": "binh@example.vn"}),
    )
    both = ("telegram", "email")
    with write_session(db) as s:
        assert [r.channel for r in routes(s, ["doan-a"], both)["doan-a"]] == ["telegram", "email"]
        prefer(s, ids["an"], "email")
        assert [r.channel for r in routes(s, ["doan-a"], both)["doan-a"]] == ["email", "email"]
        assert [c.channel for c in person_view(s, ids["an"]).contacts] == ["email", "telegram"]
        assert person_view(s, ids["an"]).contact_text("email") == "an@example.vn (ưu tiên)"
        prefer(s, ids["an"], "telegram")  # the other one goes back behind it
        assert [r.channel for r in routes(s, ["doan-a"], both)["doan-a"]] == ["telegram", "email"]
        assert person_view(s, ids["an"]).contact_text("email") == "an@example.vn"
    from kehoach.channels import contact_channels

    every = ", ".join(f"{s.name} ({s.label})" for s in contact_channels())
    for who, channel, said in [
        ("an", "fax", f"không có kênh «fax»; chọn một trong: {every}"),
        ("an", "console", "không có kênh «console»"),
        (
            "binh",
            "telegram",
            "chưa có liên lạc qua Telegram; hãy gửi mã mời cho người đó (kehoach invite) trước",
        ),
    ]:
        with pytest.raises(PersonError) as caught, write_session(db) as s:
            prefer(s, ids[who], channel)
        assert said in str(caught.value)


def test_add_person_refuses_bad_input_and_writes_nothing(db: Engine, plan: Path) -> None:
    load(db, plan)
    with write_session(db) as s:
        add_person(s, "Nguyễn  Văn An", "doan-a", NOW, login="an", email="an@example.vn")
    cases = [
        ({"unit": "khong-co"}, "không có đơn vị «khong-co»"),
        ({"email": "an-at-example"}, "địa chỉ thư «an-at-example» không hợp lệ"),
        ({"login": "an"}, "tên đăng nhập «an» đã có người dùng"),
        ({"login": "An Nguyễn"}, "tên đăng nhập «An Nguyễn» không hợp lệ"),
        ({"board_role": "boss"}, "vai trò «boss» không có"),
        ({"name": "  "}, "tên người không được để trống"),
    ]
    for change, message in cases:
        args = {"name": "Trần Bình", "unit": "doan-b", **change}
        with pytest.raises(PersonError, match=message), write_session(db) as s:
            add_person(s, str(args.pop("name")), str(args.pop("unit")), NOW, **args)  # type: ignore[arg-type]
    with read_session(db) as s:
        listed = list_people(s)
        assert [(p.name, p.login, p.state("telegram")) for p in listed] == [
            ("Nguyễn Văn An", "an", "chưa liên kết")
        ]
        assert find_person(s, "an").name == find_person(s, str(listed[0].id)).name


def test_settings_file_under_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("KEHOACH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kehoach.toml").write_text(
        'database_url = "sqlite:///x.db"\n[telegram]\ntoken = "123:abc"\n[smtp]\nport = 2525\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KEHOACH_SMTP_PORT", "25")
    got = settings_mod.Settings.load()
    assert got.database_url == "sqlite:///x.db"
    assert got.telegram_token is not None and got.telegram_token.get_secret_value() == "123:abc"
    assert got.smtp_port == 25  # the environment wins
    assert "123:abc" not in repr(got) and "123:abc" not in str(got)
    rows = {row[0]: row[1:3] for row in settings_mod.describe(got)}
    assert rows["KEHOACH_TELEGRAM_TOKEN"] == ("••••••", "kehoach.toml: [telegram] token")
    assert rows["KEHOACH_SMTP_PORT"] == ("25", "môi trường")
    assert rows["KEHOACH_HTTP_PORT"] == ("8080", "mặc định")
    (tmp_path / "kehoach.toml").write_text("[telegram]\ntokn = 1\n", encoding="utf-8")
    with pytest.raises(settings_mod.SettingsError, match=r"không biết thiết lập \[telegram\] tokn"):
        settings_mod.Settings.load()
    (tmp_path / "kehoach.toml").write_text("[telegram\n", encoding="utf-8")
    with pytest.raises(settings_mod.SettingsError, match="sai cú pháp TOML ở dòng 1, cột 10"):
        settings_mod.Settings.load()
    (tmp_path / "nowhere").mkdir()
    monkeypatch.chdir(tmp_path / "nowhere")
    monkeypatch.delenv("KEHOACH_SMTP_PORT")
    assert settings_mod.Settings.load() == settings_mod.Settings.of({})  # no file: the defaults


def test_person_commands(kehoach_bin: str, db_url: str, plan: Path, tmp_path: Path) -> None:
    assert run(kehoach_bin, "db", "upgrade", cwd=tmp_path, url=db_url).returncode == 0
    assert run(kehoach_bin, "load", str(plan), cwd=tmp_path, url=db_url).returncode == 0
    ok = run(
        kehoach_bin,
        "person",
        "add",
        "Lê Thị Cúc",
        "--unit",
        "doan-b",
        "--email",
        "cuc@example.vn",
        "--board-role",
        "unit_secretary",
        cwd=tmp_path,
        url=db_url,
    )
    assert ok.returncode == 0 and "đã thêm Lê Thị Cúc" in ok.stdout
    bad = run(kehoach_bin, "person", "add", "X", "--unit", "doan-z", cwd=tmp_path, url=db_url)
    assert bad.returncode == 1 and "không có đơn vị «doan-z»" in bad.stderr
    assert "Traceback" not in bad.stderr
    listed = run(kehoach_bin, "person", "list", cwd=tmp_path, url=db_url)
    assert "Lê Thị Cúc" in listed.stdout and "cuc@example.vn" in listed.stdout
    fax = run(
        kehoach_bin, "person", "contacts", "Lê Thị Cúc", "--prefer", "fax", cwd=tmp_path, url=db_url
    )
    assert fax.returncode == 1 and "không có kênh «fax»; chọn một trong: telegram" in fax.stderr
    chat = run(
        kehoach_bin,
        "person",
        "contacts",
        "Lê Thị Cúc",
        "--prefer",
        "telegram",
        cwd=tmp_path,
        url=db_url,
    )
    assert chat.returncode == 1 and "chưa có liên lạc qua Telegram" in chat.stderr
    assert "Traceback" not in fax.stderr + chat.stderr
    mail = run(
        kehoach_bin,
        "person",
        "contacts",
        "Lê Thị Cúc",
        "--prefer",
        "Email",
        cwd=tmp_path,
        url=db_url,
    )
    assert mail.returncode == 0, mail.stderr
    assert "Lê Thị Cúc nhận tin qua Thư điện tử trước" in mail.stdout
    assert "1. Thư điện tử: cuc@example.vn (ưu tiên)" in mail.stdout


@pytest.mark.parametrize(
    "value",
    ["hôm qua", "2022-05-18T09:00", "2022-05-18T09:00+07:00*0", "2022-05-18T09:00+07:00*nhanh"],
)
def test_a_bad_simulated_clock_is_refused_by_name(value: str) -> None:
    with pytest.raises(settings_mod.SettingsError, match="KEHOACH_SIMULATED_NOW"):
        settings_mod.Settings.of({"KEHOACH_SIMULATED_NOW": value})
    simulated = settings_mod.Settings.of({"KEHOACH_SIMULATED_NOW": "2022-05-18T09:00+07:00*60"})
    assert simulated.simulated_now is not None
    assert simulated.simulated_now.clock()().tzinfo is not None


def test_settings_command_shows_values_and_hides_secrets(kehoach_bin: str, tmp_path: Path) -> None:
    import os
    import subprocess

    (tmp_path / "kehoach.toml").write_text(
        '[smtp]\nhost = "mail.example.vn"\nuser = "kehoach@example.vn"\npassword = "bi-mat-123"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHOACH_")}
    res = subprocess.run(
        [kehoach_bin, "settings"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "mail.example.vn" in res.stdout and "bi-mat-123" not in res.stdout
    assert "KEHOACH_SMTP_PASSWORD" in res.stdout and "••••••" in res.stdout
    assert "[smtp] host" in res.stdout and "mặc định" in res.stdout  # where each comes from


def test_plan_units_are_kept_at_load_and_filled_by_the_migration(db: Engine, plan: Path) -> None:
    from alembic import command

    from kehoach.store.directory import plan_units
    from kehoach.store.models import plan_units_table
    from kehoach.store.schema import alembic_config, upgrade

    load(db, plan)
    with read_session(db) as s:
        assert plan_units(s, ["cum-thu"]) == {"cum-thu": {"doan-a", "doan-b", "doan-c"}}
    config = alembic_config()
    with db.begin() as conn:  # back to 0003 (no table), then up again: filled from the steps
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    upgrade(db)
    with read_session(db) as s:
        assert sorted(s.execute(select(plan_units_table.c.unit_id)).scalars()) == [
            "doan-a",
            "doan-b",
            "doan-c",
        ]
