"""Benchmark `kehoach import`: the largest seed document, and a generated 200-page Word file.

    .venv/bin/python bench/import_bench.py            # largest seed (median of 5) + 200 pages
    .venv/bin/python bench/import_bench.py --pages 20 # a smaller generated document

Each figure is the whole import as the command does it: read the file (python-docx for the
generated .docx, tables included), extract the draft, render it and check it with the plan
loader. Baselines: the issue's target (2 s for the seed, 30 s for 200 pages), printed as
target / measured, so above 1 is inside the target; and, on the seed, a naive date finder that
tries `parse_when` on every run of up to 10 words of every line (what one writes without the
grammar's `readable` to grow a phrase from an anchor), printed as naive / ours for that step.
Targets are printed with PASS/FAIL, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.importing import import_lines, render
from kehoach.cli_import import read_lines

SEEDS = Path(
    os.environ.get("KEHOACH_SEEDS") or ROOT.parent / "shared" / "seeds"
)  # tests/outside.py
LINES_PER_PAGE = 40
UNITS = [
    "Đoàn phường An Lạc",
    "Đoàn Trường THPT Bình Tân",
    "Hội Liên hiệp Thanh niên quận",
    "Đoàn Bệnh viện Quận",
    "Chi đoàn Công an phường",
    "Liên đội Tiểu học Kim Đồng",
]


def generate_docx(path: Path, pages: int) -> int:
    """A plan of `pages` pages: numbered sections with times, assignments, targets and a table."""
    import docx

    d = docx.Document()
    d.add_paragraph("Số: 12-KH/QĐTN        Quận Bình Tân, ngày 01 tháng 01 năm 2025")
    d.add_paragraph("KẾ HOẠCH")
    d.add_paragraph("Tổ chức các hoạt động giai đoạn 2025 - 2027")
    d.add_paragraph("")
    written, section = 4, 0
    while written < pages * LINES_PER_PAGE:
        section += 1
        day, month, year = 1 + section % 27, 1 + section % 12, 2025 + section % 3
        unit = UNITS[section % len(UNITS)]
        d.add_paragraph().add_run(f"{section}. Hoạt động chuyên đề số {section}:").bold = True
        d.add_paragraph(f"- Thời gian: {7 + section % 3}g30, ngày {day}/{month}/{year}.")
        d.add_paragraph(f"- Địa điểm: Hội trường {unit}.")
        d.add_paragraph(
            "- Nội dung: Tuyên truyền, giáo dục, sinh hoạt chuyên đề cho đoàn viên, thanh niên; "
            "tổ chức các hoạt động tình nguyện tại công viên 30/4 và dịp Quốc khánh 2/9."
        )
        d.add_paragraph("- Phân công thực hiện:")
        d.add_paragraph(f"+ {unit} phụ trách nội dung và điều phối chung.")
        d.add_paragraph(
            "+ Các cơ sở Đoàn cử 10 đoàn viên tham gia và đóng góp kinh phí (300.000 đồng/đơn vị)."
        )
        d.add_paragraph(
            f"- Báo cáo kết quả về Ban Thường vụ trước ngày {day}/{1 + month % 12}/{year}."
        )
        d.add_paragraph(f"- Hằng năm, phấn đấu {50 + section % 50}% đoàn viên tham gia hoạt động.")
        d.add_paragraph(
            f"- Định kỳ hằng quý, {UNITS[(section + 1) % len(UNITS)]} tổng hợp báo cáo."
        )
        d.add_paragraph("- Tổ chức hội trại ngày 24-25/7 (chờ xác nhận).")
        for k in range(20):
            d.add_paragraph(
                "Đẩy mạnh công tác tuyên truyền, vận động đoàn viên, thanh niên "
                "tham gia các phong trào hành động cách mạng, gắn với nhiệm vụ "
                f"chính trị của địa phương (ý {k + 1})."
            )
        table = d.add_table(rows=3, cols=3)
        rows = [
            ("Nội dung", "Thời gian", "Đơn vị thực hiện"),
            (f"Ra quân đợt {section}", f"ngày {day}/{month}/{year}", unit),
            ("Sơ kết đợt", f"tháng {month} năm {year}", UNITS[(section + 2) % len(UNITS)]),
        ]
        for row, cells in zip(table.rows, rows, strict=True):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
        written += 35
    d.save(str(path))
    return written


def naive_dates(lines: list[tuple[int, str, bool]]) -> int:
    """Every run of 1 to 10 words that `parse_when` accepts, line by line: the naive finder."""
    from engine.errors import PlanError
    from engine.phrases import parse_when

    found = 0
    for _, text, _ in lines:
        words = text.split()
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 10) + 1):
                try:
                    parse_when(" ".join(words[i:j]), default_year=2021)
                    found += 1
                except PlanError:
                    pass
    return found


def ours_dates(lines: list[tuple[int, str, bool]]) -> int:
    from engine.importing.dates import Context, find_when

    ctx = Context(single_year=2021)
    return sum(len(find_when(text, ctx)) for _, text, _ in lines)


def run(path: Path) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    lines = read_lines(path)
    draft = import_lines(lines, path.name)
    render(draft)
    return time.perf_counter() - t0, len(draft.obligations), len(draft.review)


def report(
    name: str, seconds: float, target: float, obligations: int, review: int, lines: int
) -> None:
    verdict = "PASS" if seconds < target else "FAIL"
    print(
        f"{name:<28} {lines:>7} dòng  {seconds:8.3f} s  {obligations:>6} nghĩa vụ  "
        f"{review:>5} cần xem lại  "
        f"mục tiêu < {target:g} s: {verdict} (mục tiêu / đo được = {target / seconds:,.1f}×)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5, help="runs on the seed (median)")
    args = ap.parse_args()
    if not any(SEEDS.glob("*.txt")):  # a fresh clone: the seeds live outside the repository
        sys.exit(
            f"import_bench: no seed texts in {SEEDS}; put shared/ beside the clone or set "
            "KEHOACH_SEEDS to its seeds/ folder"
        )
    seed = max(SEEDS.glob("*.txt"), key=lambda p: p.stat().st_size)
    times = [run(seed) for _ in range(args.runs)]
    seconds = statistics.median(t for t, _, _ in times)
    lines = read_lines(seed)
    report(f"seed {seed.name[:3]} (lớn nhất)", seconds, 2.0, times[0][1], times[0][2], len(lines))
    t0 = time.perf_counter()
    naive = naive_dates(lines)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = ours_dates(lines)
    t_ours = time.perf_counter() - t0
    print(
        f"{'  tìm ngày, cách ngây thơ':<28} {t_naive:8.3f} s "
        f"({naive} cụm từ hợp lệ, chồng lấn nhau)  "
        f"cách của kehoach {t_ours:.3f} s ({ours} cụm từ): nhanh hơn {t_naive / t_ours:,.0f}×"
    )
    corpus = ROOT / "tests" / "corpus" / "sentences.yaml"
    if (
        corpus.exists()
    ):  # real sentences, each imported as the one line of a plan (as tests score them)
        import yaml

        entries = yaml.safe_load(corpus.read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        for e in entries:
            draft = import_lines(
                [
                    (1, "KẾ HOẠCH"),
                    (2, f"Hoạt động năm {e['year']}"),
                    (3, ""),
                    (4, "II. NỘI DUNG"),
                    (5, e["text"]),
                ],
                "corpus.txt",
            )
            render(draft)
        per = (time.perf_counter() - t0) / len(entries)
        print(
            f"{'kho câu thật':<28} {len(entries):>7} câu  {per * 1000:8.2f} ms/câu "
            "(nhập + kiểm tra, mỗi câu một bản nháp)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"ke-hoach-{args.pages}-trang.docx"
        t0 = time.perf_counter()
        generate_docx(path, args.pages)
        print(f"(tạo tệp .docx {args.pages} trang: {time.perf_counter() - t0:.1f} s, không tính)")
        seconds, obligations, review = run(path)
        target = 30.0 * args.pages / 200
        report(
            f"{args.pages} trang .docx", seconds, target, obligations, review, len(read_lines(path))
        )
        print(f"{'':<28} {seconds / args.pages * 1000:8.1f} ms/trang")


if __name__ == "__main__":
    main()
