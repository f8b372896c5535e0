"""`kehoach backup FILE`: a consistent copy of the SQLite database while the service runs.

SQLite's online backup API (sqlite3.Connection.backup) copies the pages under a read lock,
restarting when a writer changes them, so the copy is one moment of the database even while
`kehoach serve` writes. The copy is written beside FILE and renamed into place, so FILE is
never half-written. PostgreSQL has its own tool for this: pg_dump (docs/deploy.md).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click

from engine.vi import os_reason
from kehoach.cli import err, main, out
from kehoach.cli_store import _store_engine, _store_fail


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Sao lưu cơ sở dữ liệu SQLite vào TỆP, cả khi `kehoach serve` đang chạy. Với PostgreSQL
    thì dùng pg_dump (xem docs/deploy.md). Không ghi đè tệp đã có."""
    engine = _store_engine()
    if engine.dialect.name != "sqlite":
        err.print(
            "lỗi `kehoach backup` chỉ dành cho SQLite. Với PostgreSQL hãy dùng pg_dump, "
            "ví dụ: pg_dump --format=custom --file=kehoach.dump TÊN-CSDL "
            "(khôi phục: pg_restore --clean --dbname=TÊN-CSDL kehoach.dump).",
            markup=False,
            soft_wrap=True,
        )
        raise SystemExit(1)
    source = Path(engine.url.database or "")
    if not source.is_file():
        raise _store_fail(Exception(f"chưa có cơ sở dữ liệu «{source}»: không có gì để sao lưu"))
    if file.exists():
        raise _store_fail(Exception(f"«{file}» đã có; chọn tên khác (không ghi đè bản sao lưu)"))
    if not file.parent.is_dir():
        raise _store_fail(Exception(f"không có thư mục «{file.parent}» để ghi bản sao lưu"))
    partial = file.with_name(f".{file.name}.dang-ghi")
    try:
        raw = engine.raw_connection()
        try:
            with sqlite3.connect(partial) as copy:
                # sqlite3's connection (PostgreSQL left above); SQLAlchemy types it as any DBAPI's
                raw.driver_connection.backup(copy)  # type: ignore[union-attr]
            copy.close()
        finally:
            raw.close()
        os.replace(partial, file)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _store_fail(Exception(f"không ghi được «{file}»: {os_reason(exc)}")) from None
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise _store_fail(Exception(f"không sao lưu được {source}: {exc}")) from None
    size = f"{file.stat().st_size:,}".replace(",", ".")
    out.print(
        f"✓ đã sao lưu {source} vào {file} ({size} byte). Khôi phục: "
        f"dừng kehoach, chép {file} thành {source.name}, chạy `kehoach db upgrade`.",
        highlight=False,
        soft_wrap=True,
    )
