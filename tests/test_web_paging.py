"""The board at scale (issue 12): keyset paging on every list (stable when steps are added
between two pages, filters and sort kept in the links, the person's scope on every page and
every cursor), exports equal to the unpaged list at 10,000 rows, and the command line's
overdue/agenda (--limit, --format, filters read from the database). SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import openpyxl
import pytest
from sqlalchemy import event, update

from kehoach.store import make_engine, read_session, upgrade, write_session
from kehoach.store.models import units_table
from kehoach.web import queries
from kehoach.web.queries import Filters, encode_cursor
from tests.conftest import load, run
from tests.test_web import NOW, PLAN, SCOPES, VISIBLE, World, api_token, world  # noqa: F401

SORTS = ["days", "due", "unit", "cluster", "plan", "title"]
#: The plan again with a second monthly deadline: 9 more late steps at NOW, on the 10th.
MORE = (
    PLAN
    + """\
  - id: bao-cao-nhanh
    kind: deadline
    title: Báo cáo nhanh
    when: ngày 10 hằng tháng
    responsible: [doan-a, doan-b, doan-c]
"""
)


def walk(c: httpx.Client, path: str, limit: int = 2) -> list[dict[str, Any]]:
    """Every item of an API list, page after page."""
    sep = "&" if "?" in path else "?"
    items: list[dict[str, Any]] = []
    url = f"{path}{sep}limit={limit}"
    for _ in range(10_000):
        r = c.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit and body["total"] >= len(body["items"])
        items += body["items"]
        if body["next"] is None:
            assert len(items) == body["total"]
            return items
        url = f"{path}{sep}limit={limit}&after={body['next']}"
    raise AssertionError("no last page")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def test_a_cursor_neither_skips_nor_repeats_when_steps_are_added(
    world: World, tmp_path: Path
) -> None:
    c = world.client("thuky")
    before = ids(c.get("/api/overdue?limit=500").json()["items"])
    first = c.get("/api/overdue?limit=4").json()
    assert first["total"] == len(before) == 9 and first["next"]
    (tmp_path / "cum-thu.yaml").write_text(MORE, encoding="utf-8")
    load(world.engine, tmp_path / "cum-thu.yaml")  # 9 new late steps, some before the cursor
    rest: list[dict[str, Any]] = []
    url = f"/api/overdue?limit=3&after={first['next']}"
    while url:
        body = c.get(url).json()
        rest += body["items"]
        url = f"/api/overdue?limit=3&after={body['next']}" if body["next"] else ""
    seen = ids(first["items"]) + ids(rest)
    assert len(seen) == len(set(seen))  # nothing twice
    assert set(before) <= set(seen)  # nothing skipped
    now_all = ids(c.get("/api/overdue?limit=500").json()["items"])
    assert len(now_all) == 18
    last = first["items"][-1]["id"]
    assert seen == ids(first["items"]) + now_all[now_all.index(last) + 1 :]
    assert any(i.startswith("cum-thu/bao-cao-nhanh/") for i in ids(rest))


@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_every_sort_pages_to_the_unpaged_list(world: World, tmp_path: Path, desc: bool) -> None:
    (tmp_path / "cum-thu.yaml").write_text(MORE, encoding="utf-8")
    load(world.engine, tmp_path / "cum-thu.yaml")
    c = world.client("thuky")
    order = "&desc=true" if desc else ""
    for sort in SORTS:
        for path in (
            f"/api/overdue?sort={sort}{order}",
            f"/api/upcoming?days=366&sort={sort}{order}",
            f"/api/overdue?sort={sort}{order}&cluster=cum-1&min_days=40",
        ):
            whole = c.get(path + "&limit=500").json()
            assert ids(walk(c, path, limit=2)) == ids(whole["items"]), path
            assert whole["total"] == len(whole["items"]) > 0
        with read_session(world.engine) as s:  # the list functions say the same
            lines = queries.overdue(s, VISIBLE["thuky"], NOW, Filters(sort=sort, desc=desc))
        assert [x.id for x in lines] == ids(
            c.get(f"/api/overdue?sort={sort}{order}&limit=500").json()["items"]
        )


def page_ids(html: str) -> list[str]:
    return re.findall(r'<td><a href="/buoc/([^"]+)">', html)


def test_the_pages_keep_filters_and_sort_in_their_links(world: World, tmp_path: Path) -> None:
    (tmp_path / "cum-thu.yaml").write_text(MORE, encoding="utf-8")
    load(world.engine, tmp_path / "cum-thu.yaml")
    c = world.client("thuky")
    query = "cluster=cum-1&sort=unit&desc=true&min_days=5"
    url, seen, pages = f"/qua-han?{query}&limit=3", [], 0
    while url:
        html = c.get(url).text
        pages += 1
        assert "12 việc (trang này" in html or pages == 4
        seen += page_ids(html)
        found = re.search(r'<a href="(/qua-han\?[^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else ""
        if url:
            for kept in ("cluster=cum-1", "sort=unit", "desc=true", "min_days=5", "limit=3"):
                assert kept in url
            assert 'rel="first"' in html or pages == 1
        csv_link = re.search(r'href="(/xuat/qua-han.csv[^"]*)"', html)
        assert csv_link and "after=" not in csv_link.group(1)
        assert "cluster=cum-1" in csv_link.group(1)
    assert pages == 4
    assert seen == ids(c.get(f"/api/overdue?{query}&limit=500").json()["items"])
    summary = c.get("/tong-hop/don-vi?limit=1&plan=cum-thu").text
    assert "3 đơn vị (trang này 1)" in summary
    assert 'href="/tong-hop/don-vi?limit=1&amp;plan=cum-thu&amp;after=' in summary


LISTS = [
    "/api/overdue",
    "/api/upcoming?days=366",
    "/api/overdue?sort=unit&desc=true",
    "/api/upcoming?days=366&sort=cluster",
]


@pytest.mark.parametrize("desc", [False, True], ids=["asc", "desc"])
def test_the_list_by_unit_keeps_two_units_of_one_name_apart(world: World, desc: bool) -> None:
    with write_session(world.engine) as s:  # doan-a and doan-b, both "Đoàn A"
        s.execute(update(units_table).where(units_table.c.id == "doan-b").values(name="Đoàn A"))
    c = world.client("thuky")
    path = "/api/overdue?sort=unit" + ("&desc=true" if desc else "")
    whole = c.get(path + "&limit=500").json()["items"]
    units = [i["unit_id"] for i in whole]
    runs = [u for n, u in enumerate(units) if n == 0 or units[n - 1] != u]
    assert runs == (["doan-c", "doan-b", "doan-a"] if desc else ["doan-a", "doan-b", "doan-c"])
    assert ids(walk(c, path, limit=1)) == ids(whole)
    assert ids(walk(c, path + "&cluster=cum-1", limit=1)) == [
        i["id"] for i in whole if i["unit_id"] != "doan-c"
    ]


def test_the_list_by_unit_reads_units_in_name_order_and_sorts_no_late_step(
    tmp_path: Path,
) -> None:
    """SQLite: the first page by unit walks ix_units_name_id and each unit's steps in
    ix_steps_unit_id_state_deadline (a sort within one unit at most), instead of sorting
    every late step by its unit's name."""
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    upgrade(engine)
    (tmp_path / "cum-thu.yaml").write_text(PLAN, encoding="utf-8")
    load(engine, tmp_path / "cum-thu.yaml")
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    for desc, cluster in ((False, None), (True, None), (False, "cum-1")):
        f = Filters(sort="unit", desc=desc, cluster=cluster)
        seen.clear()
        event.listen(engine, "before_cursor_execute", keep)
        with read_session(engine) as s:
            page = queries.step_page(s, queries.EVERYTHING, NOW, queries.OVERDUE, f, None, 2)
        event.remove(engine, "before_cursor_execute", keep)
        assert len(page.items) == 2 and page.next
        statement, params = next(x for x in seen if "ORDER BY" in x[0] and "LIMIT" in x[0])
        with engine.connect() as conn:
            plan = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
        assert any("ix_steps_unit_id_state_deadline" in line for line in plan), plan
        if cluster is None:
            assert plan[0] == "SCAN units USING COVERING INDEX ix_units_name_id", plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
    engine.dispose()


@pytest.mark.parametrize("login", sorted(SCOPES))
def test_every_paged_query_keeps_the_scope(world: World, login: str) -> None:
    c = world.client(login)
    for path in LISTS:
        assert {i["unit_id"] for i in walk(c, path, limit=1)} == VISIBLE[login], path
    units = {i["key"] for i in walk(c, "/api/summary/units", limit=1)}
    assert units == VISIBLE[login]
    people = {p["unit_id"] for p in walk(c, "/api/people", limit=1)}
    assert people <= VISIBLE[login] | {"tinh-doan"}
    # a cursor made elsewhere (another person's, or forged to start before everything)
    # positions the list; it never widens it
    other = world.client("thuky").get("/api/overdue?limit=1").json()["next"]
    forged = encode_cursor("days", False, ["2000-01-01T00:00:00+00:00", ""])
    for cursor in (other, forged):
        got = c.get(f"/api/overdue?limit=500&after={cursor}").json()["items"]
        assert {i["unit_id"] for i in got} <= VISIBLE[login]
        html = c.get(f"/qua-han?limit=500&after={cursor}").text
        assert all(any(i.endswith("/" + u) for u in VISIBLE[login]) for i in page_ids(html))


@pytest.mark.parametrize(
    "path",
    [
        "/api/overdue?after=rác",
        "/api/overdue?sort=unit&after="
        + encode_cursor("days", False, ["2022-01-01T00:00:00+00:00", "x"]),
        "/api/summary/units?after=" + encode_cursor("days", False, ["x"]),
        "/api/overdue?limit=0",
        "/api/overdue?limit=501",
        "/qua-han?after=abc",
        "/nguoi?limit=x",
    ],
    ids=[
        "garbage",
        "other-sort",
        "summary-with-a-step-cursor",
        "limit-0",
        "limit-501",
        "page-garbage",
        "page-limit",
    ],
)
def test_bad_cursors_and_limits_are_422_in_vietnamese(world: World, path: str) -> None:
    r = world.client("thuky").get(path)
    assert r.status_code == 422
    assert "after" in r.text or "limit" in r.text


def test_openapi_documents_the_next_cursor(world: World) -> None:
    doc = world.client().get("/openapi.json").json()
    for path in ("/api/overdue", "/api/upcoming", "/api/summary/{by}", "/api/people"):
        params = {p["name"] for p in doc["paths"][path]["get"]["parameters"]}
        assert {"after", "limit"} <= params, path
    page = doc["components"]["schemas"]["StepPage"]
    assert {"items", "total", "next", "limit"} <= set(page["properties"])
    assert "after" in json.dumps(page["properties"]["next"])


BIG_UNITS = 667  # × 15 months late at NOW (January 2021 to March 2022) = 10,005 steps


def big_plan(count: int = BIG_UNITS, when: str = "ngày 25 hằng tháng") -> str:
    """The plan «lon» of the test board's issuer: `count` units, each with a step `when`."""
    units = "\n".join(f"  - {{id: lon-{i:03d}, name: Đoàn lớn {i:03d}}}" for i in range(count))
    return f"""\
id: lon
title: Kế hoạch lớn
issuer: tinh-doan
period: {{from: 1/1/2021, to: 31/12/2022}}
units:
  - {{id: tinh-doan, name: Tỉnh Đoàn}}
{units}
clusters:
  - {{id: cum-lon, name: Cụm lớn, head: lon-000, members: [lon-000, lon-001, lon-002]}}
obligations:
  - id: bao-cao
    kind: deadline
    title: "=Báo cáo tháng"
    when: {when}
    responsible: [{", ".join(f"lon-{i:03d}" for i in range(count))}]
"""


def test_exports_of_ten_thousand_rows_equal_the_unpaged_list(world: World, tmp_path: Path) -> None:
    (tmp_path / "lon.yaml").write_text(big_plan(), encoding="utf-8")
    load(world.engine, tmp_path / "lon.yaml")
    c = world.client("thuky")
    with read_session(world.engine) as s:
        whole = [x.id for x in queries.overdue(s, queries.EVERYTHING, NOW, Filters(plan="lon"))]
    assert len(whole) == 10_005
    assert ids(walk(c, "/api/overdue?plan=lon", limit=500)) == whole
    r = c.get("/xuat/qua-han.csv?plan=lon&limit=3&after=ignored-by-exports")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row[-1] for row in rows[1:]] == whole
    assert rows[1][2] == "'=Báo cáo tháng"  # still written as text
    sheet = openpyxl.load_workbook(
        io.BytesIO(c.get("/xuat/qua-han.xlsx?plan=lon").content), read_only=True
    ).active
    assert [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)] == whole
    printed = c.get("/in/qua-han?plan=lon").text
    assert "2000 dòng đầu" in printed


# ── the command line ────────────────────────────────────────────────────────────────────────


def test_cli_lists_page_stream_and_read_clusters_from_the_database(
    kehoach_bin: str, db_url: str, world: World, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "noi-khac"  # no plans/ folder here
    elsewhere.mkdir()
    now = ("--now", "2022-04-01T10:00")

    def cli(*args: str) -> Any:
        res = run(kehoach_bin, *args, *now, cwd=elsewhere, url=db_url)
        assert res.returncode == 0, res.stderr
        return res

    res = cli("overdue", "--cluster", "cum-1", "--format", "json")
    listed = json.loads(res.stdout)
    assert {s["unit_id"] for s in listed} == {"doan-a", "doan-b"} and len(listed) == 6
    res = cli("overdue", "--limit", "2")
    assert "Còn 10 bước nữa (tất cả 12)" in res.stderr and "2 bước." in res.stdout
    lines = res.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines.count("cum-thu/bao-cao/2022-01/doan-a") == 1  # the id alone on its line
    everything = json.loads(cli("overdue", "--limit", "0", "--format", "json").stdout)
    rows = list(csv.reader(io.StringIO(cli("overdue", "--limit", "0", "--format", "csv").stdout)))
    assert [r[-1] for r in rows[1:]] == [s["id"] for s in everything] and len(everything) == 12
    assert json.loads(cli("overdue", "--plan", "khac", "--format", "json").stdout) == [
        s for s in everything if s["plan_id"] == "khac"
    ]
    res = cli("agenda", "--days", "60", "--unit", "doan-c", "--format", "csv", "--limit", "1")
    assert len(list(csv.reader(io.StringIO(res.stdout)))) == 2 and "Còn 1 bước nữa" in res.stderr
    bad = run(kehoach_bin, "overdue", "--cluster", "khong-co", cwd=elsewhere, url=db_url)
    assert bad.returncode == 1 and "không có cụm hay nhóm «khong-co»" in bad.stderr


# ── a unit typed instead of picked from thousands ───────────────────────────────────────────


def test_the_list_page_does_not_grow_with_the_units_above_the_limit(
    world: World, tmp_path: Path
) -> None:
    c = world.client("thuky")
    sizes = []
    for units in (queries.MAX_UNIT_CHOICES + 1, 2 * queries.MAX_UNIT_CHOICES):
        (tmp_path / "lon.yaml").write_text(big_plan(units, "ngày 15/12/2022"), encoding="utf-8")
        load(world.engine, tmp_path / "lon.yaml")  # each unit a step not yet due
        html = c.get("/qua-han").text
        assert '<select id="f-unit"' not in html and "lon-001" not in html
        assert '<input id="f-unit" type="search" name="unit" value=""' in html
        assert 'placeholder="mã hoặc tên đơn vị"' in html
        sizes.append(len(html))
    assert sizes[0] == sizes[1]
    people = c.get("/nguoi").text
    assert '<input id="feed-unit" type="search" name="unit"' in people
    assert "lon-001" not in people
    # a cluster of three: its units in a drop-down again
    one = c.get("/qua-han?cluster=cum-1").text
    assert '<select id="f-unit"' in one and "Đoàn A</option>" in one
    r = c.get("/sap-den?days=366&unit=doan lon 007")
    assert r.status_code == 303 and r.headers["location"] == "/sap-den?days=366&unit=lon-007"


def location(r: httpx.Response) -> dict[str, list[str]]:
    assert r.status_code == 303, (r.status_code, r.text[:500])
    path, _, query = r.headers["location"].partition("?")
    return {"path": [path], **parse_qs(query)}


def units_listed(html: str) -> list[str]:
    return re.findall(
        r"<tr class=\"[a-z_]+\">\s*<td>[^<]*</td>\s*<td><a[^>]*>[^<]*</a></td>\s*<td>([^<]*)</td>",
        html,
    )


@pytest.mark.parametrize(
    ("typed", "unit"),
    [
        ("doan-b", "doan-b"),
        ("Đoàn B", "doan-b"),
        ("  đoàn b ", "doan-b"),
        ("DOAN B", "doan-b"),
        ("tinh", "tinh-doan"),
        ("Tỉnh", "tinh-doan"),
        ("n C", "doan-c"),
    ],
    ids=["id", "name", "spaces-and-case", "no-marks", "part", "part-with-marks", "unique-part"],
)
def test_a_unit_typed_above_the_limit_filters_the_list(world: World, typed: str, unit: str) -> None:
    world.app.state.max_unit_choices = 3  # thuky sees 4 units
    c = world.client("thuky")
    r = c.get("/qua-han", params={"unit": typed, "min_days": "5", "sort": "unit"})
    if typed != unit:
        assert location(r) == {
            "path": ["/qua-han"],
            "unit": [unit],
            "min_days": ["5"],
            "sort": ["unit"],
        }
        r = c.get(r.headers["location"])
    assert r.status_code == 200
    name = {"doan-b": "Đoàn B", "doan-c": "Đoàn C", "tinh-doan": "Tỉnh Đoàn"}[unit]
    assert f'<input id="f-unit" type="search" name="unit" value="{name}"' in r.text
    assert set(units_listed(r.text)) == ({name} if unit != "tinh-doan" else set())
    assert len(units_listed(r.text)) == (3 if unit != "tinh-doan" else 0)


def test_a_text_matching_several_units_lists_them_and_none_says_so(world: World) -> None:
    world.app.state.max_unit_choices = 3
    c = world.client("thuky")
    r = c.get("/qua-han?unit=%C4%91o%C3%A0n&min_days=5&group=unit")  # «đoàn»
    assert r.status_code == 200
    assert "Có 4 đơn vị khớp «đoàn»; chọn một:" in r.text
    links = re.findall(r'<li><a href="(/qua-han\?[^"]+)">([^<]+)</a>', r.text)
    assert [name for _, name in links] == ["Đoàn A", "Đoàn B", "Đoàn C", "Tỉnh Đoàn"]
    assert "Đoàn X" not in r.text  # another district's unit, outside the scope
    chosen = links[1][0].replace("&amp;", "&")
    assert parse_qs(chosen.partition("?")[2]) == {
        "min_days": ["5"],
        "group": ["unit"],
        "unit": ["doan-b"],
    }
    assert units_listed(c.get(chosen).text) == ["Đoàn B"] * 3
    assert units_listed(r.text) == []  # no list until one is chosen
    # within a cluster filter only that cluster's units match; its few are a drop-down
    r = c.get("/sap-den?days=366&cluster=cum-1&unit=doan")
    assert "Có 2 đơn vị khớp «doan»" in r.text and '<select id="f-unit"' in r.text
    for typed in ("Đoàn Z", "doan-x", "Đoàn X", "!!"):
        r = c.get("/qua-han", params={"unit": typed})
        assert r.status_code == 422, typed
        assert f"Không có đơn vị nào khớp «{typed}» trong các đơn vị bạn được xem." in r.text
        assert f'value="{typed}"' in r.text  # the form keeps what was typed
        assert "doan-x" not in r.text.replace(f"«{typed}»", "").replace(f'"{typed}"', "")


@pytest.mark.parametrize(
    ("login", "outside"),
    [
        ("cumtruong", ["Đoàn C", "doan-c", "Tỉnh Đoàn", "tinh-doan", "Đoàn X", "doan-x", "tinh"]),
        ("bithu", ["Đoàn A", "doan-a", "Đoàn B", "tinh-doan", "doan-x", "Huyện"]),
    ],
)
def test_a_unit_outside_the_scope_is_never_found_by_typing(
    world: World, login: str, outside: list[str]
) -> None:
    world.app.state.max_unit_choices = 0  # text fields for a cluster head and a unit secretary
    c = world.client(login)
    assert '<input id="f-unit"' in c.get("/qua-han").text
    for typed in outside:
        for path in ("/qua-han", "/sap-den"):
            r = c.get(path, params={"unit": typed})
            assert r.status_code == 422, (typed, path)
            assert "Không có đơn vị nào khớp" in r.text
    r = c.get("/qua-han", params={"unit": "Đoàn"})
    if login == "cumtruong":
        assert "Có 2 đơn vị khớp «Đoàn»" in r.text
        assert re.findall(r'<li><a href="/qua-han\?[^"]+">([^<]+)</a>', r.text) == [
            "Đoàn A",
            "Đoàn B",
        ]
    else:
        assert location(r)["unit"] == ["doan-c"]


def test_the_feed_form_takes_a_typed_unit_within_the_scope(world: World) -> None:
    world.app.state.max_unit_choices = 1
    head = world.client("cumtruong")
    token = api_token(head)
    assert '<input id="feed-unit" type="search" name="unit"' in head.get("/nguoi").text
    made = head.post("/nguoi/lich", data={"csrf": token, "kind": "unit", "unit": "doan b"})
    assert made.status_code == 200 and "Đã tạo lịch" in made.text
    assert "Đoàn B" in head.get("/nguoi").text
    several = head.post(
        "/nguoi/lich", data={"csrf": token, "kind": "unit", "unit": "Đoàn", "label": "họp"}
    )
    assert several.status_code == 200 and "Có 2 đơn vị khớp «Đoàn»" in several.text
    buttons = re.findall(
        r'name="unit" value="([^"]+)"><input type="hidden" name="label" value="họp">', several.text
    )
    assert buttons == ["doan-a", "doan-b"]
    picked = head.post(
        "/nguoi/lich", data={"csrf": token, "kind": "unit", "unit": buttons[0], "label": "họp"}
    )
    assert picked.status_code == 200 and "Đã tạo lịch" in picked.text
    for typed in ("Đoàn C", "doan-c", "Đoàn X"):
        r = head.post("/nguoi/lich", data={"csrf": token, "kind": "unit", "unit": typed})
        assert r.status_code == 422 and f"Không có đơn vị nào khớp «{typed}»" in r.text


def test_small_scopes_keep_the_drop_down_of_units(world: World) -> None:
    html = world.client("thuky").get("/qua-han?unit=doan-b").text
    assert '<input id="f-unit"' not in html
    options = re.findall(
        r'<option value="([^"]*)"( selected)?>', html.split('id="f-unit"')[1].split("</select>")[0]
    )
    assert options[0] == ("", "")  # «Tất cả», then the units in the database's name order
    assert sorted(options[1:]) == [
        ("doan-a", ""),
        ("doan-b", " selected"),
        ("doan-c", ""),
        ("tinh-doan", ""),
    ]
    assert '<select id="feed-unit" name="unit">' in world.client("thuky").get("/nguoi").text


def test_a_unit_whose_name_another_unit_has_shows_its_id(world: World) -> None:
    with write_session(world.engine) as s:  # doan-a and doan-b, both "Đoàn A"
        s.execute(update(units_table).where(units_table.c.id == "doan-b").values(name="Đoàn A"))
    world.app.state.max_unit_choices = 3
    c = world.client("thuky")
    assert (
        '<input id="f-unit" type="search" name="unit" value="doan-b"'
        in c.get("/qua-han?unit=doan-b").text
    )
    assert (
        '<input id="f-unit" type="search" name="unit" value="Đoàn C"'
        in c.get("/qua-han?unit=doan-c").text
    )
    r = c.get("/qua-han", params={"unit": "Đoàn A"})
    assert "Có 2 đơn vị khớp «Đoàn A»" in r.text


def test_a_blank_unit_field_means_every_unit(world: World) -> None:
    """A text field left with only spaces is no filter (its hint says «để trống: tất cả»),
    on the lists and the API alike; it was taken for a unit named «» and answered 422."""
    world.app.state.max_unit_choices = 3
    c = world.client("thuky")
    for path, days in (("/qua-han", {}), ("/sap-den", {"days": "366"})):
        every = c.get(path, params=days)
        blank = c.get(path, params={**days, "unit": "   "})
        assert blank.status_code == 200, (path, blank.text[:300])
        assert units_listed(blank.text) == units_listed(every.text) != []
    token_client = world.client("thuky")
    assert (
        token_client.get("/api/overdue", params={"unit": "  "}).json()["total"]
        == (token_client.get("/api/overdue").json()["total"])
    )


def test_the_id_of_a_unit_out_of_scope_is_not_read_again_as_a_name(world: World) -> None:
    """Ids are made from names: «doan-c», out of a cluster head's scope, reads as the words
    «doan c», which an in-scope unit's name may hold. It is not found, not taken for that one."""
    with write_session(world.engine) as s:
        s.execute(update(units_table).where(units_table.c.id == "doan-b").values(name="Đoàn C mới"))
    world.app.state.max_unit_choices = 0
    head = world.client("cumtruong")
    assert location(head.get("/qua-han", params={"unit": "doan c"}))["unit"] == ["doan-b"]
    r = head.get("/qua-han", params={"unit": "doan-c"})
    assert r.status_code == 422 and "Không có đơn vị nào khớp «doan-c»" in r.text
    token = api_token(head)
    r = head.post("/nguoi/lich", data={"csrf": token, "kind": "unit", "unit": "doan-c"})
    assert r.status_code == 422 and "Không có đơn vị nào khớp «doan-c»" in r.text


def test_a_unit_not_found_within_a_cluster_filter_says_so(world: World) -> None:
    world.app.state.max_unit_choices = 3
    r = world.client("thuky").get("/qua-han", params={"cluster": "cum-1", "unit": "Tỉnh"})
    assert r.status_code == 422
    assert (
        "Không có đơn vị nào khớp «Tỉnh» trong các đơn vị bạn được xem thuộc cụm đã chọn." in r.text
    )


def test_a_typed_unit_is_looked_for_outside_any_write_transaction(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching a name compares every unit in scope: the feed form looked for it inside its
    write transaction, holding SQLite's write lock (the clock and the senders waiting)."""
    from kehoach.store.db import WRITE
    from kehoach.web import picker

    real, writing = picker.resolve, []

    def resolve(session: Any, *args: Any, **kwargs: Any) -> Any:
        writing.append(bool(session.connection().get_execution_options().get(WRITE)))
        return real(session, *args, **kwargs)

    monkeypatch.setattr(picker, "resolve", resolve)
    world.app.state.max_unit_choices = 1
    head = world.client("cumtruong")
    made = head.post("/nguoi/lich", data={"csrf": api_token(head), "kind": "unit", "unit": "b"})
    assert made.status_code == 200 and "Đã tạo lịch" in made.text
    assert location(head.get("/qua-han", params={"unit": "doan b"}))["unit"] == ["doan-b"]
    assert writing == [False, False]
