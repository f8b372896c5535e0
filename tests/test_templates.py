"""Every template of every channel (notifiers/templates), in every variant (an amount or not,
late or not, an event, extension granted or refused, with or without a person's name): each
labelled line starts a line of its own. The environments trim the line break after a block
tag (`trim_blocks`), so a block tag that ends a line of text glued the next line to it
(«sắp đến hạnSố tiền: …», «Hạn mới: …Người quyết định»); the source check keeps it from
coming back in a new template."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from notifiers.base import Notification, Recipient
from notifiers.console import ConsoleChannel
from notifiers.email import EmailChannel
from notifiers.rendering import CLIP, clip
from notifiers.telegram_render import TAG, render

TEMPLATES = Path(__file__).resolve().parent.parent / "notifiers" / "templates"
#: Words that begin a line wherever they appear.
LABELS = (
    "Đơn vị:",
    "Hạn:",
    "Diễn ra:",
    "Tình trạng:",
    "Số tiền:",
    "Hạn mới:",
    "Hạn giữ nguyên:",
    "Lý do:",
    "Người quyết định:",
    "Hạn hiện tại:",
    "Xin đến:",
    "<i>(tin gửi muộn",
    "Tin nhắc này gửi muộn",
    "Đã báo lên",
)
STEP = {
    "step_id": "kh/bao-cao/doan-a",
    "plan_id": "kh",
    "title": "Đóng góp kinh phí",
    "kind": "contribution",
    "unit": "doan-a",
    "unit_name": "Đoàn phường A",
    "due_at": "2025-05-30T17:00:00+00:00",
    "due_day": "30/05/2025",
    "moment": "2025-05-23T01:00:00+00:00",
    "skipped": 2,
    "status": "sắp đến hạn",
    "days_late": 0,
    "recipient_name": "Đoàn phường A",
}
EXTENSION = {
    "requested_until": "2025-06-05T17:00:00+00:00",
    "requested_by": "Chị Tư",
    "requested_day": "Thứ Năm, 05/06/2025",
    "reason": "chờ số liệu",
    "until": "2025-06-05T17:00:00+00:00",
    "until_day": "Thứ Năm, 05/06/2025",
    "decided_by": "Quận Đoàn",
}
ITEM = {
    "title": "Báo cáo quý",
    "unit_name": "Đoàn phường A",
    "due_day": "30/05/2025",
    "status": "quá hạn 3 ngày",
}


def variants() -> list[Any]:
    """(purpose, recipient unit, payload) for every combination the templates branch on."""
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    for amount, late, event, person in itertools.product(
        (None, 500000), (False, True), (False, True), (None, "Anh Ba")
    ):
        step = {**STEP, "amount": amount, "late": late, "event": event, "person_name": person}
        out += [
            ("reminder", None, step),
            ("reminder", None, {**step, "moment": "2025-05-30T01:00:00+00:00"}),  # today
            ("escalation", None, step),
            ("escalation", "quan-doan", step),
        ]
        out += [
            ("extension_asked", None, {**step, **EXTENSION}),
            *[
                ("extension_decided", None, {**step, **EXTENSION, "granted": granted})
                for granted in (False, True)
            ],
        ]
    for late, lost in itertools.product(
        ([], [ITEM, ITEM]), ([], [{"name": "Chị Năm", "email": "nam@x.vn"}])
    ):
        out.append(
            (
                "digest",
                None,
                {
                    "recipient_name": "Đoàn phường A",
                    "date": "02/06/2025",
                    "count": 3,
                    "late": late,
                    "today": [ITEM],
                    "soon": [ITEM],
                    "person_name": "Anh Ba",
                    "lost_links": lost,
                },
            )
        )
    flags = ("amount", "late", "event", "person_name", "granted", "lost_links")
    return [
        pytest.param(
            purpose,
            to,
            p,
            id="-".join([purpose, *(["above"] if to else []), *(f for f in flags if p.get(f))]),
        )
        for purpose, to, p in out
    ]


CONSOLE, EMAIL = ConsoleChannel(), EmailChannel("127.0.0.1")  # their templates compiled once


def rendered(purpose: str, recipient: str | None, payload: dict[str, Any]) -> dict[str, str]:
    n = Notification(
        7, "k", recipient or "doan-a", purpose, 1, payload, 1, Recipient(1, "Anh Ba", "42")
    )
    texts = {f"telegram {i}": TAG.sub("", part.text) for i, part in enumerate(render(n))}
    texts["console"] = CONSOLE.render(n)
    subject, text, _ = EMAIL.render(n)
    return {**texts, "email subject": subject, "email": text}


@pytest.mark.parametrize(("purpose", "recipient", "payload"), variants())
def test_every_labelled_line_starts_a_line(
    purpose: str, recipient: str | None, payload: dict[str, Any]
) -> None:
    for where, text in rendered(purpose, recipient, payload).items():
        assert "{" not in text and "\n\n\n" not in text, (where, text)
        if where in ("console", "email subject"):  # one line (a console digest: one an item)
            lines = text.split("\n")
            assert len(lines) == 1 or (
                purpose == "digest" and all(line.startswith("  - ") for line in lines[1:])
            ), (where, text)
            continue
        for label in LABELS:
            for found in re.finditer(re.escape(label), text):
                start = text.rfind("\n", 0, found.start()) + 1
                assert not text[start : found.start()].strip(), (where, label, text)


def test_no_block_tag_ends_a_line_of_text() -> None:
    """A block tag at the end of a line stands alone on it: trim_blocks would eat the line
    break after it (`{% set … %}…{% endset %}` lines print nothing and may)."""
    alone = re.compile(r"\s*(\{%.*?%\}\s*)+")
    wrong = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line}"
        for path in sorted(TEMPLATES.rglob("*.*"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if line.rstrip().endswith("%}")
        and not alone.fullmatch(line)
        and not line.lstrip().startswith("{% set ")
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("purpose", "recipient"),
    [("reminder", None), ("escalation", "quan-doan"), ("extension_asked", None)],
)
def test_a_very_long_title_is_cut_alike_in_telegram_and_in_email_subjects(
    purpose: str, recipient: str | None
) -> None:
    title = "Báo cáo kết quả thực hiện " * 400
    texts = rendered(
        purpose,
        recipient,
        {
            **STEP,
            **EXTENSION,
            "title": title,
            "amount": None,
            "late": False,
            "event": False,
            "person_name": None,
        },
    )
    assert clip(title) in texts["telegram 0"] and clip(title) in texts["email subject"]
    assert len(texts["email subject"]) < CLIP + 100
