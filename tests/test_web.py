"""The secretaries' board over real HTTP (uvicorn on a loopback port, httpx), on SQLite and
PostgreSQL: who sees what (a table of routes × roles), CSRF, the login rate limit, escaping,
exports, the API and its OpenAPI document, bad parameters, actions, health and access logs."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from openapi_spec_validator import validate
from sqlalchemy import Engine, select, update

from kehoach.store import read_session, write_session
from kehoach.store.actions import request_extension
from kehoach.store.models import people_table, steps_table, transitions_table
from kehoach.store.people import add_person
from kehoach.web.app import board_routes, create_app
from kehoach.web.passwords import hash_password, set_password
from kehoach.web.server import background
from kehoach.web.tables import STEP_HEADER
from tests.conftest import load

NOW = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)  # 10:00 in Hồ Chí Minh, 1 April 2022
PASSWORD = "mật khẩu thử 123"
HASH = hash_password(PASSWORD)  # once: Argon2 is slow on purpose
SCRIPT = "<script>alert(1)</script>"
PLAN = f"""\
id: cum-thu
title: Kế hoạch của cụm thử
issuer: tinh-doan
period: {{from: 1/1/2022, to: 31/12/2022}}
units:
  - {{id: tinh-doan, name: Tỉnh Đoàn}}
  - {{id: doan-a, name: Đoàn A}}
  - {{id: doan-b, name: Đoàn B}}
  - {{id: doan-c, name: Đoàn C}}
clusters:
  - {{id: cum-1, name: Cụm Một, head: doan-a, members: [doan-a, doan-b]}}
obligations:
  - id: bao-cao
    kind: deadline
    title: "Báo cáo tháng {SCRIPT}"
    when: ngày 25 hằng tháng
    responsible: [doan-a, doan-b, doan-c]
"""
OTHER_PLAN = """\
id: khac
title: Kế hoạch của huyện khác
issuer: huyen-khac
period: {from: 1/1/2022, to: 31/12/2022}
units:
  - {id: huyen-khac, name: Huyện Đoàn khác}
  - {id: doan-x, name: Đoàn X}
obligations:
  - id: bao-cao
    kind: deadline
    title: Báo cáo quý
    when: ngày 25 hằng tháng
    responsible: doan-x
"""
#: login → (name, unit, board role)
PEOPLE = {
    "thuky": ("Chị Thư Ký", "tinh-doan", "secretary"),
    "cumtruong": ("Anh Cụm Trưởng", "doan-a", "cluster_head"),
    "bithu": ("Bí thư Đoàn C", "doan-c", "unit_secretary"),
    "thanhvien": ("Thành viên Đoàn B", "doan-b", "member"),
    "khac": ("Thư ký huyện khác", "huyen-khac", "secretary"),
}


def step_id(unit: str, month: int = 1, plan: str = "cum-thu") -> str:
    return f"{plan}/bao-cao/2022-{month:02d}/{unit}"


#: role login → (a step they may see, one they may not)
SCOPES = {
    "thuky": (step_id("doan-c"), step_id("doan-x", plan="khac")),
    "cumtruong": (step_id("doan-b"), step_id("doan-c")),
    "bithu": (step_id("doan-c"), step_id("doan-a")),
}
VISIBLE = {
    "thuky": {"doan-a", "doan-b", "doan-c"},
    "cumtruong": {"doan-a", "doan-b"},
    "bithu": {"doan-c"},
}


@dataclass
class World:
    base: str
    engine: Engine
    clock: list[datetime]
    app: object
    ids: dict[str, int]

    def client(self, login: str | None = None, password: str = PASSWORD) -> httpx.Client:
        c = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        if login:
            r = log_in(c, login, password)
            assert r.status_code == 303, r.text
        return c

    def step(self, sid: str) -> object:
        with read_session(self.engine) as s:
            return s.execute(select(steps_table).where(steps_table.c.id == sid)).one()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def log_in(c: httpx.Client, login: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(c.get("/dang-nhap").text)
    return c.post(
        "/dang-nhap", data={"login": login, "password": password, "csrf": token, "next": "/qua-han"}
    )


def api_token(c: httpx.Client) -> str:
    return str(c.get("/api/me").json()["csrf_token"])


@pytest.fixture
def world(db: Engine, tmp_path: Path) -> Iterator[World]:
    for name, text in (("cum-thu", PLAN), ("khac", OTHER_PLAN)):
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
        load(db, tmp_path / f"{name}.yaml")
    ids = {}
    with write_session(db) as s:
        for login, (name, unit, role) in PEOPLE.items():
            ids[login] = add_person(s, name, unit, NOW, board_role=role, login=login)
        s.execute(update(people_table).values(password_hash=HASH))
    clock = [NOW]
    app = create_app({"KEHOACH_SECRET_KEY": "khóa thử"}, db, now=lambda: clock[0])
    with background(app) as base:
        yield World(base, db, clock, app, ids)


# ── who sees what ───────────────────────────────────────────────────────────────────────────

PAGES = [
    "/qua-han",
    "/qua-han?group=unit",
    "/qua-han?group=cluster&sort=unit&desc=true",
    "/sap-den",
    "/sap-den?days=60&group=unit",
    "/tong-hop/don-vi",
    "/tong-hop/cum",
    "/nguoi",
    "/buoc/{own}",
    "/tin-chua-gui",
]
LISTS = ["qua-han", "sap-den", "tong-hop-don-vi", "tong-hop-cum", "nguoi"]
EXPORTS = [f"/xuat/{n}.{ext}" for n in LISTS for ext in ("csv", "xlsx")] + [
    f"/in/{n}" for n in LISTS
]
API = [
    "/api/me",
    "/api/overdue",
    "/api/upcoming",
    "/api/summary/units",
    "/api/summary/clusters",
    "/api/people",
    "/api/steps/{own}",
]
#: (path template, status when logged in with a role); another unit's step is not found.
ROUTES = [(p, 200) for p in PAGES + EXPORTS + API] + [
    ("/", 303),
    ("/buoc/{other}", 404),
    ("/api/steps/{other}", 404),
]


def test_every_get_route_of_the_app_is_in_the_role_table(world: World) -> None:
    served = {r.path for r in board_routes() if "GET" in r.methods}
    listed = {re.sub(r"\{(own|other)\}", "{step_id:path}", p.split("?")[0]) for p, _ in ROUTES}
    listed |= {"/tong-hop/{by}", "/api/summary/{by}"}
    listed |= {
        "/ke-hoach",
        "/ke-hoach/moi",
        "/ke-hoach/nhap/{draft_id}",  # tests/test_plans_web.py
        "/ke-hoach/nhap/{draft_id}/xem-truoc",
        "/ke-hoach/kiem-tra-thoi-gian",
        "/ke-hoach/{plan_id}",
        "/ke-hoach/{plan_id}/phien-ban/{number}.yaml",
    }
    public = {"/dang-nhap", "/healthz"}
    assert len(served) > 15 and served - public <= listed


@pytest.mark.parametrize("login", [None, "thuky", "cumtruong", "bithu"])
def test_routes_by_role(world: World, login: str | None) -> None:
    c = world.client(login)
    own, other = SCOPES[login or "bithu"]
    for template, expected in ROUTES:
        path = template.format(own=own, other=other)
        r = c.get(path)
        if login is None:
            if path.startswith("/api/"):
                assert r.status_code == 401, path
                assert "đăng nhập" in r.json()["detail"]
            else:
                assert r.status_code == 303, path
                assert r.headers["location"].startswith("/dang-nhap?next=%2F"), path
            continue
        assert r.status_code == expected, (path, r.status_code, r.text[:300])
        if expected == 404:  # the same answer as for a step that does not exist
            unknown = c.get(template.format(other="khong/co/buoc"))
            assert r.text.replace(other, "•") == unknown.text.replace("khong/co/buoc", "•")


@pytest.mark.parametrize("login", ["thuky", "cumtruong", "bithu"])
def test_lists_hold_only_the_units_in_scope(world: World, login: str) -> None:
    c = world.client(login)
    for path in ("/api/overdue", "/api/upcoming?days=366"):
        units = {s["unit_id"] for s in c.get(path).json()["items"]}
        assert units == VISIBLE[login], path
    assert {p["unit_id"] for p in c.get("/api/people").json()["items"]} <= VISIBLE[login] | {
        PEOPLE[login][1]
    }
    rows = list(csv.reader(io.StringIO(c.get("/xuat/qua-han.csv").content.decode("utf-8-sig"))))
    assert {r[4] for r in rows[1:]} == {f"Đoàn {u[-1].upper()}" for u in VISIBLE[login]}


@pytest.mark.parametrize("login", ["thuky", "cumtruong", "bithu"])
def test_actions_outside_the_scope_are_not_found_and_change_nothing(
    world: World, login: str
) -> None:
    c = world.client(login)
    own, other = SCOPES[login]
    token = api_token(c)
    r = c.post(f"/buoc/{other}", data={"csrf": token, "action": "done"})
    assert r.status_code == 404 and "có bước" in r.text
    r = c.post(
        f"/api/steps/{other}/excuse", json={"reason": "thử"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 404
    assert world.step(other).state == "pending"  # type: ignore[attr-defined]
    r = c.post(f"/api/steps/{own}/done", json={"note": "đã nộp"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["step_id"] == own
    row = world.step(own)
    assert row.state == "done" and row.done_at == NOW  # type: ignore[attr-defined]
    with read_session(world.engine) as s:
        last = s.execute(
            select(transitions_table)
            .where(transitions_table.c.step_id == own)
            .order_by(transitions_table.c.id.desc())
        ).first()
    assert (last.event, last.actor, last.channel, last.note) == (
        "done",
        PEOPLE[login][0],
        "web",
        "đã nộp",
    )


def test_a_member_cannot_log_in(world: World) -> None:
    c = world.client()
    r = log_in(c, "thanhvien")
    assert r.status_code == 401 and "không có quyền vào trang quản lý" in r.text
    assert c.get("/qua-han").status_code == 303


def test_a_role_taken_away_closes_the_board(world: World) -> None:
    c = world.client("bithu")
    with write_session(world.engine) as s:
        s.execute(
            update(people_table).where(people_table.c.login == "bithu").values(board_role="member")
        )
    r = c.get("/qua-han")
    assert r.status_code == 403 and "không có quyền" in r.text


def test_a_new_password_ends_old_sessions_and_logout_ends_this_one(world: World) -> None:
    c = world.client("thuky")
    assert c.get("/qua-han").status_code == 200
    with write_session(world.engine) as s:
        set_password(s, "thuky", "mật khẩu mới 456")
    assert c.get("/qua-han").status_code == 303
    c = world.client("thuky", "mật khẩu mới 456")
    r = c.post("/dang-xuat", data={"csrf": api_token(c)})
    assert r.status_code == 303 and r.headers["location"] == "/dang-nhap"
    assert c.get("/qua-han").status_code == 303


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(world: World) -> None:
    c = world.client()
    token = csrf_of(c.get("/dang-nhap?next=/tong-hop/cum").text)
    for target, lands in (
        ("/tong-hop/cum", "/tong-hop/cum"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        c.cookies.clear()
        token = csrf_of(c.get("/dang-nhap").text)
        r = c.post(
            "/dang-nhap",
            data={"login": "thuky", "password": PASSWORD, "csrf": token, "next": target},
        )
        assert r.status_code == 303 and r.headers["location"] == lands


# ── CSRF and the login rate limit ───────────────────────────────────────────────────────────


def test_forms_without_or_with_a_wrong_csrf_token_are_refused(world: World) -> None:
    c = world.client("thuky")
    own = SCOPES["thuky"][0]
    for data in ({"action": "done"}, {"action": "done", "csrf": "sai"}):
        r = c.post(f"/buoc/{own}", data=data)
        assert r.status_code == 403 and "mã chống giả mạo" in r.text
    for headers in ({}, {"X-CSRF-Token": "sai"}):
        r = c.post(f"/api/steps/{own}/done", json={}, headers=headers)
        assert r.status_code == 403 and "mã chống giả mạo" in r.json()["detail"]
    assert c.post("/dang-xuat").status_code == 403
    assert c.get("/qua-han").status_code == 200  # still logged in
    assert world.step(own).state == "pending"  # type: ignore[attr-defined]
    fresh = world.client()
    fresh.get("/dang-nhap")
    r = fresh.post("/dang-nhap", data={"login": "thuky", "password": PASSWORD})
    assert r.status_code == 403


def test_every_post_route_checks_the_csrf_token(world: World) -> None:
    c = world.client("thuky")
    own = SCOPES["thuky"][0]
    posts = [r.path for r in board_routes() if "POST" in r.methods]
    assert len(posts) >= 7
    for path in posts:
        r = c.post(path.replace("{step_id:path}", own), data={"action": "done", "reason": "x"})
        assert r.status_code == 403, path
    assert world.step(own).state == "pending"  # type: ignore[attr-defined]


def test_login_is_rate_limited_per_login_and_address(world: World) -> None:
    c = world.client()
    for _ in range(5):
        r = log_in(c, "thuky", "sai mật khẩu")
        assert r.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in r.text
    r = log_in(c, "thuky")  # the right password, but too late
    assert r.status_code == 429 and "thử lại sau 15 phút" in r.text
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60
    assert log_in(world.client(), "cumtruong").status_code == 303  # another login is not blocked
    world.clock[0] = NOW + timedelta(minutes=15, seconds=1)
    assert log_in(c, "thuky").status_code == 303


# ── what the pages show ─────────────────────────────────────────────────────────────────────


def test_html_is_escaped(world: World) -> None:
    c = world.client("thuky")
    for path in ("/qua-han", f"/buoc/{SCOPES['thuky'][0]}", "/in/qua-han", "/sap-den?days=30"):
        html = c.get(path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert SCRIPT not in html, path


def test_overdue_filters_sorts_and_groups(world: World) -> None:
    c = world.client("thuky")
    everything = c.get("/api/overdue").json()["items"]
    assert len(everything) == 9  # 25/01, 25/02, 25/03 × three units
    assert [s["days_late"] for s in everything] == sorted(
        (s["days_late"] for s in everything), reverse=True
    )
    assert {s["days_late"] for s in everything} == {66, 35, 7}
    # no tick has run: due, not sent (issue 11)
    assert "quá hạn 66 ngày, chưa gửi báo trễ hạn, đến lượt báo mức 3" in {
        s["status"] for s in everything
    }
    late = c.get("/api/overdue?min_days=30").json()["items"]
    assert len(late) == 6 and all(s["days_late"] >= 30 for s in late)
    cluster = c.get("/api/overdue?cluster=cum-1&sort=unit").json()["items"]
    assert [s["unit_id"] for s in cluster] == ["doan-a"] * 3 + ["doan-b"] * 3
    assert cluster[0]["clusters"] == [{"id": "cum-1", "name": "Cụm Một"}]
    assert len(c.get("/api/overdue?unit=doan-c&plan=cum-thu").json()["items"]) == 3
    assert c.get("/api/overdue?plan=khac").json()["items"] == []
    grouped = c.get("/qua-han?group=cluster").text
    assert "Cụm Một <small>(6 việc)</small>" in grouped
    assert "(không thuộc cụm nào) <small>(3 việc)</small>" in grouped
    assert "Đoàn B <small>(3 việc)</small>" in c.get("/qua-han?group=unit").text


def test_upcoming_lists_the_next_days(world: World) -> None:
    c = world.client("bithu")
    soon = c.get("/api/upcoming?days=30").json()["items"]
    assert [(s["id"], s["status"]) for s in soon] == [(step_id("doan-c", 4), "sắp tới")]
    assert len(c.get("/api/upcoming?days=366").json()["items"]) == 9


def test_step_page_acts_and_shows_the_audit_trail(world: World) -> None:
    c = world.client("thuky")
    sid = step_id("doan-a", 3)
    page = c.get(f"/buoc/{sid}").text
    assert "Đánh dấu hoàn thành" in page and "Miễn cho đơn vị" in page
    assert "Cho gia hạn" not in page  # no request waiting
    r = c.post(
        f"/buoc/{sid}", data={"csrf": csrf_of(page), "action": "done", "note": "nộp bản giấy"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/buoc/{sid}"
    page = c.get(f"/buoc/{sid}").text
    assert "Đã đánh dấu hoàn thành." in page and "xong trễ 7 ngày" in page
    assert "Chị Thư Ký" in page and "trang quản lý" in page and "nộp bản giấy" in page
    assert "Đánh dấu hoàn thành</button>" not in page
    row = world.step(sid)
    assert row.state == "done" and row.done_at == NOW  # type: ignore[attr-defined]
    units = {u["key"]: u for u in c.get("/api/summary/units").json()["items"]}
    assert (units["doan-a"]["late"], units["doan-a"]["done_late"], units["doan-a"]["upcoming"]) == (
        2,
        1,
        9,
    )
    clusters = c.get("/api/summary/clusters").json()["items"]
    assert [(k["key"], k["late"], k["done_late"]) for k in clusters] == [("cum-thu/cum-1", 5, 1)]


def test_extension_grant_and_refusal_from_the_board(world: World) -> None:
    a, b = step_id("doan-a", 4), step_id("doan-b", 4)
    with write_session(world.engine) as s:
        for sid in (a, b):
            request_extension(s, sid, date(2022, 5, 5), "chờ số liệu", "Đoàn", "telegram", NOW)
    c = world.client("cumtruong")
    page = c.get(f"/buoc/{a}").text
    assert "Cho gia hạn" in page and "Từ chối gia hạn" in page and "chờ số liệu" in page
    r = c.post(f"/buoc/{a}", data={"csrf": csrf_of(page), "action": "grant", "until": "bad"})
    assert r.status_code == 422 and "Ngày gia hạn «bad» không hợp lệ" in r.text
    r = c.post(f"/buoc/{a}", data={"csrf": csrf_of(page), "action": "grant", "until": ""})
    assert r.status_code == 303
    granted = world.step(a).extended_until  # type: ignore[attr-defined]
    assert granted == datetime(2022, 5, 5, 17, tzinfo=UTC)  # the end of 05/05 in Hồ Chí Minh
    token = api_token(c)
    r = c.post(
        f"/api/steps/{b}/refuse", json={"reason": "quá hạn chót"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200 and "từ chối gia hạn: quá hạn chót" in r.json()["message"]
    detail = c.get(f"/api/steps/{b}").json()
    assert [t["event"] for t in detail["transitions"]] == [
        "created",
        "extension_requested",
        "extension_refused",
    ]
    assert "grant" not in detail["allowed_actions"] and "done" in detail["allowed_actions"]
    r = c.post(
        f"/api/steps/{b}/excuse",
        json={"reason": "đơn vị giải thể"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200 and world.step(b).state == "excused"  # type: ignore[attr-defined]


# ── exports ─────────────────────────────────────────────────────────────────────────────────


def test_csv_export_has_a_bom_and_the_same_rows_as_the_list(world: World) -> None:
    c = world.client("thuky")
    r = c.get("/xuat/qua-han.csv?cluster=cum-1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert "qua-han-2022-04-01.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == STEP_HEADER
    listed = c.get("/api/overdue?cluster=cum-1").json()["items"]
    assert [row[-1] for row in rows[1:]] == [s["id"] for s in listed]
    assert rows[1][0] == "25/01/2022" and rows[1][4] in ("Đoàn A", "Đoàn B")
    assert rows[1][2] == f"Báo cáo tháng {SCRIPT}"  # data, not markup, in a spreadsheet
    summary = list(
        csv.reader(io.StringIO(c.get("/xuat/tong-hop-cum.csv").content.decode("utf-8-sig")))
    )
    assert summary[1][:3] == ["Cụm Một", "0", "6"]


def test_xlsx_export_opens_in_openpyxl(world: World) -> None:
    c = world.client("cumtruong")
    r = c.get("/xuat/qua-han.xlsx?sort=due")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == STEP_HEADER and len(rows) == 1 + 6
    assert rows[1][0] == datetime(2022, 1, 25) and rows[1][8] == 66
    assert {row[4] for row in rows[1:]} == {"Đoàn A", "Đoàn B"}
    people = openpyxl.load_workbook(io.BytesIO(c.get("/xuat/nguoi.xlsx").content)).active
    assert {row[0] for row in people.iter_rows(min_row=2, values_only=True)} == {
        "Anh Cụm Trưởng",
        "Thành viên Đoàn B",
    }


def test_the_people_page_shows_each_contact_from_the_contacts_table(world: World) -> None:
    from kehoach.channels import contact_channels
    from kehoach.chat.links import mark_lost, set_contact
    from kehoach.store.people import prefer

    member = world.ids["thanhvien"]
    with write_session(world.engine) as s:
        set_contact(s, member, "email", "tv@example.vn", NOW)
        set_contact(s, member, "telegram", "42", NOW)
        mark_lost(s, member, "telegram", "42", NOW, "Telegram: Forbidden")
        prefer(s, member, "email")
    c = world.client("cumtruong")
    html = c.get("/nguoi").text
    # a column per channel a contact can be on, in the registry's order
    labels = [s.label for s in contact_channels()]
    cells = {"telegram": "mất liên kết", "email": "tv@example.vn (ưu tiên)"}
    member_cells = [
        cells.get(s.name, "chưa liên kết" if s.chat else "") for s in contact_channels()
    ]
    assert "".join(f'<th scope="col">{label}</th>' for label in labels) in html
    row = html[html.index("Thành viên Đoàn B") :].split("</tr>")[0]
    assert "".join(f"<td>{cell}</td>" for cell in member_cells) in row
    nobody = ["chưa liên kết" if s.chat else "" for s in contact_channels()]
    assert "".join(f"<td>{cell}</td>" for cell in nobody) in html  # the cluster head: none
    sheet = openpyxl.load_workbook(io.BytesIO(c.get("/xuat/nguoi.xlsx").content)).active
    rows = list(sheet.iter_rows(values_only=True))
    width = len(labels)
    assert list(rows[0])[4 : 4 + width] == labels
    assert member_cells in [list(r)[4 : 4 + width] for r in rows]
    api = c.get("/api/people").json()["items"]
    got = {p["name"]: (p["telegram"], p["contacts"]) for p in api}
    assert got["Thành viên Đoàn B"] == (
        "mất liên kết",
        {"email": "đã liên kết", "telegram": "mất liên kết"},
    )


def test_a_persons_preferred_channel_is_chosen_on_the_people_page(world: World) -> None:
    """Issue 17: a person's preferred channel is chosen on the board too (as with `kehoach
    person contacts --prefer`); their notifications then go there first. Only for people of
    the viewer's units; an unknown channel or one the person has no contact on is said."""
    from kehoach.chat.links import set_contact
    from kehoach.store.directory import routes

    member = world.ids["thanhvien"]
    with write_session(world.engine) as s:
        set_contact(s, member, "telegram", "42", NOW)
        set_contact(s, member, "zalo", "zalo-user-7", NOW)
    c = world.client("cumtruong")  # heads the cluster of Đoàn B
    html = c.get("/nguoi").text
    assert f'action="/nguoi/{member}/uu-tien"' in html
    assert '<option value="telegram" selected>Telegram</option>' in html

    def heard_through() -> list[str]:
        with write_session(world.engine) as s:
            found = routes(s, ["doan-b"], ["telegram", "zalo", "email"])["doan-b"]
        return [r.channel for r in found]

    assert heard_through() == ["telegram"]
    r = c.post(f"/nguoi/{member}/uu-tien", data={"csrf": csrf_of(html), "channel": "zalo"})
    assert r.status_code == 303 and r.headers["location"] == "/nguoi"
    after = c.get("/nguoi").text
    assert "Từ nay nhắc Thành viên Đoàn B qua Zalo trước." in after
    assert '<option value="zalo" selected>Zalo</option>' in after
    assert heard_through() == ["zalo"]
    refused = c.post(f"/nguoi/{member}/uu-tien", data={"csrf": csrf_of(after), "channel": "email"})
    assert refused.status_code == 422 and "chưa có liên lạc qua Thư điện tử" in refused.text
    assert (
        c.post(
            f"/nguoi/{member}/uu-tien", data={"csrf": csrf_of(after), "channel": "fax"}
        ).status_code
        == 422
    )
    # a person outside the viewer's units is not found; without the form's token, refused
    other = world.client("khac")
    assert (
        other.post(
            f"/nguoi/{member}/uu-tien",
            data={"csrf": csrf_of(other.get("/nguoi").text), "channel": "telegram"},
        ).status_code
        == 404
    )
    assert c.post(f"/nguoi/{member}/uu-tien", data={"channel": "telegram"}).status_code == 403
    assert heard_through() == ["zalo"]


def test_print_view_is_a_table_for_meetings(world: World) -> None:
    html = world.client("thuky").get("/in/qua-han?min_days=30").text
    assert "Các việc quá hạn" in html and "Lập lúc 01/04/2022 10:00" in html
    assert html.count('<tr><td class="num">') == 6 and "@media print" not in html


# ── API, OpenAPI, bad input ─────────────────────────────────────────────────────────────────


def test_openapi_document_is_valid_and_lists_the_api(world: World) -> None:
    doc = world.client().get("/openapi.json").json()
    validate(doc)
    for path in (
        "/api/overdue",
        "/api/upcoming",
        "/api/steps/{step_id}",
        "/api/steps/{step_id}/done",
        "/api/steps/{step_id}/grant",
        "/api/steps/{step_id}/refuse",
        "/api/steps/{step_id}/excuse",
        "/healthz",
    ):
        assert path in doc["paths"], path
    assert "/qua-han" not in doc["paths"]  # pages are not API
    step = doc["components"]["schemas"]["StepOut"]["properties"]
    assert {"days_late", "status", "deadline", "clusters"} <= set(step)


BAD = [
    ("/api/overdue?min_days=abc", 422, "min_days"),
    ("/api/overdue?min_days=-1", 422, "min_days"),
    ("/api/overdue?sort=bogus", 422, "sort"),
    ("/api/overdue?desc=maybe", 422, "desc"),
    ("/api/upcoming?days=0", 422, "days"),
    ("/api/upcoming?days=99999", 422, "days"),
    ("/api/upcoming?days=1e3", 422, "days"),
    ("/api/overdue?plan=" + "x" * 500, 422, "plan"),
    ("/api/summary/nowhere", 404, "summary"),
    ("/api/steps/khong/co/buoc/nay", 404, "khong"),
    ("/api/khong-co", 404, "Không có trang"),
    ("/api/steps/a%00b", 400, "NUL"),
    ("/api/overdue?plan=a%00b", 400, "NUL"),
]
BAD_PAGES = [
    ("/qua-han?group=x", 422, "group"),
    ("/sap-den?days=abc", 422, "days"),
    ("/tong-hop/nowhere", 404, "tổng hợp"),
    ("/buoc/khong-co", 404, "khong-co"),
    ("/khong-co-trang", 404, "Không có trang"),
]


def test_malformed_parameters_are_4xx_with_a_vietnamese_message(world: World) -> None:
    c = world.client("thuky")
    for path, status, named in BAD:
        r = c.get(path)
        assert r.status_code == status, (path, r.text)
        assert named in r.json()["detail"], (path, r.json())
    for path, status, named in BAD_PAGES:
        r = c.get(path)
        assert r.status_code == status and "text/html" in r.headers["content-type"], path
        assert named in r.text, path
    token, sid = api_token(c), step_id("doan-a", 2)
    headers = {"X-CSRF-Token": token}
    posts = [
        (f"/api/steps/{sid}/refuse", {}, 422, "reason"),
        (f"/api/steps/{sid}/refuse", {"reason": ""}, 422, "reason"),
        (f"/api/steps/{sid}/excuse", {"reason": "x", "extra": 1}, 422, "extra"),
        (f"/api/steps/{sid}/grant", {"until": "31/02/2022"}, 422, "until"),
        (f"/api/steps/{sid}/grant", {}, 409, "không có đề nghị gia hạn"),
        (f"/api/steps/{sid}/done", [1, 2], 422, "nội dung yêu cầu"),
    ]
    for path, body, status, named in posts:
        r = c.post(path, json=body, headers=headers)
        assert r.status_code == status, (path, body, r.text)
        assert named in r.json()["detail"], (path, r.json())
    r = c.post(
        f"/api/steps/{sid}/done",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 422 and "JSON" in r.json()["detail"]
    assert c.post(f"/api/steps/{sid}/done", headers=headers).status_code == 200
    r = c.post(f"/api/steps/{sid}/done", headers=headers)
    assert r.status_code == 409 and "đã xong" in r.json()["detail"]
    r = c.post(f"/buoc/{sid}", data={"csrf": token, "action": "bogus"})
    assert r.status_code == 422 and "action" in r.text
    r = c.post(
        f"/buoc/{step_id('doan-b')}",
        data={"csrf": token, "action": "excuse", "reason": "có\x00ký tự lạ"},
    )
    assert r.status_code in (303, 400)  # SQLite stores it; PostgreSQL cannot: never a 500
    r = log_in(world.client(), "thu\x00ky")
    assert r.status_code in (400, 401)


# ── health and logs ─────────────────────────────────────────────────────────────────────────


def test_health_says_ok_on_a_current_database(world: World) -> None:
    r = world.client().get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_health_says_why_on_a_database_without_schema(empty: Engine) -> None:
    app = create_app({"KEHOACH_SECRET_KEY": "k"}, empty, now=lambda: NOW)
    with background(app) as base:
        r = httpx.get(f"{base}/healthz")
    assert r.status_code == 503 and "kehoach db upgrade" in r.json()["schema"]


def test_access_log_is_one_json_line_per_request_without_feed_tokens(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kehoach.http")
    c = world.client()
    c.get("/healthz")
    c.get("/lich/BI-MAT-123456.ics")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "kehoach.http"]
    health = [line for line in lines if line["path"] == "/healthz"]
    assert health and health[0]["method"] == "GET" and health[0]["status"] == 200
    assert isinstance(health[0]["ms"], float)
    assert any(line["path"] == "/lich/***" for line in lines)
    assert "BI-MAT" not in caplog.text


# ── calendar feeds on the board ─────────────────────────────────────────────────────────────


def test_feeds_are_made_shown_once_and_revoked_within_the_scope(world: World) -> None:
    head = world.client("cumtruong")
    token = api_token(head)
    page = head.get("/nguoi").text
    assert "Cụm Một" in page and "Đoàn C" not in page  # only what the head may see
    made = head.post(
        "/nguoi/lich",
        data={"csrf": token, "kind": "cluster", "cluster": "cum-thu/cum-1", "label": "họp cụm"},
    )
    assert made.status_code == 200
    https = re.search(r'href="(http://[^"]+/lich/[^"]+\.ics)"', made.text)
    assert https and f'href="webcal://{https.group(1).split("://")[1]}"' in made.text
    calendar = httpx.get(https.group(1))
    assert calendar.status_code == 200 and "BEGIN:VCALENDAR" in calendar.text
    listed = head.get("/nguoi").text
    assert "họp cụm" in listed and https.group(1) not in listed  # the address is not kept
    feed_id = re.search(r"/nguoi/lich/(\d+)/thu-hoi", listed).group(1)  # type: ignore[union-attr]

    unit = world.client("bithu")
    unit_token = api_token(unit)
    assert "họp cụm" not in unit.get("/nguoi").text
    assert unit.post(f"/nguoi/lich/{feed_id}/thu-hoi", data={"csrf": unit_token}).status_code == 404
    refused = unit.post(
        "/nguoi/lich", data={"csrf": unit_token, "kind": "cluster", "cluster": "cum-thu/cum-1"}
    )
    assert refused.status_code == 422 and "trong các đơn vị bạn được xem" in refused.text
    assert (
        unit.post(
            "/nguoi/lich", data={"csrf": unit_token, "kind": "unit", "unit": "doan-a"}
        ).status_code
        == 422
    )
    assert httpx.get(https.group(1)).status_code == 200

    rotated = head.post(f"/nguoi/lich/{feed_id}/doi", data={"csrf": token})
    fresh = re.search(r'href="(http://[^"]+/lich/[^"]+\.ics)"', rotated.text)
    assert fresh and fresh.group(1) != https.group(1)
    assert httpx.get(https.group(1)).status_code == 404
    new = re.search(r"/nguoi/lich/(\d+)/thu-hoi", head.get("/nguoi").text)
    assert new
    new_id = new.group(1)
    gone = head.post(f"/nguoi/lich/{new_id}/thu-hoi", data={"csrf": token})
    assert gone.status_code == 303
    assert "Đã thu hồi lịch số" in head.get("/nguoi").text
    assert httpx.get(fresh.group(1)).status_code == 404


def test_the_login_limiter_forgets_stale_keys_but_not_blocked_ones() -> None:
    from kehoach.web.auth import LoginLimiter
    from kehoach.web.errors import TooManyAttempts

    limiter = LoginLimiter(limit=2)
    limiter.MAX_KEYS = 3
    for _ in range(2):
        limiter.failed(("thuky", "1.2.3.4"), NOW)
    for i in range(5):
        limiter.failed((f"ai-{i}", "5.6.7.8"), NOW - timedelta(hours=1))
    limiter.failed(("khac", "5.6.7.8"), NOW)
    assert len(limiter.failures) <= 4
    with pytest.raises(TooManyAttempts, match="thử lại sau 15 phút"):
        limiter.check(("thuky", "1.2.3.4"), NOW)
    limiter.check(("thuky", "1.2.3.4"), NOW + timedelta(minutes=15))


def test_plan_feeds_only_for_whoever_sees_every_unit_and_personal_feeds(world: World) -> None:
    secretary, head = world.client("thuky"), world.client("cumtruong")
    assert "Tạo lịch kế hoạch" in secretary.get("/nguoi").text
    assert "Tạo lịch kế hoạch" not in head.get("/nguoi").text
    made = secretary.post(
        "/nguoi/lich", data={"csrf": api_token(secretary), "kind": "plan", "plan": "cum-thu"}
    )
    assert made.status_code == 200 and "/lich/" in made.text
    refused = head.post(
        "/nguoi/lich", data={"csrf": api_token(head), "kind": "plan", "plan": "cum-thu"}
    )
    assert refused.status_code == 422
    mine = head.post(
        "/nguoi/lich", data={"csrf": api_token(head), "kind": "person", "label": "của tôi"}
    )
    url = re.search(r'href="(http://[^"]+/lich/[^"]+\.ics)"', mine.text)
    assert url and "Đoàn C" not in httpx.get(url.group(1)).text
    assert "Lịch của Anh Cụm Trưởng" in head.get("/nguoi").text
    assert "Lịch của Anh Cụm Trưởng" in secretary.get("/nguoi").text  # within her units too
