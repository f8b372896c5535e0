"""The importer scored on real schedule sentences nobody on the team wrote (tests/corpus/).

Each sentence of `tests/corpus/sentences.yaml` is imported as the one line of a plan of its
page's year, and its outcome is one of:

- *right*: the obligations drafted from the line give the expected dates (windows and due days,
  over the year before to two years after) and clock time, and a tentative date is flagged;
  for a sentence that states no duty of the plan, nothing is drafted and nothing asked;
- *flagged*: not right, but the draft asks about the line in «CẦN XEM LẠI»;
- *silently wrong*: an obligation is drafted from the line, not right, and nothing is asked;
- *missed*: a duty the line states gives neither an obligation nor a question.

The floors are today's figures: they may rise, never fall. `python tests/test_import_corpus.py`
prints every sentence that is not right.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))

from engine.errors import PlanError
from engine.importing import import_lines, render
from engine.phrases import parse_when
from engine.rules import expand

CORPUS = Path(__file__).resolve().parent / "corpus" / "sentences.yaml"
LINE = 5  # the sentence's line in the generated plan
#: Review items about who does a duty, not about its date: they do not make a line «flagged».
UNIT_ONLY = ("đã giao cho đơn vị ban hành",)
#: The floors (counts out of the corpus): right may only rise, silently wrong + missed only fall.
FLOOR_RIGHT = 163
CEILING_SILENT = 6


@dataclass(frozen=True)
class Outcome:
    id: int
    verdict: str  # right | flagged | wrong | missed
    text: str
    expected: str
    got: str


def load() -> list[dict[str, object]]:
    return list(yaml.safe_load(CORPUS.read_text(encoding="utf-8")))


def occurrences(phrase: str, year: int) -> tuple[frozenset[tuple[date | None, date]], time | None]:
    schedule = parse_when(phrase, default_year=year)
    first, last = date(year - 1, 1, 1), date(year + 2, 12, 31)
    found = frozenset((start, due) for _, start, due in expand(schedule.rule, first, last))
    return found, schedule.time


def score(entry: dict[str, object]) -> Outcome:
    year, text, kind = int(entry["year"]), str(entry["text"]), str(entry["kind"])  # type: ignore[call-overload]
    lines = [
        (1, "KẾ HOẠCH"),
        (2, f"Hoạt động năm {year}"),
        (3, ""),
        (4, "II. NỘI DUNG"),
        (LINE, text),
    ]
    draft = import_lines(lines, "corpus.txt")
    render(draft)  # moves to review what `kehoach check` would refuse
    obs = [ob for ob in draft.obligations if ob.line == LINE]
    asked = [r for r in draft.review if LINE in r.about and not r.reason.startswith(UNIT_ONLY)]
    got = "; ".join(f"{ob.kind}: {ob.when}" for ob in obs) + (
        " | hỏi: " + "; ".join(r.reason[:70] for r in asked) if asked else ""
    )
    wanted = entry.get("when")
    expected = kind if wanted is None else f"{kind}: {wanted}"
    if kind in ("none", "ask"):
        right = kind == "none" and not obs and not asked
    else:
        phrases = wanted if isinstance(wanted, list) else [wanted]
        want: set[tuple[date | None, date]] = set()
        times = set()
        for p in phrases:
            occ, at = occurrences(str(p), year)
            want |= occ
            times.add(at)
        have: set[tuple[date | None, date]] = set()
        have_times = set()
        try:
            for ob in obs:
                occ, at = occurrences(ob.when, year)
                have |= occ
                have_times.add(at)
        except (
            PlanError,
            ValueError,
        ):  # a deadline counted from the plan's issue or another obligation
            have = set()
        tentative_ok = not entry.get("tentative") or any(
            "dự kiến" in " ".join(ob.reasons) for ob in obs
        )
        right = bool(obs) and have == want and have_times == times and tentative_ok
    verdict = "right" if right else "flagged" if asked else "wrong" if obs else "missed"
    return Outcome(int(entry["id"]), verdict, text, expected, got)  # type: ignore[call-overload]


@cache
def results() -> tuple[Outcome, ...]:
    return tuple(score(e) for e in load())


def summary(outcomes: tuple[Outcome, ...]) -> dict[str, int]:
    counts = {"right": 0, "flagged": 0, "wrong": 0, "missed": 0}
    for o in outcomes:
        counts[o.verdict] += 1
    return counts


def test_corpus_is_real_and_well_formed() -> None:
    entries = load()
    assert len(entries) >= 150
    for e in entries:
        assert str(e["url"]).startswith("http") and len(str(e["text"])) < 400, e["id"]
        for p in e["when"] if isinstance(e.get("when"), list) else [e.get("when")]:  # type: ignore[union-attr]
            if p is not None:
                parse_when(str(p), default_year=int(e["year"]))  # type: ignore[call-overload]


def test_importer_score_on_the_corpus() -> None:
    counts = summary(results())
    total = sum(counts.values())
    print(
        f"\nkho câu thật ({total} câu): đúng {counts['right']}, hỏi lại {counts['flagged']}, "
        f"sai im lặng {counts['wrong']}, bỏ sót {counts['missed']}"
    )
    assert counts["right"] >= FLOOR_RIGHT
    assert counts["wrong"] + counts["missed"] <= CEILING_SILENT


if __name__ == "__main__":
    outcomes = results()
    for o in outcomes:
        if o.verdict != "right" and (len(sys.argv) < 2 or o.verdict in sys.argv[1:]):
            print(
                f"[{o.id}] {o.verdict.upper()}: {o.text}\n      muốn: {o.expected}\n"
                f"      được: {o.got}"
            )
    print(summary(outcomes))
