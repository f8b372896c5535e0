"""An uploaded plan document: its type told by its content, never by its name, and its lines.

A Word file is a ZIP with `word/document.xml`, checked before python-docx opens it (an
encrypted Word file is an OLE container, not a ZIP; a ZIP bomb is refused by the sizes its
directory declares); a text file is UTF-8 (or UTF-16 with its BOM) without NUL bytes and is
not HTML. Reading the lines (and their encoding) is kehoach.cli_import's, as for
`kehoach import`.

    lines = document_lines(data, "ke-hoach.docx")   # raises NotAPlan with the reason
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

#: The largest upload taken (bytes); a plan of 200 pages in Word is about 1 MB.
MAX_UPLOAD = 10 * 1024 * 1024
#: What a Word file may unpack to, in all (a plan's text and styles are a few MB at most).
MAX_UNPACKED = 100 * 1024 * 1024
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, and .docx encrypted with a password


class NotAPlan(ValueError):
    """The upload is not a document kehoach can read; the message says why, in Vietnamese."""


def kind_of(data: bytes) -> str:
    """«docx» or «text» by the content, or NotAPlan."""
    if not data.strip():
        raise NotAPlan("tệp rỗng: không có nội dung nào để đọc")
    if data.startswith(OLE):
        raise NotAPlan(
            "tệp Word cũ (.doc) hoặc tệp Word có mật khẩu: hãy mở bằng Word, bỏ mật "
            "khẩu nếu có, rồi lưu lại dưới dạng .docx"
        )
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                unpacked = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, ValueError, OSError):
            raise NotAPlan("tệp ZIP/Word bị hỏng, không mở được") from None
        if "word/document.xml" not in names:
            raise NotAPlan("tệp nén này không phải tệp Word (.docx)")
        if unpacked > MAX_UNPACKED:
            raise NotAPlan(f"tệp Word giải nén ra quá {MAX_UNPACKED // 2**20} MB: không nhận")
        return "docx"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"
    if b"\x00" in data:
        raise NotAPlan("tệp nhị phân (ảnh, PDF hoặc tệp khác), không phải văn bản hay tệp Word")
    head = data[:2048].decode("utf-8-sig", errors="ignore").lstrip().lower()
    if head.startswith(("<!doctype html", "<html", "<?xml")):
        raise NotAPlan(
            "tệp HTML/XML (trang web), không phải văn bản kế hoạch: hãy lưu trang "
            "thành tệp Word hoặc chép nội dung vào tệp .txt"
        )
    return "text"  # its encoding is read_lines' to tell, as for `kehoach import`


def document_lines(data: bytes, name: str) -> list[tuple[int, str, bool]]:
    """The numbered lines of an upload, as `kehoach import` reads a file."""
    from kehoach.cli_import import ReadError, read_lines

    if len(data) > MAX_UPLOAD:
        raise NotAPlan(f"tệp lớn hơn {MAX_UPLOAD // 2**20} MB: không nhận")
    suffix = ".docx" if kind_of(data) == "docx" else ".txt"
    with tempfile.TemporaryDirectory(prefix="kehoach-upload-") as folder:
        path = Path(folder) / f"tai-len{suffix}"
        path.write_bytes(data)
        try:
            lines = read_lines(path)
        except ReadError as exc:
            raise NotAPlan(str(exc).replace(str(path), name)) from None
    if not any(text.strip() for _, text, _ in lines):
        raise NotAPlan("tệp không có dòng chữ nào")
    return lines
