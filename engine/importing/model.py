"""What an import produces: a draft plan, and what a person must look at before using it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, TypedDict


@dataclass
class DraftObligation:
    id: str
    kind: str
    title: str
    when: str
    line: int
    source: str
    confidence: float
    reasons: list[str] = field(default_factory=list)
    responsible: str | list[str] | None = None  # None: the issuer
    place: str | None = None
    amount: str | None = None
    amounts: dict[str, str] | None = None
    quantity: float | None = None
    measure: str | None = None
    percent: float | None = None
    dues: tuple[date, ...] = ()  # the due dates of a dated (not recurring) phrase

    @property
    def level(self) -> str:
        return (
            "cao" if self.confidence >= 0.8 else "trung bình" if self.confidence >= 0.55 else "thấp"
        )


@dataclass(frozen=True)
class ReviewItem:
    line: int
    text: str
    reason: str
    lines: tuple[int, ...] = ()  # the other lines the item is about («dòng 84, 130, 142: …»)

    @property
    def about(self) -> tuple[int, ...]:
        return (self.line, *self.lines)


class DraftCluster(TypedDict):
    """A cluster the plan names («Cụm …»): the issuer heads it, the units it lists are members."""

    id: str
    name: str
    head: str
    members: list[str]


@dataclass
class Draft:
    id: str
    title: str
    issuer: str
    period: str | dict[Literal["from", "to"], str]
    number: str | None = None
    issued: str | None = None
    units: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, where found
    clusters: list[DraftCluster] = field(default_factory=list)
    obligations: list[DraftObligation] = field(default_factory=list)
    review: list[ReviewItem] = field(default_factory=list)
    source: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ob in self.obligations:
            out[ob.kind] = out.get(ob.kind, 0) + 1
        return out
