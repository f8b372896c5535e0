"""`kehoach backup FILE`: SQLite's online backup while a writer holds the database, and a
restore from it that `kehoach` accepts with every row; on PostgreSQL it points to pg_dump."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from tests.conftest import PLAN, load


def kehoach(bin_: str, url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bin_, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KEHOACH_DATABASE_URL": url},
    )


def test_backup_while_writing_then_restore(
    db: Engine, db_url: str, tmp_path: Path, kehoach_bin: str
) -> None:
    if not db_url.startswith("sqlite"):
        done = kehoach(kehoach_bin, db_url, tmp_path, "backup", str(tmp_path / "x.sqlite3"))
        assert done.returncode == 1 and "dùng pg_dump" in done.stderr, done.stderr
        assert not (tmp_path / "x.sqlite3").exists()
        return
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    load(db, tmp_path / "plan.yaml")
    step, other = "thu-nghiem/dong-gop/1/doan-a", "thu-nghiem/dong-gop/1/doan-b"
    assert (
        kehoach(
            kehoach_bin,
            db_url,
            tmp_path,
            "done",
            step,
            "--note",
            "đã nộp",
            "--now",
            "2022-05-20T08:00",
        ).returncode
        == 0
    )
    # a writer in the middle of a transaction: the copy has what was committed, no more
    writer = create_engine(db_url).connect()
    writer.execute(text("UPDATE steps SET state = 'excused' WHERE id = :id"), {"id": other})
    backup = tmp_path / "sao-luu" / "kehoach-backup.sqlite3"
    backup.parent.mkdir()
    done = kehoach(kehoach_bin, db_url, tmp_path, "backup", str(backup))
    writer.rollback()
    writer.close()
    assert done.returncode == 0, done.stderr
    assert f"✓ đã sao lưu {tmp_path / 'kehoach.sqlite3'} vào {backup}" in done.stdout

    restored = tmp_path / "khoi-phuc"
    restored.mkdir()
    shutil.copy(backup, restored / "kehoach.sqlite3")  # the restore docs/deploy.md gives
    url = f"sqlite:///{restored / 'kehoach.sqlite3'}"
    status = kehoach(kehoach_bin, url, restored, "db", "status")
    assert status.returncode == 0 and "(mới nhất)" in status.stdout, status.stderr
    before = kehoach(kehoach_bin, db_url, tmp_path, "overdue", "--now", "2022-06-30T08:00")
    after = kehoach(kehoach_bin, url, restored, "overdue", "--now", "2022-06-30T08:00")
    assert after.returncode == 0 and after.stdout == before.stdout
    copy = create_engine(url)
    with copy.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("steps", "transitions", "plans")
        ]
        states = dict(
            conn.execute(
                text("SELECT id, state FROM steps WHERE id IN (:a, :b)"), {"a": step, "b": other}
            ).all()
        )
    copy.dispose()
    with db.connect() as conn:
        assert counts == [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("steps", "transitions", "plans")
        ]
    assert states == {step: "done", other: "pending"}


def test_backup_never_overwrites(db: Engine, db_url: str, tmp_path: Path, kehoach_bin: str) -> None:
    if not db_url.startswith("sqlite"):
        return  # PostgreSQL: see above
    (tmp_path / "old.sqlite3").write_bytes(b"an earlier backup")
    done = kehoach(kehoach_bin, db_url, tmp_path, "backup", "old.sqlite3")
    assert done.returncode == 1 and "«old.sqlite3» đã có" in done.stderr
    assert (tmp_path / "old.sqlite3").read_bytes() == b"an earlier backup"
    missing = kehoach(kehoach_bin, db_url, tmp_path, "backup", "khong-co/x.sqlite3")
    assert missing.returncode == 1 and "không có thư mục «khong-co»" in missing.stderr
