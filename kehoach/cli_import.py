"""`kehoach import FILE`: read a plan's Word (.docx), text (.txt) or Markdown (.md) file and
write a draft plan file for review. Reading files is here; the extraction itself is the pure
`engine.importing`."""

from __future__ import annotations

import re
import sys
import unicodedata
import zipfile
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from engine.importing import KIND_NAMES, Draft, import_lines, render
from engine.vi import os_reason
from kehoach.cli import err, main

Line = tuple[int, str, bool]
LONG = 3000  # lines: above this, a progress bar on the terminal


class ReadError(Exception):
    """The file cannot be read; the message is for the user, in Vietnamese."""


def read_lines(path: Path) -> list[Line]:
    """(line or paragraph number, text, bold) for each line, paragraph or table row."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ReadError(f"«{path}» là một thư mục, không phải tệp kế hoạch")
    if not path.exists():
        raise ReadError(f"không tìm thấy tệp «{path}»")
    if suffix == ".docx":
        return _docx_lines(path)
    if suffix in (".txt", ".md", ".markdown", ".text"):
        return _text_lines(path)
    raise ReadError(f"không đọc được tệp «{path}»: chỉ nhận .docx, .txt hoặc .md")


def _text_lines(path: Path) -> list[Line]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"không đọc được tệp «{path}» ({os_reason(exc)})") from None
    for encoding in (
        ("utf-8-sig", "utf-16")
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff")
        else ("utf-8-sig", "cp1258")
    ):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "cp1258":  # Windows-1258: a legacy text whose marks are combining characters
            if re.search(r"[\x00-\x08\x0b\x0e-\x1f\x7f]", text):
                continue  # control characters: not a text at all
            err.print(f"Tệp «{path}» dùng bảng mã Windows-1258: đã chuyển sang Unicode.")
        break
    else:
        raise ReadError(
            f"tệp «{path}» không phải văn bản UTF-8 hay Windows-1258; hãy lưu lại với bảng mã UTF-8"
        )
    return [(i, unicodedata.normalize("NFC", t), False) for i, t in enumerate(text.splitlines(), 1)]


def _docx_lines(path: Path) -> list[Line]:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReadError(
            f"không đọc được tệp Word «{path}» ({type(exc).__name__}: tệp hỏng hoặc "
            "không phải .docx)"
        ) from None
    except Exception as exc:  # noqa: BLE001  python-docx's own PackageNotFoundError and others
        raise ReadError(f"không đọc được tệp Word «{path}» ({exc})") from None
    out: list[Line] = []
    number = 0  # paragraphs and table rows, counted in document order
    letterhead = True  # until «KẾ HOẠCH»: a table there is the letterhead's columns, not a schedule
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        table = Table(element, document) if tag == "tbl" else None
        if table is not None and letterhead and len(table.columns) <= 2 and len(table.rows) <= 4:
            seen: set[object] = set()
            for column in table.columns:
                for cell in column.cells:
                    if cell._tc in seen:  # a merged cell is met once per grid square
                        continue
                    seen.add(cell._tc)
                    for line in cell.text.split("\n"):
                        if line.strip():
                            number += 1
                            out.append((number, line, False))
            continue
        if tag == "p":
            p = Paragraph(element, document)
            ppr = element.pPr  # the style id («ListBullet», «Heading1»): p.style is slow
            style = (ppr.pStyle.val if ppr is not None and ppr.pStyle is not None else "") or ""
            runs = [r for r in p.runs if r.text.strip()]
            bold = bool(runs) and all(r.bold for r in runs)
            text = p.text
            if style.lower().startswith("list") and text.strip():
                text = "- " + text
            if style.lower().startswith(("heading", "title")) and text.strip():
                bold = True
            number += 1
            out += [(number, part, bold) for part in text.split("\n")]  # a soft line break
            letterhead = letterhead and not re.fullmatch(
                r"\s*kế hoạch\s*:?\s*", text, re.IGNORECASE
            )
        elif table is not None:
            for row in table.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
                    if text and text not in cells:  # merged cells repeat their text
                        cells.append(text)
                number += 1
                out.append((number, " | ".join(cells), False))
    return out


def summary(draft: Draft) -> list[str]:
    counts = draft.counts()
    kinds = ", ".join(
        f"{n} {KIND_NAMES[k]}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    lines = [
        f"Tìm thấy {len(draft.obligations)} nghĩa vụ" + (f": {kinds}." if kinds else "."),
        f"{len(draft.units)} đơn vị, {len(draft.clusters)} cụm; đơn vị ban hành: «{draft.issuer}».",
    ]
    low = sum(1 for ob in draft.obligations if ob.confidence < 0.55)
    if low:
        lines.append(f"{low} nghĩa vụ có độ tin cậy thấp (xem chú thích trong tệp).")
    lines.append(f"{len(draft.review)} mục cần xem lại" + (":" if draft.review else "."))
    for r in draft.review:
        text = " ".join(r.text.split())
        text = text if len(text) <= 90 else text[:88] + "…"
        lines.append(f"  dòng {r.line}: «{text}» — {' '.join(r.reason.split())}")
    return lines


@main.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ghi bản nháp vào tệp này (mặc định: in ra màn hình).",
)
def import_(file: Path, output: Path | None) -> None:
    """Nhập kế hoạch từ tệp Word (.docx), văn bản (.txt) hoặc Markdown (.md) thành bản nháp
    tệp kế hoạch để xem lại; in tóm tắt và các mục cần xem lại."""
    try:
        lines = read_lines(file)
        if not any(text.strip() for _, text, _ in lines):
            raise ReadError(f"tệp «{file}» trống: không có gì để nhập")
    except ReadError as exc:
        err.print(f"[red]lỗi[/red] {exc}", markup=True, soft_wrap=True)
        sys.exit(1)
    if len(lines) > LONG:
        with Progress(
            TextColumn("Đang đọc {task.fields[name]}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("import", total=len(lines), name=file.name)
            draft = import_lines(lines, file.name, progress=lambda k: bar.update(task, completed=k))
    else:
        draft = import_lines(lines, file.name)
    text = render(draft)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            err.print(
                f"[red]lỗi[/red] không ghi được tệp «{output}» ({os_reason(exc)})", markup=True
            )
            sys.exit(1)
        err.print(f"Đã ghi bản nháp vào {output}.")
    for line in summary(draft):
        err.print(line, markup=False, soft_wrap=True, highlight=False)
