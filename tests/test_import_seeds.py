"""Each seed document imported, compared with its hand-written plan in plans/.

Two figures per seed. *As written*: the draft as the importer writes it, which `kehoach check`
must accept without a single edit (review items are comments). *After review* (the issue's
measure, ≥ 90 %): the draft once a person has answered what its «CẦN XEM LẠI» section asks,
the answers being `tests/import_review/NNN.yaml`. A reviewer there may only touch the lines the
draft asks about (a month for a bare «hằng năm», the unit of a duty whose line names none, the
period of a «định kỳ» with none): an answer about any other line fails the test, so the importer
earns the figure only by finding each duty and flagging what it could not know.

Steps are compared by what they mean, not by ids (the draft's ids differ): for each obligation
the set of its due dates (before the holiday shift, since the draft cannot know the shift policy
the author chose), restricted to the days both plans cover (the hand-written Bình Tân plan ends
in April 2028, the document says "2023 - 2028"), and who does it. Two obligations match when
their date sets are equal and their units are the same: both the issuer (whose name differs:
«Ban Thường vụ Quận Đoàn» / «… Bình Tân»), or, neither being the issuer, two names of which
most words of the shorter are in the other («Nhà thiếu nhi Quận» / «Nhà thiếu nhi Quận Bình
Tân»; a cluster, group or «head:»
selector by its own name, its head unit's name and «cụm trưởng»). Recall: the hand-written
obligations that some draft obligation matches; precision: the draft obligations that match
some hand-written one. The recall by dates alone is printed beside it.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import pytest
import yaml

from engine.compiler import compile_plan
from engine.importing import Draft, import_lines, render
from engine.importing.units import key
from engine.loader import load_plan, parse_plan
from engine.plan import Plan
from engine.workdays import WorkingCalendar
from tests.outside import seed

ROOT = Path(__file__).resolve().parent.parent
PLANS = {
    "000": "cum-hcsn-2022.yaml",
    "001": "binh-tan-doi-2023-2028.yaml",
    "002": "sin-ho-tinh-nguyen-2024-2030.yaml",
    "003": "mao-khe-tthtcd-2021.yaml",
    "004": "kien-giang-tinh-nguyen-2013-2017.yaml",
}
#: Recall (dates + unit) of the draft as written, each seed's figure today, so that a regression
#: shows. What it misses is what the text does not say and the draft flags: a month for a bare
#: «hằng năm» (004's training, «quý II» by hand), the units of 003's street cleaning and library
#: («các khu phố» by hand), the period of a «định kỳ» with none (003's health checks, 004's
#: conferences). After review every seed reaches the issue's 0.9; the test prints both.
FLOOR = {"000": 0.95, "001": 0.94, "002": 0.95, "003": 0.86, "004": 0.73}
#: Precision each seed keeps, likewise today's figures.
#: (001: 15 of 18 since both are compared from the issue, 3/2024: the milestone of 02/2024 that
#: both had is no longer counted on either side.)
PRECISION_FLOOR = {"000": 0.9, "001": 0.83, "002": 1.0, "003": 0.92, "004": 0.91}
CALENDAR = WorkingCalendar()


def _seed(number: str) -> Path:
    return seed(number)  # skips with the reason when ../shared/seeds is absent (a fresh clone)


@cache
def drafted(number: str) -> tuple[Draft, str]:
    text = _seed(number).read_text(encoding="utf-8")
    lines = [(i, t) for i, t in enumerate(text.splitlines(), 1)]
    draft = import_lines(lines, _seed(number).name)
    return draft, render(draft)


def draft_text(number: str) -> str:
    return drafted(number)[1]


REVIEWS = ROOT / "tests" / "import_review"


@cache
def reviewed_text(number: str) -> tuple[str, int]:
    """The draft with the reviewer's answers applied, and how many answers there were."""
    draft, text = drafted(number)
    path = REVIEWS / f"{number}.yaml"
    if not path.exists():
        return text, 0
    review = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = yaml.safe_load(text)
    asked = {no: r for r in draft.review for no in r.about}
    line_of = {ob.id: ob.line for ob in draft.obligations}
    data["units"] += review.get("units") or []
    for answer in review["answers"]:
        no = answer["line"]
        assert no in asked, (
            f"seed {number}: the draft does not ask about line {no}, answered {answer}"
        )
        if "set" in answer:
            chosen = [
                o
                for o in data["obligations"]
                if line_of[o["id"]] == no and answer.get("id", o["id"]) == o["id"]
            ]
            assert chosen, f"seed {number}: no obligation of line {no} to edit ({answer})"
            for o in chosen:
                o.update(answer["set"])
        else:
            data["obligations"].append(
                {**answer["add"], "source": " ".join(asked[no].text.split())}
            )
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False), len(review["answers"])


Profile = tuple[frozenset[date], tuple[frozenset[str], ...], bool]


def _words(name: str) -> frozenset[str]:
    return frozenset(key(name).split())


def profiles(plan: Plan, selectors: dict[str, list[str]], lo: date, hi: date) -> dict[str, Profile]:
    """duty id → (due dates in [lo, hi], the words of each name of who does it, issuer only?).
    A selector's names: its own (unit, cluster or group); «head:X» also X's head unit's name
    and the words «cụm trưởng»."""
    dates: dict[str, set[date]] = {d.id: set() for d in plan.duties}
    for step in compile_plan(plan, CALENDAR):
        if lo <= step.occurrence.nominal <= hi:
            dates[step.duty.id].add(step.occurrence.nominal)
    out = {}
    for d in plan.duties:
        names: list[frozenset[str]] = []
        for selector in selectors.get(d.id) or [plan.issuer]:
            sel = selector
            if sel.startswith("head:"):
                names.append(frozenset({"cum", "truong"}))
                sel = sel[5:]
                if sel in plan.cluster_heads:
                    names.append(_words(plan.units[plan.cluster_heads[sel]]))
            names.append(_words(plan.names.get(sel, plan.units.get(sel, sel))))
        out[d.id] = (frozenset(dates[d.id]), tuple(names), set(d.responsible) == {plan.issuer})
    return out


def _selectors(text: str) -> dict[str, list[str]]:
    data = yaml.safe_load(text)
    out = {}
    for ob in data.get("obligations") or []:
        r = ob.get("responsible")
        out[ob["id"]] = [r] if isinstance(r, str) else list(r or [])
    return out


def _alike(a: frozenset[str], b: frozenset[str]) -> bool:
    """Two names of one unit: most words of the shorter name are in the other, at least two
    («Nhà thiếu nhi Quận» / «Nhà thiếu nhi Quận Bình Tân»; «Khối hành chính sự nghiệp» /
    «Cụm khu vực hành chính sự nghiệp»), or both say «cụm trưởng»."""
    if {"cum", "truong"} <= a and {"cum", "truong"} <= b and min(len(a), len(b)) <= 6:
        return True
    common = len(a & b)
    return common >= 2 and common >= 0.75 * min(len(a), len(b))


def same_unit(a: Profile, b: Profile) -> bool:
    """The issuer matches the issuer only (its name differs between the plans: «Ban Thường vụ
    Quận Đoàn» / «… Bình Tân»); any other unit matches by name."""
    if a[2] or b[2]:
        return a[2] and b[2]
    return any(_alike(x, y) for x in a[1] for y in b[1])


def compare(number: str, text: str) -> dict[str, float]:
    hand_text = (ROOT / "plans" / PLANS[number]).read_text(encoding="utf-8")
    hand = load_plan(ROOT / "plans" / PLANS[number])
    draft = parse_plan(text, "draft")  # `kehoach check` as written: raises if it would fail
    # from the plan's issue on: the hand plan has no step due before it (the draft may not know it)
    lo = max(hand.start, draft.start, hand.issued or hand.start, draft.issued or draft.start)
    hi = min(hand.end, draft.end)
    h = profiles(hand, _selectors(hand_text), lo, hi)
    d = profiles(draft, _selectors(text), lo, hi)
    h = {k: v for k, v in h.items() if v[0]}
    d = {k: v for k, v in d.items() if v[0]}
    by_dates = sum(1 for hv in h.values() if any(dv[0] == hv[0] for dv in d.values()))
    recall = sum(
        1 for hv in h.values() if any(dv[0] == hv[0] and same_unit(hv, dv) for dv in d.values())
    )
    precision = sum(
        1 for dv in d.values() if any(dv[0] == hv[0] and same_unit(hv, dv) for hv in h.values())
    )
    return {
        "hand": len(h),
        "draft": len(d),
        "recall": recall / len(h),
        "dates_only": by_dates / len(h),
        "precision": precision / len(d) if d else 0.0,
    }


@pytest.mark.parametrize("number", sorted(PLANS), ids=[f"seed-{n}" for n in sorted(PLANS)])
def test_seed_import_matches_hand_written_plan(
    number: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = compare(number, draft_text(number))
    with capsys.disabled():
        print(
            f"\nseed {number} as written: {r['hand']} obligations by hand, "
            f"{r['draft']} in the draft; recall {r['recall']:.0%} "
            f"(dates only {r['dates_only']:.0%}), precision {r['precision']:.0%}"
        )
    assert r["recall"] >= FLOOR[number], r
    assert r["precision"] >= PRECISION_FLOOR[number], r


@pytest.mark.parametrize("number", sorted(PLANS), ids=[f"seed-{n}" for n in sorted(PLANS)])
def test_seed_import_after_review_matches_hand_written_plan(
    number: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, answers = reviewed_text(number)
    r = compare(number, text)  # parse_plan inside: the reviewed draft passes `kehoach check`
    with capsys.disabled():
        review = len(drafted(number)[0].review)
        print(
            f"\nseed {number} after review ({answers} answers to {review} review items): "
            f"recall {r['recall']:.0%} (dates only {r['dates_only']:.0%}), "
            f"precision {r['precision']:.0%}"
        )
    assert r["recall"] >= 0.9, r
    assert r["precision"] >= PRECISION_FLOOR[number], r
