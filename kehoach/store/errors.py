"""Store errors: small classes on builtin ones, each naming what it is about, in Vietnamese.

The CLI prints `str(exc)` and exits non-zero; nothing here needs a traceback to be understood.
"""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base of every storage problem the user can act on."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached or opened (wrong URL, server down, no such folder)."""


class DatabaseBusy(StoreError):
    """Another process holds the write lock longer than the busy timeout."""


class SchemaOutdated(StoreError):
    """The database schema is not the one this program expects."""

    def __init__(self, current: str | None, head: str, newer: bool = False):
        self.current, self.head = current, head
        if newer:
            message = (
                f"cơ sở dữ liệu đang ở phiên bản {current}, mới hơn chương trình này "
                f"(phiên bản {head}); cần cập nhật kehoach"
            )
        else:
            message = (
                f"cơ sở dữ liệu đang ở phiên bản {current or 'trống (chưa có bảng)'}, "
                f"chương trình cần phiên bản {head}; cần chạy `kehoach db upgrade`"
            )
        super().__init__(message)


class StepNotFound(StoreError, KeyError):
    """No step has this id."""

    def __init__(self, step_id: str):
        self.step_id = step_id
        super().__init__(f"không có bước «{step_id}»")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class StepStateError(StoreError, ValueError):
    """The action is not allowed in the step's current state."""

    def __init__(self, step_id: str, state: str, action: str):
        self.step_id, self.state = step_id, state
        super().__init__(f"bước «{step_id}» đang ở trạng thái «{state}», không thể {action}")


class ConcurrentChange(StoreError):
    """The step changed between reading and writing it (another process got there first)."""

    def __init__(self, step_id: str):
        self.step_id = step_id
        super().__init__(f"bước «{step_id}» vừa được thay đổi bởi một tiến trình khác; hãy thử lại")


class DatabaseFull(DatabaseUnavailable):
    """The disk holding the database is full: nothing can be written until space is freed."""


class DatabaseReadOnly(DatabaseUnavailable):
    """The database can be read but not written (file permissions, a read-only server)."""
