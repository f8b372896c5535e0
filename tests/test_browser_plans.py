"""A new secretary puts a plan in from its text file in headless Chromium: upload, answer every
question, preview, publish; the steps are stored, the overdue list and the plan's calendar feed
show them; then one obligation's date is edited and republished, and the feed's event moves
with a higher SEQUENCE. The time of the flow is printed (not asserted)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import icalendar
from playwright.sync_api import Page, expect

from tests.test_browser import browser, chromium, page  # noqa: F401  (the fixtures)
from tests.test_plans_web import PLAN_ID, PLAN_TEXT
from tests.test_web import PASSWORD, World, world  # noqa: F401

TRAINING = "Lớp tập huấn kỹ năng"


def event(feed: str, summary: str) -> icalendar.Event:
    cal = icalendar.Calendar.from_ical(httpx.get(feed, timeout=30).content)
    found = [e for e in cal.walk("VEVENT") if summary in str(e["SUMMARY"])]
    assert len(found) == 1, [str(e["SUMMARY"]) for e in cal.walk("VEVENT")]
    return found[0]


def answer_and_publish(page: Page, when: str) -> None:
    fields = page.locator("fieldset.obligation").filter(has=page.locator("input.when"))
    training = fields.filter(
        has=page.locator("input[value*='tháng 9'], input[value*='/9/2022']")
    ).first
    when_input = training.locator("input.when")
    when_input.fill(when)
    expect(training.locator("output.said")).to_contain_text("✓")  # checked as it is typed
    title = training.locator("input[name$='-title']")
    if title.input_value() != TRAINING:
        title.fill(TRAINING)
        training.locator("select[name$='-responsible']").select_option(label="Đoàn A")
    for box in page.get_by_label("Đã xem và sửa xong câu này").all():
        box.check()
    page.get_by_role("button", name="Lưu và xem trước").click()
    expect(page.get_by_role("heading", name="Lịch theo tháng")).to_be_visible()
    page.get_by_role("button", name="Công bố").click()
    expect(page.get_by_role("status")).to_contain_text("Đã công bố phiên bản")


def test_secretary_uploads_answers_publishes_and_edits(
    page: Page, world: World, tmp_path: Path
) -> None:
    source = tmp_path / "ke-hoach-cum-mot.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")
    started = time.perf_counter()
    page.goto("/dang-nhap?next=%2Fke-hoach")
    page.get_by_label("Tên đăng nhập").fill("thuky")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_role("link", name="Tải lên kế hoạch mới (Word hoặc văn bản)").click()
    page.get_by_label("Tệp kế hoạch").set_input_files(str(source))
    page.get_by_role("button", name="Đọc kế hoạch").click()
    expect(page.get_by_role("heading", name="Câu hỏi cần trả lời (2 còn lại)")).to_be_visible()
    expect(page.locator("mark").first).to_be_visible()  # the sentence, in its paragraph
    page.screenshot(path=str(tmp_path / "ban-nhap.png"), full_page=True)
    answer_and_publish(page, "ngày 15/9/2022")
    print(f"\nbrowser, upload → published: {time.perf_counter() - started:.2f} s")
    page.screenshot(path=str(tmp_path / "ke-hoach.png"), full_page=True)
    feed = page.locator("main a[href^='webcal://']").get_attribute("href")
    assert feed
    feed = feed.replace("webcal://", "http://")
    first = event(feed, TRAINING)
    assert (
        first.decoded("DTSTART") in (datetime(2022, 9, 15).date(),)
        or first.decoded("DTSTART").date().isoformat() == "2022-09-15"
    )

    world.clock[0] = datetime(2022, 6, 5, 3, tzinfo=UTC)
    page.goto("/dang-nhap?next=%2Fqua-han")  # two months on: a new session
    page.get_by_label("Tên đăng nhập").fill("thuky")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("main table tbody")).to_contain_text("Đoàn B gửi báo cáo kết quả")

    page.goto(f"/ke-hoach/{PLAN_ID}")
    page.get_by_role("button", name="Sửa kế hoạch (tạo phiên bản mới)").click()
    training = (
        page.locator("fieldset.obligation")
        .filter(has=page.locator("input[value='ngày 15/9/2022']"))
        .first
    )
    training.locator("input.when").fill("ngày 22/9/2022")
    expect(training.locator("output.said")).to_contain_text("22/09/2022")
    page.get_by_role("button", name="Lưu và xem trước").click()
    expect(page.get_by_text("Đổi hạn: 1 bước")).to_be_visible()
    page.get_by_role("button", name="Công bố").click()
    expect(page.get_by_role("status")).to_contain_text("Đã công bố phiên bản 2")
    moved = event(feed, TRAINING)
    start = moved.decoded("DTSTART")
    assert (start.date() if isinstance(start, datetime) else start).isoformat() == "2022-09-22"
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])
    assert moved["UID"] == first["UID"]
