"""Plan errors that name the place: file, line, column and the offending text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Position:
    """Where a value stands in a plan file (1-based line and column)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


class PlanError(ValueError):
    """One problem in a plan; the message says what is wrong, in Vietnamese."""

    def __init__(self, message: str, position: Position | None = None, text: str | None = None):
        self.message = message
        self.position = position
        self.text = text
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.position}: " if self.position else ""
        quoted = f" — «{self.text}»" if self.text else ""
        return f"{where}{self.message}{quoted}"

    def at(self, position: Position | None) -> PlanError:
        """The same error, placed (keeps a position it already has)."""
        return (
            self
            if self.position or position is None
            else PlanError(self.message, position, self.text)
        )


class PlanErrors(ValueError):
    """Every problem found in one or more plans, reported together."""

    def __init__(self, errors: list[PlanError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
