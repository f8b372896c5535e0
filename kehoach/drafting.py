"""From an imported document to a plan file, by a person answering questions in the browser.

The draft's JSON document (kehoach.store.drafts) holds the plan as its YAML file would
(`plan`), the importer's review questions and which of them were answered, the document's
lines and the line each obligation came from, and the choice made for each unit found in the
text (an existing unit, matched by name without diacritics, or a new one). Everything here is
a function of that document (and of what the store knows, passed in): the pages only show
and store it.

    doc = new_document(lines, "ke-hoach.docx", known={"thanh-doan": "Thành Đoàn"}, issuer=...)
    doc, problems = apply_form(doc, form)      # a secretary's answers
    text = plan_text(doc)                      # the YAML that `kehoach load` would read
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from engine.compiler import Step, compile_plan
from engine.errors import PlanError, PlanErrors
from engine.importing import KIND_NAMES, import_lines, render
from engine.importing.units import key
from engine.loader import parse_plan
from engine.phrases import parse_clock, parse_when
from engine.plan import Plan, parse_money, parse_offset, parse_period
from engine.rules import expand
from engine.workdays import WorkingCalendar
from workflows.lifecycle import State

#: What a secretary may change of an obligation in the form, in the order the form shows it.
FIELDS = ("title", "kind", "when", "time", "responsible", "place", "amount", "reminders")
#: Fields a blank answer removes (the plan's default applies).
OPTIONAL = ("time", "place", "amount", "reminders")
NEW = ""  # a unit's choice: keep it as a new unit


@dataclass
class Problems:
    """What stops a draft from being published: by obligation index, and for the whole plan."""

    by_obligation: dict[int, list[str]] = field(default_factory=dict)
    plan: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_obligation or self.plan)

    def add(self, index: int | None, message: str) -> None:
        if index is None:
            self.plan.append(message)
        else:
            self.by_obligation.setdefault(index, []).append(message)


def new_document(
    lines: Sequence[tuple[int, str, bool]], source: str, *, known: Mapping[str, str], issuer: str
) -> dict[str, Any]:
    """The draft document of an uploaded file's lines: the importer's draft with its units
    matched to the `known` ones (id → name) and its issuer made the uploader's body."""
    draft = import_lines(list(lines), source)
    plan = yaml.safe_load(render(draft)) or {}
    by_key: dict[str, list[str]] = {}
    for unit_id, name in known.items():
        by_key.setdefault(key(name), []).append(unit_id)
    choices = {}
    for unit in plan.get("units") or []:
        matches = by_key.get(key(unit["name"]), [])
        choices[unit["id"]] = (
            issuer
            if unit["id"] == plan.get("issuer")
            else (matches[0] if len(matches) == 1 else NEW)
        )
    return {
        "plan": plan,
        "review": [
            {"line": r.line, "text": r.text, "reason": r.reason, "lines": list(r.lines)}
            for r in draft.review
        ],
        "answered": [False] * len(draft.review),
        "lines": [[n, text] for n, text, _ in lines],
        "lines_of": {ob.id: ob.line for ob in draft.obligations},
        "units": choices,
    }


def document_of_plan(text: str) -> dict[str, Any]:
    """The draft document to edit a published plan: its file, no question to answer."""
    plan = yaml.safe_load(text) or {}
    return {
        "plan": plan,
        "review": [],
        "answered": [],
        "lines": [],
        "lines_of": {},
        "units": {u["id"]: u["id"] for u in plan.get("units") or []},
    }


def context(
    doc: Mapping[str, Any], item: Mapping[str, Any], around: int = 2
) -> list[tuple[int, str, bool]]:
    """The lines around a review item's sentence, the item's own lines marked."""
    about = {item["line"], *item.get("lines", ())}
    numbers = [n for n, _ in doc["lines"]]
    keep = {n for n in numbers if any(abs(n - a) <= around for a in about)}
    return [(n, text, n in about) for n, text in doc["lines"] if n in keep and text.strip()]


def obligations_of(doc: Mapping[str, Any], item: Mapping[str, Any]) -> list[int]:
    """Indexes of the obligations a review item is about (those drawn from its lines)."""
    about = {item["line"], *item.get("lines", ())}
    lines_of = doc["lines_of"]
    return [
        i
        for i, ob in enumerate(doc["plan"].get("obligations") or [])
        if lines_of.get(ob.get("id")) in about
    ]


def selectors(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(id, name) of everything an obligation may be given to: units, clusters, groups."""
    plan = doc["plan"]
    return [
        (u["id"], u["name"])
        for section in ("units", "clusters", "groups")
        for u in plan.get(section) or []
    ]


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def apply_form(doc: dict[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    """The document with a submitted form's answers: each obligation's fields, removals, an
    added obligation, the units' choices and the review items marked as answered. `form`
    maps a field name to its value, or to a list for several values (responsible)."""
    plan = dict(doc["plan"])
    obligations: list[dict[str, Any]] = []
    for i, given in enumerate(plan.get("obligations") or []):
        if form.get(f"ob-{i}-drop"):
            continue
        ob = dict(given)
        for name in FIELDS:
            if f"ob-{i}-{name}" not in form:
                continue
            value = form[f"ob-{i}-{name}"]
            if name == "responsible":
                chosen = _listed(value)
                if chosen:
                    ob[name] = chosen[0] if len(chosen) == 1 else chosen
                else:
                    ob.pop(name, None)  # the issuer
            elif name == "reminders" and isinstance(value, str) and value.strip():
                ob[name] = [
                    part.strip() for part in value.replace(";", ",").split(",") if part.strip()
                ]
            elif isinstance(value, str) and value.strip():
                ob[name] = " ".join(value.split())
            elif name in OPTIONAL:
                ob.pop(name, None)
        obligations.append(ob)
    title = " ".join(str(form.get("new-title") or "").split())
    if title:
        taken = {ob["id"] for ob in obligations}
        base = _slug(title)
        new_id, n = base, 2
        while new_id in taken:
            new_id, n = f"{base}-{n}", n + 1
        added: dict[str, Any] = {
            "id": new_id,
            "kind": str(form.get("new-kind") or "deadline"),
            "title": title,
            "when": " ".join(str(form.get("new-when") or "").split()),
        }
        chosen = _listed(form.get("new-responsible"))
        if chosen:
            added["responsible"] = chosen[0] if len(chosen) == 1 else chosen
        if str(form.get("new-amount") or "").strip():
            added["amount"] = str(form["new-amount"]).strip()
        obligations.append(added)
    plan["obligations"] = obligations
    units = dict(doc["units"])
    for unit_id in units:
        if f"unit-{unit_id}" in form and unit_id != plan.get("issuer"):
            units[unit_id] = str(form[f"unit-{unit_id}"])
    answered = [bool(form.get(f"answered-{k}")) or was for k, was in enumerate(doc["answered"])]
    return {**doc, "plan": plan, "units": units, "answered": answered}


def _slug(text: str) -> str:
    return "-".join(key(text).split()[:8]) or "nghia-vu"


def final_plan(doc: Mapping[str, Any], known: Mapping[str, str]) -> dict[str, Any]:
    """The plan with each unit replaced by the existing unit chosen for it (its name as the
    store has it: publishing never renames a unit other plans share)."""
    mapping = {u: chosen for u, chosen in doc["units"].items() if chosen and chosen != u}

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return mapping.get(value, value)
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    plan = dict(doc["plan"])
    plan["issuer"] = rename(plan.get("issuer"))
    units: dict[str, dict[str, Any]] = {}
    for u in plan.get("units") or []:
        unit_id = rename(u["id"])
        units.setdefault(unit_id, {**u, "id": unit_id, "name": known.get(unit_id, u["name"])})
    plan["units"] = list(units.values())
    plan["clusters"] = [
        {**c, "head": rename(c.get("head")), "members": rename(c.get("members") or [])}
        for c in plan.get("clusters") or []
    ]
    if "groups" in plan:
        plan["groups"] = [{**g, "members": rename(g.get("members") or [])} for g in plan["groups"]]
    plan["obligations"] = [_renamed(ob, rename) for ob in plan.get("obligations") or []]
    return {k: v for k, v in plan.items() if v not in (None, [])} | {
        "obligations": plan["obligations"]
    }


def _renamed(ob: Mapping[str, Any], rename: Any) -> dict[str, Any]:
    out = dict(ob)
    for name in ("responsible", "participants"):
        if name in out:
            out[name] = rename(out[name])
    if isinstance(out.get("amounts"), dict):
        out["amounts"] = {rename(k): v for k, v in out["amounts"].items()}
    return out


def plan_text(doc: Mapping[str, Any], known: Mapping[str, str]) -> str:
    """The plan file's text (what `kehoach load` reads, what is downloaded)."""
    return yaml.safe_dump(final_plan(doc, known), allow_unicode=True, sort_keys=False, width=100)


def check(doc: Mapping[str, Any], known: Mapping[str, str]) -> tuple[Plan | None, Problems]:
    """The plan if it is ready to publish, and what is wrong (by obligation where possible)."""
    problems = Problems()
    plan = doc["plan"]
    period = None
    try:
        period = parse_period(plan.get("period"))
    except (PlanError, TypeError):
        problems.add(None, f"thời gian của kế hoạch «{plan.get('period')}» không hợp lệ")
    names = dict(selectors(doc))
    for i, ob in enumerate(plan.get("obligations") or []):
        if ob.get("kind") not in KIND_NAMES:
            problems.add(i, f"loại «{ob.get('kind')}» không hợp lệ")
        try:
            schedule = parse_when(
                str(ob.get("when") or ""),
                default_year=period[0].year
                if period and period[0].year == period[1].year
                else None,
            )
            if period and not expand(schedule.rule, *period):
                problems.add(i, "thời gian này không rơi vào ngày nào của kế hoạch")
        except (PlanError, ValueError) as exc:
            problems.add(i, f"thời gian «{ob.get('when')}»: {getattr(exc, 'message', exc)}")
        for unit in _listed(ob.get("responsible")):
            if unit not in names:
                problems.add(i, f"không có đơn vị, cụm hay nhóm «{unit}»")
        if ob.get("kind") == "contribution" and not (ob.get("amount") or ob.get("amounts")):
            problems.add(i, "khoản đóng góp cần số tiền")
        for name, parse in (("time", parse_clock), ("amount", parse_money)):
            if ob.get(name):
                try:
                    parse(ob[name])
                except PlanError as exc:
                    problems.add(i, f"«{ob[name]}»: {exc.message}")
        for offset in _listed(ob.get("reminders")):
            try:
                parse_offset(offset)
            except PlanError as exc:
                problems.add(i, f"nhắc trước «{offset}»: {exc.message}")
    left = sum(1 for done in doc["answered"] if not done)
    if left:
        problems.add(None, f"còn {left} câu hỏi chưa trả lời")
    if problems.by_obligation:
        return None, problems
    try:
        found = parse_plan(plan_text(doc, known), "bản nháp")
    except PlanErrors as exc:
        for error in exc.errors:
            problems.add(None, error.message + (f" — «{error.text}»" if error.text else ""))
        return None, problems
    return (None if problems else found), problems


def describe_when(text: str, period: Any) -> tuple[bool, str]:
    """What a `when:` phrase means in a plan of `period`, as the form says it while typing."""
    try:
        first, last = parse_period(period)
        schedule = parse_when(text, default_year=first.year if first.year == last.year else None)
        found = expand(schedule.rule, first, last)
    except (PlanError, ValueError, TypeError) as exc:
        return False, str(getattr(exc, "message", exc))
    if not found:
        return False, "không rơi vào ngày nào trong thời gian của kế hoạch"
    days = [f"{due:%d/%m/%Y}" for _, _, due in found[:4]]
    more = f" … ({len(found)} lần)" if len(found) > 4 else ""
    return True, ", ".join(days) + more


@dataclass(frozen=True)
class Preview:
    steps: list[Step]
    per_unit: list[tuple[str, int]]
    months: list[tuple[str, list[Step]]]
    added: list[Step]
    moved: list[tuple[Step, Any]]
    cancelled: list[Any]


def preview(plan: Plan, stored: Mapping[str, Any], calendar: WorkingCalendar) -> Preview:
    """The agenda of the plan, its steps per unit and, for a plan already loaded, what
    publishing would change (`stored`: step id → a row with due_at and state)."""
    steps = compile_plan(plan, calendar)
    counts = Counter(s.unit for s in steps)
    per_unit = sorted(
        ((plan.units.get(u, u), n) for u, n in counts.items()), key=lambda x: (-x[1], x[0])
    )
    months: dict[str, list[Step]] = {}
    for s in steps:
        months.setdefault(f"{s.occurrence.date:%m/%Y}", []).append(s)
    ids = {s.id for s in steps}
    added = [s for s in steps if s.id not in stored]
    moved = [
        (s, stored[s.id])
        for s in steps
        if s.id in stored
        and stored[s.id].state != State.CANCELLED
        and stored[s.id].due_at != s.occurrence.due_at
    ]
    cancelled = [
        row for sid, row in stored.items() if sid not in ids and row.state == State.PENDING
    ]
    return Preview(steps, per_unit, list(months.items()), added, moved, cancelled)


def unit_choices(doc: Mapping[str, Any], known: Mapping[str, str]) -> list[dict[str, Any]]:
    """For the units section: each unit of the draft, its choice and the existing units whose
    name matches (diacritics and case aside; the chosen one first)."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    for unit_id, name in known.items():
        by_key.setdefault(key(name), []).append((unit_id, name))
    out = []
    for unit in doc["plan"].get("units") or []:
        matches = by_key.get(key(unit["name"]), [])
        out.append(
            {
                "id": unit["id"],
                "name": unit["name"],
                "chosen": doc["units"].get(unit["id"], NEW),
                "matches": matches,
                "issuer": unit["id"] == doc["plan"].get("issuer"),
            }
        )
    return out


def form_items(doc: Mapping[str, Any]) -> int:
    """How many things a person must answer before publishing (the bench reports it)."""
    return len(doc["review"])


def first_day(period: Any) -> date | None:
    try:
        return parse_period(period)[0]
    except (PlanError, TypeError):
        return None
