"""Plans from the browser (kehoach/web/plans.py) over real HTTP, on SQLite and PostgreSQL:
upload a plan's text, answer the questions, preview, publish; edit and republish; every
version downloadable; bad uploads refused with nothing stored; two editors never overwrite
each other; only the secretaries of the issuing body get in."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from engine.loader import parse_plan
from kehoach.store import read_session
from kehoach.store.models import drafts_table, steps_table, transitions_table, versions_table
from tests.test_web import World, csrf_of, world  # noqa: F401  (the fixture)

PLAN_TEXT = """\
TỈNH ĐOÀN THỬ
Số: 12-KH/TĐTN
Thành phố Thử, ngày 15 tháng 3 năm 2022
KẾ HOẠCH
Tổ chức các hoạt động của Cụm Một năm 2022
I. MỤC ĐÍCH, YÊU CẦU
- Nâng cao chất lượng hoạt động của các đơn vị trong cụm.
II. NỘI DUNG
1. Hội nghị sơ kết công tác Đoàn 6 tháng đầu năm <script>alert(1)</script>
- Thời gian: 08g00, ngày 19/5/2022.
- Địa điểm: Hội trường Tỉnh Đoàn.
- Đoàn A phụ trách nội dung hội nghị.
2. Báo cáo kết quả hoạt động
- Đoàn B gửi báo cáo kết quả về Tỉnh Đoàn trước ngày 30/5/2022.
3. Lớp tập huấn kỹ năng
- Dự kiến tháng 9 năm 2022.
III. TỔ CHỨC THỰC HIỆN
- Đoàn A, Đoàn B thực hiện kế hoạch này.
"""
PLAN_ID = "ke-hoach-to-chuc-cac-hoat-dong-cua-cum-mot-nam-2022"
SECRETARY_PAGES = [
    "/ke-hoach",
    "/ke-hoach/moi",
    "/ke-hoach/nhap/{draft}",
    "/ke-hoach/nhap/{draft}/xem-truoc",
    "/ke-hoach/kiem-tra-thoi-gian",
    "/ke-hoach/{plan}",
    "/ke-hoach/{plan}/phien-ban/1.yaml",
]


def upload(c: httpx.Client, content: bytes, name: str = "ke-hoach.txt") -> httpx.Response:
    token = csrf_of(c.get("/ke-hoach/moi").text)
    return c.post("/ke-hoach/moi", data={"csrf": token}, files={"tep": (name, content)})


def form_of(html: str) -> dict[str, list[str]]:
    """The draft form's fields as a browser would submit them unchanged."""
    form = re.search(
        r'<form method="post" action="/ke-hoach/nhap/\d+" class="draft".*?</form>', html, re.S
    )
    assert form, "no draft form"
    out: dict[str, list[str]] = {}
    for tag in re.finditer(
        r"<select\b([^>]*)>(.*?)</select>|<input\b([^>]*)>", form.group(0), re.S
    ):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1) or tag.group(3)))
        name = attrs.get("name")
        if not name:
            continue
        if tag.group(1) is not None:
            out[name] = re.findall(r'<option value="([^"]*)" selected>', tag.group(2))
        elif attrs.get("type") == "checkbox":
            if " checked" in tag.group(3):
                out[name] = [attrs.get("value", "on")]
        else:
            out[name] = [attrs.get("value", "")]
    return out


def submit(
    c: httpx.Client, draft: int, fields: dict[str, list[str]], **changes: str
) -> httpx.Response:
    data: dict[str, list[str]] = {k: vs for k, vs in fields.items() if k not in changes}
    data.update({k: [v] for k, v in changes.items()})
    return c.post(f"/ke-hoach/nhap/{draft}", data=data)


def drafted(world: World) -> tuple[httpx.Client, int]:
    c = world.client("thuky")
    r = upload(c, PLAN_TEXT.encode())
    assert r.status_code == 303, r.text[:500]
    return c, int(r.headers["location"].rsplit("/", 1)[1])


def count(world: World, table: object) -> int:
    with read_session(world.engine) as s:
        return int(s.execute(select(func.count()).select_from(table)).scalar_one())


def test_upload_answer_preview_publish_then_edit(world: World) -> None:
    started = datetime.now()
    c, draft = drafted(world)
    page = c.get(f"/ke-hoach/nhap/{draft}")
    assert page.status_code == 200
    html = page.text
    assert "&lt;script&gt;" in html and "<script>alert" not in html  # uploaded text escaped
    assert "còn 2 câu hỏi chưa trả lời" in html and "<mark>" in html
    # the units of the text are the known ones (by name), the issuer is the secretary's body
    assert 'value="doan-a" selected>đã có: Đoàn A' in html
    # publishing is refused while a question is open
    refused = c.post(
        f"/ke-hoach/nhap/{draft}/cong-bo", data={"csrf": csrf_of(html), "revision": "1"}
    )
    assert refused.status_code == 422 and "chưa trả lời" in refused.text
    fields = form_of(html)
    training = next(k[:-5] for k, v in fields.items() if k.endswith("-when") and "tháng 9" in v[0])
    # a wrong date is shown on the item it concerns, in Vietnamese
    r = submit(c, draft, fields, **{f"{training}-when": "ngày 31/9/2022"})
    assert r.status_code == 303, re.findall(r"<(?:p|h1)[^>]*>(.*?)</", r.text)
    again = c.get(f"/ke-hoach/nhap/{draft}").text
    assert "ngày 31/09/2022 không tồn tại" in again
    fields = form_of(again)
    r = submit(
        c,
        draft,
        fields,
        **{
            f"{training}-when": "ngày 15/9/2022",
            f"{training}-title": "Lớp tập huấn kỹ năng",
            f"{training}-responsible": "doan-a",
            "answered-0": "1",
            "answered-1": "1",
            "next": "preview",
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/xem-truoc"), r.text[:300]
    preview = c.get(r.headers["location"])
    assert preview.status_code == 200 and "Tháng 9/2022" in preview.text
    assert "Lớp tập huấn kỹ năng · Đoàn A" in preview.text
    published = c.post(
        f"/ke-hoach/nhap/{draft}/cong-bo",
        data={"csrf": csrf_of(preview.text), "revision": "3", "feed": "1"},
    )
    assert published.status_code == 303, published.text[:400]
    assert published.headers["location"] == f"/ke-hoach/{PLAN_ID}"
    plan_page = c.get(published.headers["location"]).text
    assert "Đã công bố phiên bản 1" in plan_page and "/lich/" in plan_page
    print(f"\nupload → published: {(datetime.now() - started).total_seconds():.2f} s")

    with read_session(world.engine) as s:
        steps = {
            r.id: r for r in s.execute(select(steps_table).where(steps_table.c.plan_id == PLAN_ID))
        }
    assert {r.unit_id for r in steps.values()} == {"doan-a", "doan-b"}
    [training_step] = [r for r in steps.values() if r.due_date.isoformat() == "2022-09-15"]
    assert training_step.unit_id == "doan-a" and training_step.title == "Lớp tập huấn kỹ năng"
    # the version's text is the YAML `kehoach load` reads: the same plan
    text = c.get(f"/ke-hoach/{PLAN_ID}/phien-ban/1.yaml").text
    plan = parse_plan(text, "tải về")
    assert plan.issuer == "tinh-doan" and plan.id == PLAN_ID
    assert PLAN_ID in c.get("/ke-hoach").text
    # the people of its units not linked to Telegram get one-time invite codes, once
    assert "Anh Cụm Trưởng — Đoàn A" in plan_page
    codes = c.post(f"/ke-hoach/{PLAN_ID}/ma-moi", data={"csrf": csrf_of(plan_page)})
    assert codes.status_code == 200
    # the page names every chat channel a code links, and the codes' real lifetime
    assert "Mã mời liên kết Telegram hoặc Zalo" in codes.text
    from kehoach.chat.links import INVITE_TTL

    assert f"hết hạn sau {INVITE_TTL.days} ngày" in codes.text
    found = re.findall(r"/start ([A-Za-z0-9_-]{20,})", codes.text)
    assert len(found) == 2 and len(set(found)) == 2  # Anh Cụm Trưởng (Đoàn A), Đoàn B's member
    # the overdue list shows the new plan's steps once they are late
    world.clock[0] = datetime(2022, 6, 5, 3, tzinfo=world.clock[0].tzinfo)
    c = world.client("thuky")  # two months on: a new session
    overdue = c.get("/api/overdue").json()["items"]
    assert any(s["plan_id"] == PLAN_ID for s in overdue), overdue

    # edit: move the training, publish version 2; the step moves, audited, nothing reopened
    r = c.post(
        f"/ke-hoach/{PLAN_ID}/sua", data={"csrf": csrf_of(c.get(f"/ke-hoach/{PLAN_ID}").text)}
    )
    assert r.status_code == 303
    edit = int(r.headers["location"].rsplit("/", 1)[1])
    fields = form_of(c.get(r.headers["location"]).text)
    training = next(k[:-5] for k, v in fields.items() if k.endswith("-when") and "15/9" in v[0])
    r = submit(
        c,
        edit,
        fields,
        **{
            f"{training}-when": "ngày 22/9/2022",
            f"{training}-reminders": "3 tuần",
            f"{training}-time": "25g00",
        },
    )
    assert "giờ 25:00 không tồn tại" in c.get(f"/ke-hoach/nhap/{edit}").text  # on its item
    fields = form_of(c.get(f"/ke-hoach/nhap/{edit}").text)
    assert fields[f"{training}-reminders"] == ["3 tuần"]
    r = submit(c, edit, fields, **{f"{training}-time": "14h00", "next": "preview"})
    preview = c.get(r.headers["location"]).text
    assert "Đổi hạn: 1 bước" in preview
    r = c.post(f"/ke-hoach/nhap/{edit}/cong-bo", data={"csrf": csrf_of(preview), "revision": "3"})
    assert r.status_code == 303
    with read_session(world.engine) as s:
        moved = [
            r
            for r in s.execute(select(steps_table).where(steps_table.c.plan_id == PLAN_ID))
            if r.id == training_step.id
        ]
        changes = (
            s.execute(
                select(transitions_table.c.event).where(transitions_table.c.step_id == moved[0].id)
            )
            .scalars()
            .all()
        )
        numbers = s.execute(
            select(versions_table.c.number, versions_table.c.published_by).where(
                versions_table.c.plan_id == PLAN_ID
            )
        ).all()
    assert moved[0].due_date.isoformat() == "2022-09-22" and "changed" in changes
    assert sorted(n for n, _ in numbers) == [1, 2] and all(
        "Chị Thư Ký" in (b or "") for _, b in numbers
    )
    v1 = yaml.safe_load(c.get(f"/ke-hoach/{PLAN_ID}/phien-ban/1.yaml").text)
    v2 = yaml.safe_load(c.get(f"/ke-hoach/{PLAN_ID}/phien-ban/2.yaml").text)
    assert v1 != v2 and "22/9/2022" in str(v2) and "'reminders': ['3 tuần']" in str(v2)
    assert moved[0].due_time.isoformat() == "14:00:00"


def test_second_save_of_one_draft_is_refused_not_overwritten(world: World) -> None:
    c, draft = drafted(world)
    other = world.client("thuky")
    fields = form_of(c.get(f"/ke-hoach/nhap/{draft}").text)
    fields_other = form_of(other.get(f"/ke-hoach/nhap/{draft}").text)
    title = next(k for k in fields if k.endswith("-title"))
    assert submit(c, draft, fields, **{title: "Tên của người thứ nhất"}).status_code == 303
    late = submit(other, draft, fields_other, **{title: "Tên của người thứ hai"})
    assert late.status_code == 409 and "đã có người sửa" in late.text
    assert "Tên của người thứ nhất" in c.get(f"/ke-hoach/nhap/{draft}").text


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


BAD = [
    ("image-as-docx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "ke-hoach.docx", "tệp nhị phân"),
    (
        "encrypted-word",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500,
        "ke-hoach.docx",
        "mật khẩu",
    ),
    ("broken-zip", b"PK\x03\x04" + b"rac" * 50, "ke-hoach.docx", "bị hỏng"),
    ("zip-not-word", zip_bytes({"a.txt": b"x"}), "ke-hoach.docx", "không phải tệp Word"),
    (
        "zip-bomb",
        zip_bytes({"word/document.xml": b"0" * (101 * 2**20)}),
        "ke-hoach.docx",
        "giải nén ra quá",
    ),
    ("html", b"<!DOCTYPE html><html><body>Ke hoach</body></html>", "ke-hoach.txt", "HTML"),
    ("empty", b"   \n", "ke-hoach.txt", "rỗng"),
    ("too-big", b"a" * (11 * 2**20), "ke-hoach.txt", "quá lớn (tối đa 10 MiB)"),
]


@pytest.mark.parametrize("content,name,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_with_nothing_stored(
    world: World, content: bytes, name: str, message: str
) -> None:
    c = world.client("thuky")
    r = upload(c, content, name)
    assert r.status_code in (400, 413), r.status_code
    assert message in r.text and "Traceback" not in r.text
    assert count(world, drafts_table) == 0


@pytest.mark.parametrize("login", ["cumtruong", "bithu", "khac"])
def test_only_the_issuing_bodys_secretaries_reach_plans(world: World, login: str) -> None:
    _, draft = drafted(world)
    c = world.client(login)
    for template in SECRETARY_PAGES:
        if login == "khac" and "{" not in template:  # a secretary, of another body
            continue
        path = template.format(draft=draft, plan="cum-thu")
        assert c.get(path).status_code == 404, (login, path)
    token = c.get("/api/me").json()["csrf_token"]
    for path in (
        f"/ke-hoach/nhap/{draft}",
        f"/ke-hoach/nhap/{draft}/cong-bo",
        "/ke-hoach/cum-thu/sua",
    ):
        r = c.post(path, data={"csrf": token, "revision": "1"})
        assert r.status_code == 404, (login, path)
    if login != "khac":
        r = c.post(
            "/ke-hoach/moi", data={"csrf": token}, files={"tep": ("a.txt", PLAN_TEXT.encode())}
        )
        assert r.status_code == 404
        assert count(world, drafts_table) == 1
    assert "cum-thu" not in c.get("/ke-hoach").text


def test_date_phrases_are_checked_as_typed(world: World) -> None:
    c, draft = drafted(world)
    good = c.get(
        "/ke-hoach/kiem-tra-thoi-gian", params={"when": "ngày 25 hằng tháng", "draft": draft}
    ).json()
    assert good["ok"] and "25/04/2022" in good["message"]
    bad = c.get(
        "/ke-hoach/kiem-tra-thoi-gian", params={"when": "ngày 30/2/2022", "draft": draft}
    ).json()
    assert not bad["ok"] and "không tồn tại" in bad["message"]
