"""The importer's extractors (dates, units, duties) on variants written for these tests, the
whole pipeline on a generated Word file with a table, and `kehoach import` on the command line."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.importing import Draft, import_lines, render
from engine.importing.campaigns import find_campaigns
from engine.importing.dates import Context, Doubt, find_when
from engine.importing.duties import amounts, kind_of, money, percent, quantity
from engine.importing.header import clean, number_and_date, period_of
from engine.importing.units import Units, subject
from engine.loader import parse_plan
from kehoach.cli import main

CTX = Context(year=2025)
DATES = [
    ("Khai mạc lúc 7g30 ngày 05/6/2025 tại hội trường", ["lúc 7g30 ngày 05/6/2025"]),
    ("Sinh hoạt chuyên đề 8h00, ngày 3-9-2025", ["8h00, ngày 3-9-2025"]),
    ("Giao lưu 8 giờ 30 ngày 12.10.2025 ở nhà văn hóa", ["8 giờ 30 ngày 12.10.2025"]),
    ("Tọa đàm vào ngày 7 tháng 11 năm 2025", ["vào ngày 7 tháng 11 năm 2025"]),
    ("Nộp danh sách trước ngày 20/4 năm nay", ["trước ngày 20/4/2025"]),
    ("Dự kiến tháng 10 năm 2025 tổ chức hội trại", ["Dự kiến tháng 10 năm 2025"]),
    ("Sơ kết quý III năm 2025", ["quý III năm 2025"]),
    ("Gửi báo cáo vào ngày 25 hằng tháng", ["vào ngày 25 hằng tháng"]),
    ("Trực thư viện sáng thứ bảy hàng tuần", ["sáng thứ bảy hàng tuần"]),
    ("Đợt 2: từ tháng 8 đến tháng 10 hằng năm", ["Đợt 2: từ tháng 8 đến tháng 10 hằng năm"]),
    ("Dọn vệ sinh công viên 30/4 vào ngày 14/6/2025", ["vào ngày 14/6/2025"]),
    ("Mít tinh mừng Quốc khánh 2/9 lúc 19g00 ngày 01/9/2025", ["lúc 19g00 ngày 01/9/2025"]),
    ("Căn cứ Quyết định số 12/QĐ-UBND ngày 03/01/2025 của UBND", []),
    ("Tổ chức Hội trại 26/3 vào ngày 22/3/2026", ["vào ngày 22/3/2026"]),  # 26/3 names the camp
    ("Tổng kết giai đoạn 2026 - 2030", ["giai đoạn 2026 - 2030"]),
    (
        "Mít tinh lúc 19g00, thứ Bảy ngày 15/3/2025",
        ["lúc 19g00, thứ Bảy ngày 15/3/2025"],
    ),  # weekday checked, kept
    (
        "Hằng tháng, các chi đoàn nộp sổ vào ngày 10.",
        ["Hằng tháng, vào ngày 10"],
    ),  # two places, one rule
]


@pytest.mark.parametrize("sentence, phrases", DATES, ids=[d[0][:28] for d in DATES])
def test_dates_found_as_written(sentence: str, phrases: list[str]) -> None:
    assert [f.phrase for f in find_when(sentence, CTX)] == phrases


@pytest.mark.parametrize(
    "sentence, phrase",
    [
        ("Hội diễn văn nghệ ngày 9/12/2025", "ngày 9/12/2025"),
        ("Tuyên dương chiều thứ sáu hằng tuần", "chiều thứ sáu hằng tuần"),
    ],
)
def test_dates_nfd_and_nbsp(sentence: str, phrase: str) -> None:
    text = unicodedata.normalize("NFD", sentence).replace(" ", "\u00a0")
    assert [f.phrase for f in find_when(clean(text), CTX)] == [phrase]


DOUBTS = [
    ("Hội trại diễn ra ngày 15, 16/8/2025", "khoảng ngày"),  # a range or two days?
    ("Gặp mặt ngày 15/8", "thiếu năm"),  # no year anywhere
    ("Ra quân cuối tuần", None),  # no date word at all: nothing found, nothing doubted
    ("Họp giao ban thứ hai ngày 16/3/2025", "không khớp"),  # 16/3/2025 is a Sunday
]


@pytest.mark.parametrize("sentence, reason", DOUBTS, ids=[d[0][:24] for d in DOUBTS])
def test_ambiguous_dates_are_doubted_not_guessed(sentence: str, reason: str | None) -> None:
    doubts: list[Doubt] = []
    assert find_when(sentence, Context(), doubts) == []
    assert (reason in doubts[0].reason) if reason else doubts == []


def test_year_carried_from_context_is_flagged() -> None:
    [found] = find_when("Gặp mặt ngày 15/8", Context(year=2024))
    assert found.phrase == "ngày 15/8/2024" and "ngữ cảnh" in found.flags[0]


UNITS = [
    ("Đoàn Trường Cao đẳng Y tế chủ trì tổ chức hội thao.", "Đoàn Trường Cao đẳng Y tế"),
    ("+ Hội Liên hiệp Thanh niên phường phối hợp thực hiện.", "Hội Liên hiệp Thanh niên phường"),
    ("Giao Ban Tuyên giáo Huyện đoàn theo dõi, tổng hợp.", "Ban Tuyên giáo Huyện đoàn"),
    ("- Phòng Văn hóa: hỗ trợ âm thanh.", "Phòng Văn hóa"),
    ("Hội nghị tổng kết được tổ chức vào cuối năm.", None),
    ("Các chi đoàn trực thuộc đăng ký danh sách.", "Các chi đoàn trực thuộc"),
    ("Các chi đoàn sinh hoạt vào thứ Bảy hàng tuần.", "Các chi đoàn"),  # «sinh hoạt» is a verb
    (
        "Chi đoàn học sinh khối 10 tổ chức cắm trại.",
        "Chi đoàn học sinh khối 10",
    ),  # «học sinh» is not
    ("Văn phòng Huyện Đoàn tổng hợp báo cáo.", "Văn phòng Huyện Đoàn"),
    ("Hội thao truyền thống vào ngày 15/5/2026.", None),  # an event, not an association
]


@pytest.mark.parametrize("sentence, unit", UNITS, ids=[u[0][:24] for u in UNITS])
def test_responsible_unit(sentence: str, unit: str | None) -> None:
    assert subject(sentence) == unit


def test_units_deduplicated_with_ids_from_names() -> None:
    u = Units()
    a = u.add("Ban Thường vụ Huyện Đoàn")
    assert u.add("BTV Huyện Đoàn") == a == u.add("Huyện Đoàn")
    assert u.add("Đoàn Sở Xây dựng Thành phố") == u.add("Đoàn Sở Xây dựng")
    assert a == "ban-thuong-vu-huyen-doan"


KINDS = [
    ("Nộp báo cáo sơ kết về Văn phòng", "deadline"),
    ("Mỗi chi đoàn đóng góp 200.000 đồng", "contribution"),
    ("Phấn đấu 95% đoàn viên tham gia", "target"),
    ("Đợt 1 ra quân tình nguyện", "phase"),
    ("Ban hành kế hoạch năm", "milestone"),
    ("Hội thao truyền thống", "event"),
]


@pytest.mark.parametrize("sentence, kind", KINDS, ids=[k[1] for k in KINDS])
def test_duty_kind(sentence: str, kind: str) -> None:
    assert kind_of(sentence, "") == kind


def test_amounts_quantities_percent() -> None:
    assert money("mức đóng 1.200.000 đồng/chi đoàn") == "1.200.000 đồng"
    assert amounts("(Đoàn A: 300.000 đồng; Đoàn B, Đoàn C: 200.000 đồng)") == [
        (["Đoàn A"], "300.000 đồng"),
        (["Đoàn B", "Đoàn C"], "200.000 đồng"),
    ]
    assert quantity("Mỗi năm xây 03 nhà nhân ái cho hộ nghèo") == (3.0, "nhà nhân ái")
    assert percent("đạt 87,5% trở lên") == 87.5


def test_issuer_from_letterhead() -> None:
    from engine.importing.header import issuer_of

    lines = [
        "UBND XÃ BÌNH AN",
        "BAN CHỈ HUY QUÂN SỰ XÃ",
        "Số: 3/KH-BCH  Bình An, ngày 2 tháng 1 năm 2026",
        "KẾ HOẠCH",
        "Huấn luyện dân quân năm 2026",
    ]
    assert (
        issuer_of(lines) == "Ban Chỉ Huy Quân Sự Xã"
    )  # the issuing body stands under its superior


def test_header() -> None:
    assert number_and_date("Số: 12-KH/ĐTN     Cần Thơ, ngày 03 tháng 3 năm 2025") == (
        "12-KH/ĐTN",
        "03/03/2025",
    )
    assert period_of("Kế hoạch công tác năm 2025", None) == "2025"


PLAN = """KẾ HOẠCH
Tổ chức Tháng Thanh niên năm 2025

I. MỤC ĐÍCH, YÊU CẦU
- Góp phần hoàn thành chương trình năm 2025.
II. NỘI DUNG
1. Lễ ra quân:
- Thời gian: 7g00, ngày 02/3/2025.
- Phân công thực hiện:
+ Đoàn phường Tân Phú chủ trì tổ chức.
+ Các chi đoàn cử 20 đoàn viên tham gia và đóng góp kinh phí (300.000 đồng/đơn vị).
2. Báo cáo kết quả về Ban Thường vụ trước ngày 31/3/2025.
3. Định kỳ kiểm tra việc thực hiện.
Nơi nhận:
- Quận Đoàn;
- Lưu VP.
"""


def test_pipeline_draft_passes_check_and_keeps_lines() -> None:
    draft = import_lines(list(enumerate(PLAN.splitlines(), 1)), "t.txt")
    text = render(draft)
    plan = parse_plan(text)  # `kehoach check` accepts the draft as written
    assert {d.phrase for d in plan.duties} == {"7g00, ngày 02/3/2025", "trước ngày 31/3/2025"}
    kinds = sorted(o.kind for o in draft.obligations)
    assert kinds == ["contribution", "deadline", "event", "event"]
    assert "# dòng 10 · độ tin cậy" in text and "CẦN XEM LẠI" in text
    reasons = " ".join(r.reason for r in draft.review)
    assert "mục đích" in reasons and "định kỳ" in reasons  # dated goal, period without a cycle
    assert ("quan-doan", "Quận Đoàn", "nơi nhận") in draft.units


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("KẾ HOẠCH")
    d.add_paragraph("Hoạt động hè năm 2025")
    d.add_paragraph("")
    d.add_paragraph().add_run("I. LỊCH HOẠT ĐỘNG").bold = True
    d.add_paragraph("Báo cáo tổng kết hè trước ngày 30/8/2025.", style="List Bullet")
    p = d.add_paragraph("- Hội thao: ngày 15/8/2025.")
    p.add_run().add_break()  # a soft line break: one paragraph, two lines
    p.add_run("- Lễ tuyên dương: ngày 25/8/2025.")
    table = d.add_table(rows=3, cols=3)
    for row, cells in zip(
        table.rows,
        [
            ("Nội dung", "Thời gian", "Đơn vị thực hiện"),
            ("Khai mạc hè", "7g30 ngày 01/6/2025", "Đoàn phường An Bình"),
            ("Hội trại thiếu nhi", "ngày 20/7/2025", "Liên đội An Bình"),
        ],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    d.save(str(path))


def test_cli_imports_docx_with_table(tmp_path: Path) -> None:
    source, out = tmp_path / "ke-hoach.docx", tmp_path / "draft.yaml"
    make_docx(source)
    result = CliRunner().invoke(main, ["import", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    plan = parse_plan(out.read_text(encoding="utf-8"))
    phrases = {d.phrase: d for d in plan.duties}
    assert set(phrases) == {
        "trước ngày 30/8/2025",
        "7g30 ngày 01/6/2025",
        "ngày 20/7/2025",
        "ngày 15/8/2025",
        "ngày 25/8/2025",
    }
    assert phrases[
        "ngày 25/8/2025"
    ].position  # placed in the draft; its paragraph is in the comment
    assert plan.units[phrases["ngày 20/7/2025"].responsible[0]] == "Liên đội An Bình"
    assert "Tìm thấy 5 nghĩa vụ" in result.output
    assert out.read_text(encoding="utf-8").count("# dòng 6 ·") == 2  # both lines of paragraph 6


def test_cli_reads_a_letterhead_table_and_a_plan_for_one_activity(tmp_path: Path) -> None:
    """Word letterheads are a two-column table: the issuer's lines left, the place and date right.
    A plan for one activity gives its time under a part's heading («I. NỘI DUNG»): the activity
    is the plan's own, whatever else the part dates."""
    import docx

    d = docx.Document()
    head = d.add_table(rows=2, cols=2)
    head.cell(0, 0).text = "QUẬN ĐOÀN 3\nBCH ĐOÀN PHƯỜNG VÕ THỊ SÁU"
    head.cell(0, 1).text = "ĐOÀN TNCS HỒ CHÍ MINH"
    head.cell(1, 0).text = "Số: 04-KH/ĐP"
    head.cell(1, 1).text = "Quận 3, ngày 12 tháng 01 năm 2026"
    d.add_paragraph().add_run("KẾ HOẠCH").bold = True
    d.add_paragraph().add_run("Tổ chức Ngày hội Thanh niên khỏe năm 2026").bold = True
    d.add_heading("I. NỘI DUNG", level=1)
    d.add_paragraph("Thời gian: 7g00 ngày 29/3/2026 (Chủ nhật).", style="List Bullet")
    d.add_paragraph("Các chi đoàn đăng ký vận động viên trước ngày 20/3/2026.", style="List Bullet")
    d.add_heading("II. KINH PHÍ", level=1)
    d.add_paragraph(
        "Mỗi chi đoàn đóng góp 300.000 đồng, nộp trước ngày 25/3/2026.", style="List Bullet"
    )
    source, out = tmp_path / "ngay-hoi.docx", tmp_path / "draft.yaml"
    d.save(str(source))
    result = CliRunner().invoke(main, ["import", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    plan = parse_plan(out.read_text(encoding="utf-8"))
    assert plan.units[plan.issuer] == "BCH Đoàn Phường Võ Thị Sáu"
    got = {d.title: (d.kind, d.phrase) for d in plan.duties}
    assert got == {
        "Tổ chức Ngày hội Thanh niên khỏe năm 2026": ("event", "7g00 ngày 29/3/2026 (Chủ nhật)"),
        "Các chi đoàn đăng ký vận động viên trước ngày 20/3/2026": (
            "deadline",
            "trước ngày 20/3/2026",
        ),
        "Đóng góp kinh phí: Tổ chức Ngày hội Thanh niên khỏe năm 2026": (
            "contribution",
            "trước ngày 25/3/2026",
        ),
    }


@pytest.mark.parametrize(
    "name, content",
    [
        ("x.pdf", b"%PDF"),
        ("x.docx", b"not a zip"),
        ("x.txt", "ngày".encode("cp1258") + b"\xff\xfe\x00"),
    ],
)
def test_cli_unreadable_file_says_so(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["import", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert name in result.output and "không" in result.output


def test_cli_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(tmp_path / "khong-co.docx")])
    assert result.exit_code == 1 and "không tìm thấy tệp" in result.output


def test_nfd_and_nonbreaking_spaces_give_the_same_draft() -> None:
    nfc = [(i, t) for i, t in enumerate(PLAN.splitlines(), 1)]
    nfd = [(i, unicodedata.normalize("NFD", t).replace(" ", "\u00a0", 3)) for i, t in nfc]
    assert render(import_lines(nfd, "t.txt")) == render(import_lines(nfc, "t.txt"))


def test_markdown_table_and_headings() -> None:
    md = [
        "# KẾ HOẠCH",
        "## Công tác hè năm 2026",
        "",
        "### **I. LỊCH**",
        "| Việc | Thời gian | Đơn vị |",
        "|---|:---:|---|",
        "| Tập huấn cán bộ | 14h00 ngày 6/6/2026 | Ban Tổ chức Quận Đoàn |",
    ]
    draft = import_lines(list(enumerate(md, 1)), "t.md")
    [ob] = draft.obligations
    assert (ob.title, ob.when, ob.line) == ("Tập huấn cán bộ", "14h00 ngày 6/6/2026", 7)
    assert {n: u for u, n, _ in draft.units}["Ban Tổ chức Quận Đoàn"] == ob.responsible


def test_cli_progress_bar_on_long_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kehoach import cli_import

    monkeypatch.setattr(cli_import, "LONG", 3)
    path = tmp_path / "k.txt"
    path.write_text(PLAN, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path)])
    assert result.exit_code == 0 and "Tìm thấy 4 nghĩa vụ" in result.output


def test_cli_directory_and_empty_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(tmp_path)])
    assert result.exit_code == 1 and "là một thư mục" in result.output
    empty = tmp_path / "rong.txt"
    empty.write_text(" \n\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(empty), "-o", str(tmp_path / "d.yaml")])
    assert result.exit_code == 1 and "rong.txt" in result.output and "trống" in result.output
    assert not (tmp_path / "d.yaml").exists()  # no draft written from nothing


EDGES = [
    "",
    "-",
    "+ ",
    "1.",
    "II.",
    "| |",
    "|---|",
    "Thời gian:",
    "Thời gian - Địa điểm:",
    "Nơi nhận:",
    "KẾ HOẠCH",
    "ngày 31/2/2025",
    "quý V năm 2024",
    "tháng 13 năm 2024",
    "năm 1800",
    "2024",
    "Yes",
    "từ ngày 5/5/2025",
    "hằng năm, quý",
    "Giai đoạn 3: Từ năm 2031 - 2035",
    "cuối mỗi giai đoạn",
    "(",
    "Mỗi đơn vị đóng góp (Đoàn A: 5 đồng; Đoàn B: 6 đồng)",
    "x" * 3000,
]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from(PLAN.splitlines() + [d[0] for d in DATES] + [d[0] for d in DOUBTS] + EDGES),
        max_size=30,
    )
)
def test_any_mix_of_lines_gives_a_draft_that_check_accepts(lines: list[str]) -> None:
    draft = import_lines(list(enumerate(lines, 1)), "t.txt")
    parse_plan(render(draft))  # never a draft `kehoach check` refuses, even with nothing dated


CAMPAIGNS = [  # sentence, year of a single-year plan, [(name as written, drafted when)]
    (
        "Ra quân Tháng Thanh niên tại các chi đoàn.",
        None,
        [("Tháng Thanh niên", "tháng 3 hằng năm")],
    ),
    ("Các chi hội hưởng ứng tháng nhân đạo.", 2026, [("Tháng nhân đạo", "tháng 5 năm 2026")]),
    (
        "Phát động Tháng hành động vì trẻ em ở khu dân cư",
        None,
        [("Tháng hành động vì trẻ em", "tháng 6 hằng năm")],
    ),
    (
        "Tham gia Chiến dịch tình nguyện Hè của thành phố",
        None,
        [("Chiến dịch tình nguyện Hè", "từ tháng 6 đến tháng 8 hằng năm")],
    ),
    ("Sinh viên đăng ký Mùa hè xanh.", 2025, [("Mùa hè xanh", "từ tháng 6 đến tháng 8 năm 2025")]),
    (
        "Phối hợp đưa Xuân yêu thương đến hộ nghèo và hỗ trợ Tiếp sức mùa thi",
        None,
        [
            ("Xuân yêu thương", "từ tháng 1 đến tháng 2 hằng năm"),
            ("Tiếp sức mùa thi", "từ tháng 6 đến tháng 7 hằng năm"),
        ],
    ),
    ("100% chi đoàn tổ chức sinh hoạt hè cho thiếu nhi", None, []),  # summer, but not a campaign
    ("Mùa xuân trồng cây tại công viên", None, []),
]


@pytest.mark.parametrize("sentence, year, found", CAMPAIGNS, ids=[c[0][:24] for c in CAMPAIGNS])
def test_campaign_names_and_their_customary_months(
    sentence: str, year: int | None, found: list[tuple[str, str]]
) -> None:
    assert [(c.name, c.phrase) for c in find_campaigns(sentence, year)] == found


def _import(body: str, title: str = "Công tác thanh niên giai đoạn 2025 - 2027") -> Draft:
    lines = ["BAN THƯỜNG VỤ HUYỆN ĐOÀN HÒA AN", "KẾ HOẠCH", title, "", *body.strip().splitlines()]
    return import_lines(list(enumerate(lines, 1)), "t.txt")


# a line of a plan, the year of the plan if single, the campaign, the when drafted
CAMPAIGN_PLANS = [
    (
        "- Các chi đoàn sôi nổi ra quân Tháng Thanh niên.",
        None,
        "Tháng Thanh niên",
        "tháng 3 hằng năm",
    ),
    (
        "- Các chi đoàn tham gia Xuân tình nguyện ở xã vùng sâu.",
        2026,
        "Xuân tình nguyện",
        "từ tháng 1 đến tháng 2 năm 2026",
    ),
    # dated by the grammar itself: no default drafted («Tháng Thanh niên» in a plan of one year is
    # that year's March, the grammar's own reading)
    ("- Ra quân Tháng Thanh niên năm 2026 tại quảng trường.", None, "Tháng Thanh niên", None),
    ("- Các chi đoàn sôi nổi ra quân Tháng Thanh niên.", 2026, "Tháng Thanh niên", None),
]


@pytest.mark.parametrize(
    "line, year, name, when",
    CAMPAIGN_PLANS,
    ids=["multi-year", "single-year", "dated", "year-of-plan"],
)
def test_campaign_without_date_is_drafted_by_custom_and_flagged(
    line: str, year: int | None, name: str, when: str | None
) -> None:
    title = (
        f"Công tác thanh niên năm {year}" if year else "Công tác thanh niên giai đoạn 2025 - 2027"
    )
    draft = _import(f"I. NỘI DUNG\n{line}", title)
    text = render(draft)
    parse_plan(text)  # `kehoach check` accepts it as written
    obs = [o for o in draft.obligations if o.title.startswith(f"{name}:")]
    if when is None:
        assert obs == [] and "lệ thường" not in text and len(draft.obligations) == 1
        return
    [ob] = obs
    assert ob.when == when and ob.kind == "phase" and ob.level == "thấp"
    assert (
        "theo lệ thường" in text.split("CẦN XEM LẠI")[1]
    )  # listed for review, not silently guessed
    assert "thiếu năm" not in text  # the doubt is answered by the drafted default


ASSIGNMENT = """
I. CHỈ TIÊU ĐẾN NĂM 2027
1. 90% chi đoàn khu dân cư có công trình thanh niên.
2. Mỗi Đoàn xã giới thiệu việc làm cho từ 30% trở lên thanh niên thất nghiệp.
II. NỘI DUNG
1. Hoạt động tình nguyện
- Hằng năm tổ chức hội thi tuyên truyền viên giỏi.
- Báo cáo sơ kết 6 tháng vào ngày 15/6 hằng năm.
III. TỔ CHỨC THỰC HIỆN
1. Ban Thường vụ Huyện đoàn
- Phân công Văn phòng Huyện đoàn là bộ phận thường trực, theo dõi việc thực hiện kế hoạch.
2. Các Đoàn xã, thị trấn
- Cụ thể hóa kế hoạch; quyết tâm thực hiện đạt các chỉ tiêu đã đề ra.
- Chủ động triển khai sâu rộng các nội dung của kế hoạch.
IV. TIẾN ĐỘ
- Tháng 01/2025: Xây dựng kế hoạch, trình Ban Thường vụ Huyện đoàn.
- Tháng 02/2025: Ban hành kế hoạch.
"""


@pytest.mark.parametrize(
    "when, unit",
    [
        (
            "ĐẾN NĂM 2027",
            "Các Đoàn xã, thị trấn",
        ),  # «các chỉ tiêu» given to the unit of the section
        ("Hằng năm", "Các Đoàn xã, thị trấn"),  # a duty of the «Nội dung» part: «các nội dung»
        ("vào ngày 15/6 hằng năm", "Các Đoàn xã, thị trấn"),
        ("Tháng 01/2025", "Văn phòng Huyện đoàn"),  # drafted and submitted by the standing staff
        ("Tháng 02/2025", None),  # issuing stays the issuer's own
    ],
    ids=["targets", "content", "content-dated", "standing-staff", "issuer"],
)
def test_units_from_the_assignment_sections(when: str, unit: str | None) -> None:
    draft = _import(ASSIGNMENT)
    parse_plan(render(draft))
    names = {uid: name for uid, name, _ in draft.units}
    obs = [o for o in draft.obligations if o.when == when]
    assert obs and all((names[o.responsible] if o.responsible else None) == unit for o in obs)  # type: ignore[index]
    if unit:
        assert all(o.confidence < 0.8 and any("dòng" in r for r in o.reasons) for o in obs)


def test_targets_of_each_lower_unit_go_to_the_unit_assigned_them() -> None:
    draft = _import(ASSIGNMENT)
    [ob] = [o for o in draft.obligations if o.percent == 30]
    assert ob.responsible == "doan-xa-thi-tran" and any("được đo" in r for r in ob.reasons)


@pytest.mark.parametrize(
    "line",
    [
        "- Tham gia ý kiến, thực hiện các nội dung theo phân công.",  # its part, assigned elsewhere
        "- Hướng dẫn chi đoàn xây dựng kế hoạch riêng.",  # no class of duties at all
        # who watches, not who does
        "- Theo dõi, đôn đốc việc thực hiện các nội dung của kế hoạch.",
    ],
)
def test_no_class_assignment_without_the_class(line: str) -> None:
    body = (
        "I. NỘI DUNG\n- Hằng năm tổ chức hội thi tuyên truyền viên giỏi.\n"
        f"II. TỔ CHỨC THỰC HIỆN\n1. Các chi đoàn khu phố\n{line}\n"
    )
    draft = _import(body)
    [ob] = [o for o in draft.obligations if o.when == "Hằng năm"]
    assert ob.responsible is None


PERIOD_PLANS = [  # a line, the when drafted, whether it was moved to the start of the period
    ("- Xây dựng kế hoạch tuyên truyền hằng tháng.", "đầu hằng tháng", True),
    ("- Lập chương trình công tác hàng năm của chi hội.", "đầu hằng năm", True),
    ("- Hằng quý, xây dựng kế hoạch kiểm tra chéo giữa các chi đoàn.", "đầu hằng quý", True),
    (
        "- Xây dựng kế hoạch tuần, nộp vào ngày 20 hằng tháng.",
        "vào ngày 20 hằng tháng",
        False,
    ),  # a day: kept
    (
        "- Báo cáo kết quả sinh hoạt chi đoàn hằng tháng.",
        "hằng tháng",
        False,
    ),  # a report: at the end
]


@pytest.mark.parametrize("line, when, moved", PERIOD_PLANS, ids=[p[0][2:26] for p in PERIOD_PLANS])
def test_a_plan_for_a_period_is_due_when_the_period_starts(
    line: str, when: str, moved: bool
) -> None:
    draft = _import(f"I. NỘI DUNG\n{line}")
    text = render(draft)
    parse_plan(text)
    [ob] = draft.obligations
    assert ob.when == when
    assert ("lập vào đầu kỳ" in text.split("CẦN XEM LẠI")[-1]) == moved  # flagged for review


def test_a_class_claimed_by_several_units_is_given_to_none_and_reviewed() -> None:
    draft = _import(
        "I. NỘI DUNG\n- Hằng năm tổ chức hội thi tuyên truyền viên giỏi.\nII. TỔ CHỨC THỰC HIỆN\n"
        "1. Các chi đoàn khu phố\n- Triển khai các nội dung của kế hoạch.\n"
        "2. Hội Liên hiệp Thanh niên xã\n- Phối hợp tổ chức các nội dung của kế hoạch.\n"
    )
    [ob] = draft.obligations
    assert ob.responsible is None
    assert any("nhiều đơn vị" in r.reason for r in draft.review)


@pytest.mark.parametrize(
    "line, drafted",
    [
        ("- Tổng kết Chiến dịch tình nguyện Hè vào ngày 30/8/2025.", False),  # the clause dates it
        (
            "- Hỗ trợ thí sinh trong Tiếp sức mùa thi hằng năm.",
            True,
        ),  # yearly, but in which months?
        (
            "- Tổ chức Xuân tình nguyện; báo cáo kết quả trước ngày 15/3/2025.",
            True,
        ),  # the date is another clause's
    ],
    ids=["dated-clause", "yearly", "other-clause"],
)
def test_campaign_default_only_when_its_clause_has_no_date(line: str, drafted: bool) -> None:
    draft = _import(f"I. NỘI DUNG\n{line}")
    parse_plan(render(draft))
    assert (
        any(o.kind == "phase" and "lệ thường" in " ".join(o.reasons) for o in draft.obligations)
        == drafted
    )


@pytest.mark.parametrize(
    "line, asked",
    [
        ("- Hằng năm mở lớp bồi dưỡng kỹ năng cho bí thư chi đoàn.", "không ghi tháng hay ngày"),
        (
            "- Định kỳ 01 năm, các chi đoàn gửi báo cáo tổng hợp về Huyện đoàn.",
            "không ghi tháng hay ngày",
        ),
        (
            "- Mở lớp bồi dưỡng kỹ năng cho bí thư chi đoàn vào tháng 4 hằng năm.",
            None,
        ),  # a month: not asked
        (
            "- Hằng năm, phấn đấu trao 50 suất học bổng cho học sinh nghèo.",
            None,
        ),  # a target is measured over the year
        ("- Đề nghị Huyện ủy chọn năm 2026 là Năm Thanh niên tình nguyện.", "tên gọi của một năm"),
        ("- Tổ chức diễn đàn thanh niên trong năm 2026.", None),  # a year that is a deadline's
    ],
    ids=["bare-yearly", "once-a-year", "with-month", "target", "named-year", "plain-year"],
)
def test_a_guess_about_the_date_is_asked_in_review(line: str, asked: str | None) -> None:
    draft = _import(f"I. NỘI DUNG\n{line}", "Công tác Đoàn năm 2026")
    parse_plan(render(draft))
    assert draft.obligations  # drafted, and asked about, not dropped
    reasons = " ".join(r.reason for r in draft.review if r.line == draft.obligations[0].line)
    if asked:
        assert asked in reasons
    else:
        assert "không ghi tháng" not in reasons and "tên gọi" not in reasons


def test_duties_whose_lines_name_no_unit_are_listed_once_for_review() -> None:
    draft = _import(
        "I. NỘI DUNG\n- Hội thao vào ngày 15/5/2026.\n- Chi đoàn khu phố 2 phụ trách hội trại "
        "ngày 20/7/2026.\n- Tọa đàm vào ngày 10/10/2026.\n",
        "Công tác Đoàn năm 2026",
    )
    text = render(draft)
    [item] = [r for r in draft.review if "không ghi đơn vị" in r.text]
    assert item.text.startswith("2 nghĩa vụ")
    lines = {ob.line for ob in draft.obligations if ob.responsible is None}
    assert set(item.about) == lines and len(lines) == 2
    assert "không ghi đơn vị thực hiện" in text.split("CẦN XEM LẠI")[1]


ITEMS = """II. NỘI DUNG
1. Hội trại truyền thống
- Thời gian: từ 7g30 đến 16g00 ngày 22/3/2026.
- Địa điểm: Sân vận động xã.
- Thành phần: mỗi chi đoàn cử 15 đoàn viên.
2. Giải bóng đá thanh niên
- Dự kiến tổ chức trong tháng 6/2026 tại sân trường.
- Mỗi chi đoàn đóng góp kinh phí 200.000 đồng.
3. Quỹ khuyến học
- Mỗi chi đoàn đóng góp kinh phí 100.000 đồng.
"""


def test_an_items_lines_describe_it_and_its_money_is_due_by_its_date() -> None:
    draft = _import(ITEMS, "Công tác Đoàn năm 2026")
    text = render(draft)
    parse_plan(text)
    by_title = {o.title: o for o in draft.obligations}
    camp = by_title["Hội trại truyền thống"]  # one event; «Thành phần: …» is not a duty of its own
    assert camp.when == "7g30 ngày 22/3/2026" and camp.place == "Sân vận động xã"
    assert not any("Thành phần" in o.title for o in draft.obligations)
    assert any(
        "giữ giờ bắt đầu, đến 16g00" in r.reason for r in draft.review
    )  # the end time is asked about
    assert (
        by_title["Giải bóng đá thanh niên"].when == "Dự kiến tổ chức trong tháng 6/2026"
    )  # named after its item
    [money] = [o for o in draft.obligations if o.kind == "contribution"]
    assert money.amount == "200.000 đồng" and money.when == "Dự kiến tổ chức trong tháng 6/2026"
    assert any("hạn đóng góp lấy theo ngày" in r for r in money.reasons)
    assert any(r.line == money.line and "hãy kiểm tra" in r.reason for r in draft.review)
    # the fund's money has no date anywhere: asked about, never dropped in silence
    assert any("100.000 đồng" in r.text and "không ghi hạn" in r.reason for r in draft.review)


@pytest.mark.parametrize(
    "text, phrase, start",
    [
        ("Hiến máu từ 7g30 đến 11g00 ngày 15/3/2026", "7g30 ngày 15/3/2026", (7, 30)),
        ("Tọa đàm từ 2 giờ đến 4 giờ chiều ngày 4/4/2026", "2 giờ chiều ngày 4/4/2026", (14, 0)),
        ("Hội thi từ 8 giờ 30 tới 11 giờ ngày 5/5/2026", "8 giờ 30 ngày 5/5/2026", (8, 30)),
    ],
    ids=["g", "gio-chieu", "toi"],
)
def test_a_span_of_hours_is_an_event_from_its_start(
    text: str, phrase: str, start: tuple[int, int]
) -> None:
    [f] = find_when(text, CTX)
    assert f.phrase == phrase and (f.schedule.time.hour, f.schedule.time.minute) == start  # type: ignore[union-attr]
    assert any("giữ giờ bắt đầu" in flag for flag in f.flags)


def test_a_table_row_is_dated_by_its_date_cell_not_by_a_name_in_its_title() -> None:
    body = (
        "II. LỊCH CÔNG TÁC\n| TT | Nội dung | Thời gian | Đơn vị thực hiện |\n|---|---|---|---|\n"
        "| 1 | Ra quân Tháng Thanh niên | 01/3/2026 | Văn phòng Huyện Đoàn |\n"
        "| 2 | Báo cáo kết quả Chiến dịch hè | Trước 30/8/2026 | Các cơ sở Đoàn |\n"
    )
    draft = _import(body, "Công tác Đoàn năm 2026")
    parse_plan(render(draft))
    got = {o.title: (o.kind, o.when, o.responsible) for o in draft.obligations}
    assert got == {
        "Ra quân Tháng Thanh niên": ("event", "01/3/2026", "van-phong-huyen-doan"),
        "Báo cáo kết quả Chiến dịch hè": ("deadline", "Trước 30/8/2026", "co-so-doan"),
    }


@pytest.mark.parametrize(
    "letterhead, issuer",
    [
        (["HUYỆN ĐOÀN CẦN GIỜ", "BAN THƯỜNG VỤ"], "Ban Thường vụ Huyện Đoàn Cần Giờ"),
        (["ĐOÀN TNCS HỒ CHÍ MINH", "BCH ĐOÀN XÃ AN PHÚ"], "BCH Đoàn Xã An Phú"),
        (["UBND PHƯỜNG 3", "ỦY BAN NHÂN DÂN PHƯỜNG 3"], "Ủy ban nhân dân Phường 3"),
    ],
    ids=["organ-under-unit", "national-line", "people-committee"],
)
def test_the_issuer_is_the_letterheads_last_unit(letterhead: list[str], issuer: str) -> None:
    lines = [
        *letterhead,
        "Số: 3-KH/ĐTN",
        "KẾ HOẠCH",
        "Công tác năm 2026",
        "I. NỘI DUNG",
        "- Hội nghị triển khai vào ngày 10/01/2026.",
    ]
    draft = import_lines(list(enumerate(lines, 1)), "t.txt")
    assert {u: n for u, n, _ in draft.units}[draft.issuer] == issuer


SCHOOL = """I. CHỈ TIÊU
1. Kết nạp ít nhất 120 đoàn viên mới trong năm học.
II. NỘI DUNG
Tháng 3/2026:
- Các chi đoàn nộp hồ sơ kết nạp đoàn viên chậm nhất ngày 10/3.
Hằng tuần:
- Chào cờ vào sáng thứ Hai.
- Văn nghệ chào mừng Ngày Nhà giáo Việt Nam 20/11 vào ngày 15/11/2025.
"""


def test_a_school_years_plan_and_what_its_intros_leave_unsaid() -> None:
    lines = [
        "ĐOÀN TRƯỜNG THPT AN LẠC",
        "Số: 5/KH-ĐTN        Quận 8, ngày 08 tháng 9 năm 2025",
        "KẾ HOẠCH",
        "Hoạt động năm học 2025 - 2026",
        "",
        *SCHOOL.splitlines(),
    ]
    draft = import_lines(list(enumerate(lines, 1)), "t.txt")
    parse_plan(render(draft))
    assert draft.issued == "08/09/2025"  # a place with a number («Quận 8»)
    assert draft.period == {"from": "08/09/2025", "to": "31/08/2026"}  # a school year, asked about
    assert any("năm học" in r.reason for r in draft.review)
    when = {o.title.split()[0]: (o.kind, o.when) for o in draft.obligations}
    assert when["Kết"] == (
        "target",
        "ngày 31/08/2026",
    )  # a target with no date: by the plan's end, asked
    assert any("chỉ tiêu không ghi hạn" in r.reason for r in draft.review)
    assert when["Các"] == ("deadline", "chậm nhất ngày 10/3/2026")  # the year of «Tháng 3/2026:»
    assert when["Chào"] == ("event", "vào sáng thứ Hai hằng tuần")  # the period of «Hằng tuần:»
    assert when["Văn"] == (
        "event",
        "vào ngày 15/11/2025",
    )  # «Ngày Nhà giáo Việt Nam 20/11» is a name
    assert not any("20/11" in r.text for r in draft.review)


def _draft(*body: str, title: str = "Hoạt động năm 2025", head: tuple[str, ...] = ()) -> Draft:
    lines = [*head, "KẾ HOẠCH", title, "", *body]
    draft = import_lines(list(enumerate(lines, 1)), "t.txt")
    parse_plan(render(draft))  # whatever the text, `kehoach check` accepts the draft
    return draft


def _at(draft: Draft, line: int) -> tuple[list[str], list[str]]:
    """(the `when:` of the obligations drafted from a line, the review's reasons about it)."""
    return (
        [o.when for o in draft.obligations if o.line == line],
        [r.reason for r in draft.review if line in r.about and "đơn vị ban hành" not in r.reason],
    )


def test_hedging_outside_the_date_phrase_is_tentative() -> None:
    draft = _draft(
        "II. NỘI DUNG",
        "- Dự kiến, lễ ra quân diễn ra vào ngày 28/6/2025.",
        "- Dự kiến tổ chức Hội nghị sơ kết trong quý IV/2025.",
    )
    for line in (5, 6):
        whens, asked = _at(draft, line)
        assert whens and any("dự kiến" in r for r in asked), (line, whens, asked)


DISTRACTORS = [  # (line, a date the line names that is no date of the plan)
    ("- Hội nghị chỉ hợp lệ khi có mặt 2/3 ủy viên Ban Chấp hành.", "2/3"),
    ("- Do lễ Quốc khánh rơi vào thứ Bảy nên được nghỉ bù vào thứ Hai 02/9.", "02/9"),
    ("- Tuyên truyền Luật Thanh niên năm 2020 và Luật Trẻ em năm 2016.", "năm 2016"),
    ("Ngày đăng: 12/03/2025 08:15", "12/03/2025"),
    ("Thứ ba, 15/02/2025 09:32", "15/02/2025"),
    ("- Kỷ niệm 94 năm Ngày thành lập Đoàn (26/3/1931 - 26/3/2025).", "26/3/1931"),
    (
        "- Căn cứ Kế hoạch số 12-KH/TĐTN ngày 05/01/2025 của Thành Đoàn về việc tổ chức "
        "Tháng Thanh niên năm 2025.",
        "năm 2025",
    ),
]


@pytest.mark.parametrize("line, named", DISTRACTORS, ids=[d[1] for d in DISTRACTORS])
def test_what_is_not_a_date_of_the_plan_drafts_nothing(line: str, named: str) -> None:
    whens, _ = _at(_draft("II. NỘI DUNG", line), 5)
    assert whens == []


def test_a_year_or_quarter_in_a_name_beside_a_date_is_not_a_second_date() -> None:
    draft = _draft(
        "II. NỘI DUNG",
        "- Các chi đoàn nộp báo cáo quý I trước ngày 25/3/2025.",
        "- Sáng 2/3/2025, Huyện đoàn tổ chức Lễ khởi động Tháng Thanh niên năm 2025.",
    )
    assert _at(draft, 5)[0] == ["trước ngày 25/3/2025"]
    assert _at(draft, 6)[0] == ["Sáng 2/3/2025"]


def test_layout_capitals_grounds_and_a_bare_time_line() -> None:
    draft = _draft(
        "Thời gian: 7g30 ngày 26/3/2025.",
        "Thực hiện Kế hoạch số 5-KH/TĐTN, các cơ sở Đoàn báo cáo kết quả trước ngày 30/3/2025.",
        "I. NỘI DUNG",
        "HỘI NGHỊ TỔNG KẾT CÔNG TÁC ĐOÀN VÀO NGÀY 15/12/2025",
        "- Bắt đầu từ ngày 01/6/2025 đến ngày 15/6/2025, các chi đoàn đăng ký đội hình.",
        "- Khai mạc lúc 08h00’ ngày 05/6/2025 tại Nhà văn hóa.",
        "- Kỷ niệm Ngày Giải phóng miền Nam 30/4, tổ chức mít tinh ngày 25/04/2025.",
        title="Tổ chức Tháng Thanh niên năm 2025",
    )
    assert _at(draft, 4)[0] == ["7g30 ngày 26/3/2025"]  # the plan's own activity
    assert _at(draft, 5)[0] == ["trước ngày 30/3/2025"]  # grounds that date a duty are read
    assert _at(draft, 7)[0] == ["VÀO NGÀY 15/12/2025"]  # capitals with a day: a duty, not a heading
    assert _at(draft, 8)[0] == ["Bắt đầu từ ngày 01/6/2025 đến ngày 15/6/2025"]
    assert _at(draft, 9)[0] == ["lúc 08h00’ ngày 05/6/2025"]
    assert _at(draft, 10)[0] == ["ngày 25/04/2025"]  # the named day does not swallow the real one


def test_period_from_the_title_and_issue_date_not_from_cited_years() -> None:
    head = ("Số: 7/TB-ĐTN        Phường 5, ngày 10 tháng 3 năm 2021",)
    draft = _draft(
        "- Căn cứ Luật Thanh niên năm 2013;",
        "- Các chi đoàn nộp danh sách trước ngày 30/3/2021.",
        "- Tổng kết năm 2024.",
        title="Thông báo về việc đăng ký đội hình tình nguyện",
        head=head,
    )
    assert (
        "2021" in str(draft.period)
        and "2013" not in str(draft.period)
        and "2024" not in str(draft.period)
    )
    assert any("period lấy theo năm ban hành" in r.reason for r in draft.review)  # asked
    draft = _draft(
        "- Các chi đoàn nộp danh sách trước ngày 30/3/2021.",
        "- Căn cứ Luật Thanh niên năm 2013.",
        title="Thông báo về việc đăng ký đội hình tình nguyện",
    )
    assert draft.period == "2021" and any(
        "period tạm lấy theo các ngày" in r.reason for r in draft.review
    )


def test_a_document_with_nothing_dated_still_checks_and_says_so() -> None:
    draft = _draft("I. MỤC ĐÍCH", "- Nâng cao nhận thức của đoàn viên.")
    assert [o.id for o in draft.obligations] == ["thay-bang-cac-viec-cua-ke-hoach"]
    assert any("mục giữ chỗ" in r.reason for r in draft.review)


def test_the_unit_review_counts_the_obligations_the_draft_keeps() -> None:
    draft = _draft(
        "II. NỘI DUNG", "- Tổ chức hội thao ngày 15/5/2025.", "- Tổ chức hội trại ngày 31/2/2025."
    )
    [item] = [r for r in draft.review if r.reason.startswith("đã giao cho đơn vị ban hành")]
    assert item.text.startswith(f"{len(draft.obligations)} nghĩa vụ")


def test_legacy_font_encodings_are_converted_and_said() -> None:
    tcvn3 = _draft("II. NéI DUNG", "- C¸c chi ®oµn nép b¸o c¸o tr­íc ngµy 30/5/2025.")
    assert _at(tcvn3, 5)[0] == ["trước ngày 30/5/2025"]
    assert any("TCVN3" in r.reason for r in tcvn3.review)
    vni = _draft("II. NOÄI DUNG", "- Caùc chi ñoaøn noäp baùo caùo tröôùc ngaøy 30/5/2025.")
    assert _at(vni, 5)[0] == ["trước ngày 30/5/2025"]
    assert any("VNI" in r.reason for r in vni.review)


def test_cli_reads_a_windows_1258_text_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cu.txt"
    text = "KẾ HOẠCH\nHội thao năm 2025\n\nI. NỘI DUNG\n- Hội thao ngày 15/5/2025.\n"
    path.write_bytes(b"".join(_cp1258(c) for c in text))
    result = CliRunner().invoke(main, ["import", str(path)])
    assert result.exit_code == 0 and "Windows-1258" in result.output
    assert 'when: "ngày 15/5/2025"' in result.output


def _cp1258(c: str) -> bytes:
    """A character as Windows-1258 writes it: a base letter (â, ơ, …) then its tone mark."""
    try:
        return c.encode("cp1258")
    except UnicodeEncodeError:
        parts = unicodedata.normalize("NFD", c)
        tones = "".join(m for m in parts if m in "\u0300\u0301\u0303\u0309\u0323")
        base = unicodedata.normalize("NFC", "".join(m for m in parts if m not in tones))
        return (base + tones).encode("cp1258")


def test_counted_deadlines_are_drafted_or_asked() -> None:
    draft = _draft(
        "II. NỘI DUNG",
        "- Các cơ sở Đoàn gửi báo cáo chậm nhất 30 ngày sau khi kết thúc quý.",
        "- Tổ chức thăm hỏi gia đình chính sách trước Tết Nguyên đán 2 tuần.",
        "- Gửi biên bản trong vòng 5 ngày làm việc kể từ ngày 25/4/2025.",
        "- Các đơn vị gửi biên bản trong vòng 5 ngày làm việc kể từ ngày kết thúc hội nghị.",
    )
    assert _at(draft, 5)[0] == ["chậm nhất 30 ngày sau khi kết thúc quý"]
    assert _at(draft, 6)[0] == ["trước Tết Nguyên đán 2 tuần"]
    assert _at(draft, 7)[0] == [
        "trong vòng 5 ngày làm việc kể từ ngày 25/4/2025"
    ]  # not the 25/4 itself
    whens, asked = _at(draft, 8)
    assert whens == [] and any("nghĩa vụ <mã>" in r for r in asked)


@pytest.mark.parametrize(
    "line",
    [
        "- Tuyên dương lớp 9/2 thực hiện tốt phong trào.",
        "- Duy trì đội hình trực 24/7 hỗ trợ người dân.",
        "- Địa điểm: số 12/3 đường Trần Phú, phường 5.",
        "- Tỷ lệ 3/4 số chi đoàn đạt vững mạnh.",
        "- Phấn đấu đạt tỷ lệ 1/3 số chi đoàn vững mạnh.",
        "- Ban Chấp hành khóa XII (2022 - 2027) đã hoàn thành nhiệm vụ.",
    ],
)
def test_names_and_numbers_written_like_dates_are_not_dates(line: str) -> None:
    assert _at(_draft("II. NỘI DUNG", line), 5)[0] == []


def test_an_occasion_and_a_weekday_of_the_month_are_dated() -> None:
    draft = _draft(
        "II. NỘI DUNG",
        "- Tổ chức mít tinh vào dịp Quốc khánh 2/9.",
        "- Giao ban định kỳ vào sáng thứ hai đầu tháng.",
    )
    whens, asked = _at(draft, 5)
    assert whens == ["ngày 2/9"] and any("ngày lễ" in r for r in asked)
    assert _at(draft, 6) == (["định kỳ vào sáng thứ hai đầu tháng"], [])


def test_a_lunar_gloss_of_a_solar_date_is_not_a_second_date() -> None:
    draft = _draft(
        "II. NỘI DUNG", "- Tổ chức đêm văn nghệ lúc 19g30 ngày 29/8/2025 (tức ngày 7/7 âm lịch)."
    )
    assert _at(draft, 5)[0] == ["lúc 19g30 ngày 29/8/2025"]


def test_a_deadline_counted_from_an_activity_counts_from_its_obligation() -> None:
    draft = _draft(
        "II. NỘI DUNG",
        "1. Hội nghị tổng kết",
        "- Thời gian: 8h00 ngày 19/12/2025.",
        "- Các cơ sở Đoàn gửi biên bản trong vòng 5 ngày làm việc kể từ ngày kết thúc hội nghị.",
        title="Tổ chức Hội nghị tổng kết công tác Đoàn năm 2025",
    )
    [ob] = [o for o in draft.obligations if o.line == 7]
    assert (ob.kind, ob.when) == (
        "deadline",
        "trong vòng 5 ngày làm việc kể từ ngày kết thúc nghĩa vụ hoi-nghi-tong-ket",
    )
    assert any("mốc: nghĩa vụ «hoi-nghi-tong-ket»" in r.reason for r in draft.review if r.line == 7)


@pytest.mark.parametrize(
    "line",
    [
        "- Các đơn vị nộp báo cáo trước cuối tháng này.",
        "- Hoàn thành trước ngày khai giảng năm học mới.",
        "- Tổ chức ra quân vào tuần tới.",
    ],
)
def test_a_time_said_relative_to_now_or_an_event_is_asked(line: str) -> None:
    whens, asked = _at(_draft("II. NỘI DUNG", line), 5)
    assert whens == [] and asked
