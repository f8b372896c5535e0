"""The board in a real browser: headless Chromium (Debian's `chromium` package) driven by
Playwright, against the board on a loopback port, on SQLite and PostgreSQL. A secretary logs
in, filters the overdue list, marks a step done and downloads the XLSX export.

Chromium is a system package, installed by `make deps` (and by .ci/run), never by a test:
when it is missing the test fails with that instruction; it is never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.test_web import PASSWORD, World, world  # noqa: F401  (the fixture)

CHROMIUM = Path(os.environ.get("KEHOACH_CHROMIUM") or "/usr/bin/chromium")  # tests of the test


INSTALL = "make deps   (or, as root: apt-get update && apt-get install chromium)"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: this test drives Debian's chromium. Install it "
            f"with: {INSTALL}",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    """Per test, not per session: Playwright's sync API keeps an asyncio loop running while
    it is open, and later tests that call asyncio.run() would fail."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(chromium), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, world: World) -> Iterator[Page]:
    context = browser.new_context(base_url=world.base, accept_downloads=True, locale="vi-VN")
    yield context.new_page()
    context.close()


def test_secretary_logs_in_filters_marks_done_and_downloads_xlsx(
    page: Page, world: World, tmp_path: Path
) -> None:
    refused: list[str] = []  # what the Content-Security-Policy blocked
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.goto("/qua-han")
    expect(page).to_have_url(f"{world.base}/dang-nhap?next=%2Fqua-han")
    page.get_by_label("Tên đăng nhập").fill("thuky")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{world.base}/qua-han")
    expect(page.get_by_role("heading", name="Việc quá hạn")).to_be_visible()
    expect(page.locator("main table tbody tr")).to_have_count(9)

    page.get_by_label("Cụm", exact=True).select_option(label="Cụm Một")
    page.get_by_label("Trễ ít nhất (ngày)").fill("30")
    page.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(
        f"{world.base}/qua-han?plan=&unit=&cluster=cum-1&min_days=30&sort=days&group="
    )
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(4)
    expect(page.get_by_text("4 việc.")).to_be_visible()
    page.screenshot(path=str(tmp_path / "qua-han.png"), full_page=True)

    first = rows.first.get_by_role("link")
    step_id = first.get_attribute("href").removeprefix("/buoc/")  # type: ignore[union-attr]
    first.click()
    page.get_by_label("Ghi chú (không bắt buộc)").fill("nộp qua trình duyệt")
    page.get_by_role("button", name="Đánh dấu hoàn thành").click()
    expect(page.get_by_role("status")).to_have_text("Đã đánh dấu hoàn thành.")
    expect(page.locator(".facts .status")).to_contain_text("xong trễ")
    row = world.step(step_id)
    assert row.state == "done"  # type: ignore[attr-defined]

    page.go_back()
    page.go_back()
    page.reload()
    expect(rows).to_have_count(3)
    with page.expect_download() as caught:
        page.get_by_role("link", name="Excel (XLSX)").click()
    download = caught.value
    assert download.suggested_filename == "qua-han-2022-04-01.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    ids = [r[-1] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(ids) == 3 and step_id not in ids
    assert {r[5] for r in sheet.iter_rows(min_row=2, values_only=True)} == {"Cụm Một"}

    page.goto("/in/qua-han")  # the print button's script is a file the policy allows
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes' }")
    page.get_by_role("button", name="In trang này").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    assert refused == []


def test_summary_charts_draw_one_bar_a_month(page: Page, world: World) -> None:
    """At 1/4/2022 the test plan's deadlines of January, February and March are past: three
    bars in each chart, with the numbers in the table beside it; no script on the page."""
    page.goto("/tong-hop/cum")
    page.get_by_label("Tên đăng nhập").fill("thuky")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{world.base}/tong-hop/cum")
    cluster = page.locator("figure.chart", has_text="Cụm Một: tỉ lệ đúng hạn theo tháng")
    expect(cluster.locator("svg g.bar")).to_have_count(3)
    expect(cluster.locator("svg rect")).to_have_count(3)
    expect(cluster.locator("table tbody tr")).to_have_count(3)
    expect(cluster.locator("svg")).to_be_visible()
    late = page.locator("figure.chart", has_text="Số việc trễ hạn theo tháng")
    expect(late.locator("svg g.bar")).to_have_count(3)
    expect(late.locator("table tbody tr").first).to_contain_text("01/2022")
    expect(late.locator("table tbody tr").first).to_contain_text("3")
    assert page.locator("script").count() == 0
    page.goto("/tong-hop/don-vi")  # a secretary also sees each plan's rate
    plan = page.locator("figure.chart", has_text="Kế hoạch của cụm thử: tỉ lệ đúng hạn")
    expect(plan.locator("svg g.bar")).to_have_count(3)
    box = plan.locator("svg rect").first.bounding_box()
    assert box is not None and box["height"] >= 0


def test_a_unit_is_typed_when_the_scope_is_too_large_for_a_drop_down(
    page: Page, world: World
) -> None:
    """Above the limit of a drop-down (lowered here to 3 units; the secretary sees 4) the unit
    is typed, without marks if need be; a text that names several lists them as links."""
    world.app.state.max_unit_choices = 3
    page.goto("/qua-han")
    page.get_by_label("Tên đăng nhập").fill("thuky")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    field = page.get_by_label("Đơn vị", exact=True)
    expect(field).to_have_attribute("placeholder", "mã hoặc tên đơn vị")
    field.fill("doan b")
    page.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(f"{world.base}/qua-han?sort=days&unit=doan-b")  # the empty left out
    expect(page.locator("main table tbody tr")).to_have_count(3)
    expect(page.get_by_label("Đơn vị", exact=True)).to_have_value("Đoàn B")

    page.get_by_label("Đơn vị", exact=True).fill("Đoàn")
    page.get_by_role("button", name="Lọc").click()
    expect(page.get_by_role("alert")).to_contain_text("Có 4 đơn vị khớp «Đoàn»; chọn một:")
    page.get_by_role("alert").get_by_role("link", name="Đoàn C").click()
    expect(page.locator("main table tbody tr")).to_have_count(3)
    expect(page.locator("main table tbody tr").first).to_contain_text("Đoàn C")
    assert page.locator("script").count() == 0
