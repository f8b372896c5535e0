"""The plan file format: English keys, Vietnamese content. Its JSON Schema is published
as `schema/plan.schema.json` (`kehoach schema` prints it).

The schema checks shapes; `engine.plan.resolve` checks meaning (references, dates, phrases).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .workdays import ShiftPolicy

#: Việt Nam's one time zone (UTC+7, no daylight saving): a plan's default, and where every
#: date a person reads is told. Defined here only; the other packages import it.
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=120)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
#: "7d", "1d", "2h", "30m" (also "7 ngày", "2 giờ", "30 phút"); days count back to the reminder
#: hour.
Offset = Annotated[str, Field(examples=["7d", "1d", "2h", "7 ngày"])]
#: A sum in đồng: 500000, or as written, "500.000 đồng".
Money = Annotated[int | str, Field(examples=[500000, "500.000 đồng"])]
#: Who: a unit, cluster or group id (a cluster or group means each of its members),
#: "head:<cluster>" (its head unit), "head:*" (every cluster head), "*" (every unit but the issuer).
Selector = Annotated[str, Field(examples=["doan-so-y-te", "cum-hcsn", "head:*", "*"])]


class Kind(StrEnum):
    EVENT = "event"
    DEADLINE = "deadline"
    PHASE = "phase"
    MILESTONE = "milestone"
    CONTRIBUTION = "contribution"
    TARGET = "target"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Unit(_Strict):
    id: Id
    name: Text
    short: str | None = None
    parent: Id | None = Field(None, description="The unit above (default: the issuer).")
    aliases: list[str] = Field(default_factory=list, description="Other names the documents use.")


class Cluster(_Strict):
    """A cluster (cụm) of units; its head unit (cụm trưởng) follows up on the members."""

    id: Id
    name: Text
    head: Id
    members: list[Id] = Field(min_length=1)


class Group(_Strict):
    """A named set of units, e.g. "Khối trường học"; members may be units, clusters or groups."""

    id: Id
    name: Text
    members: list[Id] = Field(min_length=1)


class Level(_Strict):
    """One rung of the escalation ladder: who hears, how long after the due moment."""

    after: Offset
    to: Literal["responsible", "cluster_head", "parent", "issuer"] | Selector | list[Selector]


class WhenSpec(_Strict):
    """The structured `when:` for what the phrase grammar does not cover."""

    dates: list[str] | None = Field(None, description="Explicit dates: 2022-05-19 or 19/5/2022.")
    rrule: str | None = Field(
        None, description="An RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYMONTHDAY=-1."
    )
    start: str | None = Field(
        None, description="The RRULE's first day (default: the plan's start)."
    )
    from_: str | None = Field(None, alias="from", description="A window's first day.")
    to: str | None = Field(None, description="A window's last day (the due date).")
    time: str | None = None
    tentative: bool = False


class Obligation(_Strict):
    id: Id
    kind: Kind
    title: Text
    when: Text | WhenSpec
    time: str | None = Field(None, description="Clock time if the phrase has none: 08:00, 14h30.")
    place: str | None = None
    responsible: Selector | list[Selector] | None = Field(None, description="Default: the issuer.")
    participants: list[Selector] = Field(default_factory=list)
    amount: Money | None = Field(None, description="Contribution owed by each responsible unit.")
    amounts: dict[Selector, Money] | None = Field(None, description="Amounts that differ by unit.")
    quantity: float | None = Field(None, description="Target: how many (per occurrence).")
    measure: str | None = Field(None, description="Target: of what (thư viện, suất học bổng, …).")
    percent: float | None = Field(None, ge=0, le=100)
    tentative: bool | None = Field(
        None, description="Default: true when the phrase says «dự kiến»."
    )
    shift: ShiftPolicy | None = None
    reminders: list[Offset] | None = None
    escalation: list[Level] | None = None
    note: str | None = None
    source: str | None = Field(None, description="The sentence of the original document.")
    before_issue: bool = Field(
        False,
        description="Keep the occurrences due before the plan's "
        "«issued» date (default: they are history, not steps).",
    )


class PlanFile(_Strict):
    id: Id
    title: Text
    issuer: Id = Field(description="The unit that issues the plan and hears the last escalation.")
    number: str | None = None
    issued: str | None = Field(
        None,
        description="Date of issue, e.g. 29/4/2022 (or a month, "
        "3/2024). No step is due before it unless the obligation says "
        "«before_issue: true».",
    )
    period: str | dict[Literal["from", "to"], str | int] = Field(
        description='"2023 - 2028", "2022", or {from: "2023", to: "04/2028"}.'
    )
    timezone: str = ZONE.key
    shift: ShiftPolicy = Field(ShiftPolicy.NEXT, description="For deadlines on weekends/holidays.")
    reminder_time: str = Field("08:00", description="Hour at which day-offset reminders are sent.")
    reminders: dict[Kind, list[Offset]] = Field(default_factory=dict)
    escalation: list[Level] | None = None
    units: list[Unit] = Field(min_length=1)
    clusters: list[Cluster] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    obligations: list[Obligation] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    schema = PlanFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kehoach.example/schema/plan.schema.json"
    return schema
