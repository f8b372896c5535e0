"""A draft → the text of a plan file that `kehoach check` accepts, review items as comments.

Each obligation says where it came from and how sure the importer is, in a comment above it.
The draft is checked with the plan loader itself; an obligation the loader refuses is moved to
the review section with the loader's reason, so what is left always passes `check`.
"""

from __future__ import annotations

import bisect
import json
import re

from engine.errors import PlanError, PlanErrors
from engine.loader import parse_plan
from engine.plan import parse_period

from .assemble import defaulted_units
from .model import Draft, DraftObligation, ReviewItem

KIND_NAMES = {
    "event": "sự kiện",
    "deadline": "hạn nộp/báo cáo",
    "phase": "giai đoạn/đợt",
    "milestone": "mốc",
    "contribution": "đóng góp",
    "target": "chỉ tiêu",
}


def q(value: object) -> str:
    """A YAML scalar: strings double-quoted (JSON is valid YAML), numbers as they are."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def i(value: str) -> str:
    """An id: plain when YAML reads it back as the same string, else quoted («2024», «no»)."""
    plain = re.fullmatch(r"[a-z][a-z0-9_.-]*", value) and value not in _YAML_WORDS
    return value if plain else q(value)


_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _obligation(ob: DraftObligation) -> list[str]:
    why = f" · {'; '.join(ob.reasons)}" if ob.reasons else ""
    out = [
        f"  # dòng {ob.line} · độ tin cậy {ob.level} ({ob.confidence:.2f}){why}",
        f"  - id: {i(ob.id)}",
        f"    kind: {ob.kind}",
        f"    title: {q(ob.title)}",
        f"    when: {q(ob.when)}",
    ]
    if ob.responsible is not None:
        listed = (
            q(ob.responsible)
            if isinstance(ob.responsible, str)
            else "[" + ", ".join(map(i, ob.responsible)) + "]"
        )
        out.append(f"    responsible: {listed}")
    for name in ("place", "amount", "quantity", "measure", "percent"):
        value = getattr(ob, name)
        if value is not None:
            out.append(f"    {name}: {q(value)}")
    if ob.amounts:
        out.append("    amounts:")
        out += [f"      {i(uid)}: {q(v)}" for uid, v in ob.amounts.items()]
    out.append(f"    source: {q(ob.source)}")
    return out


def render_text(draft: Draft) -> str:
    lines = [
        f"# Bản nháp nhập từ {draft.source} (kehoach import). Hãy đọc lại trước khi dùng:",
        "# mỗi nghĩa vụ ghi dòng gốc và độ tin cậy; các mục cần xem lại ở cuối tệp.",
        f"id: {i(draft.id)}",
        f"title: {q(draft.title)}",
        f"issuer: {i(draft.issuer)}",
    ]
    if draft.number:
        lines.append(f"number: {q(draft.number)}")
    if draft.issued:
        lines.append(f"issued: {q(draft.issued)}")
    period = draft.period
    lines.append(
        f"period: {q(period)}"
        if isinstance(period, str)
        else f"period: {{from: {q(period['from'])}, to: {q(period['to'])}}}"
    )
    lines.append("units:")
    for uid, name, origin in draft.units:
        lines.append(f"  - {{id: {i(uid)}, name: {q(name)}}}  # {origin}")
    if draft.clusters:
        lines.append("clusters:")
        for c in draft.clusters:
            members = ", ".join(i(str(m)) for m in c["members"])
            lines.append(
                f"  - {{id: {i(str(c['id']))}, name: {q(c['name'])}, head: {i(str(c['head']))}, "
                f"members: [{members}]}}"
            )
    lines.append("obligations:" if draft.obligations else "obligations: []")
    for ob in draft.obligations:
        lines += _obligation(ob)
    if draft.review:
        lines += [
            "",
            f"# ---- CẦN XEM LẠI ({len(draft.review)} mục): có vẻ là ngày hoặc việc "
            "nhưng chưa hiểu chắc ----",
        ]
        for r in draft.review:
            lines.append(
                f"# dòng {r.line}: «{' '.join(r.text.split())}» — {' '.join(r.reason.split())}"
            )
    return "\n".join(lines) + "\n"


def _outside_period(draft: Draft) -> None:
    """Dated obligations outside the plan's period, moved to review before the (slower) loader."""
    try:
        start, end = parse_period(draft.period)
    except PlanError:
        return
    kept = []
    for ob in draft.obligations:
        out = [d for d in ob.dues if not start <= d <= end]
        if out:
            draft.review.append(
                ReviewItem(
                    ob.line,
                    ob.source,
                    f"«{ob.when}»: ngày {out[0]:%d/%m/%Y} nằm ngoài "
                    f"thời gian của kế hoạch ({start:%d/%m/%Y} – {end:%d/%m/%Y})",
                )
            )
        else:
            kept.append(ob)
    draft.obligations = kept
    draft.review.sort(key=lambda r: r.line)


def _placeholder(draft: Draft) -> None:
    """A draft with no obligation would not pass `check`: one milestone at the plan's start,
    to be replaced, said so in its comment and in the review."""
    try:
        start, _ = parse_period(draft.period)
    except PlanError:
        return
    when = f"ngày {start:%d/%m/%Y}"
    draft.obligations.append(
        DraftObligation(
            id="thay-bang-cac-viec-cua-ke-hoach",
            kind="milestone",
            title="Mục giữ chỗ: thay bằng các việc của kế hoạch",
            when=when,
            line=1,
            source=draft.title,
            confidence=0.0,
            reasons=["không tìm thấy việc nào có ngày hay chu kỳ"],
            dues=(start,),
        )
    )
    draft.review.insert(
        0,
        ReviewItem(
            1,
            draft.title,
            "không tìm thấy việc nào có ngày hay chu kỳ: bản nháp có một "
            f"mục giữ chỗ ({when}) để `kehoach check` nhận; hãy thay bằng các việc "
            "của kế hoạch",
        ),
    )


def render(draft: Draft, max_rounds: int = 5) -> str:
    """The plan file's text; obligations the loader refuses go to the review section."""
    _outside_period(draft)
    text = _render(draft, max_rounds)
    if not draft.obligations:
        _placeholder(draft)
        text = _render(draft, max_rounds)
    defaulted_units(draft, draft.review)
    draft.review.sort(key=lambda r: r.line)
    return render_text(draft) if draft.obligations else text


def _render(draft: Draft, max_rounds: int) -> str:
    for _ in range(max_rounds):
        text = render_text(draft)
        try:
            parse_plan(text, "<bản nháp>")
            return text
        except PlanErrors as exc:
            rows = text.splitlines()
            first = rows.index("obligations:") if "obligations:" in rows else len(rows)
            starts = [k + 1 for k in range(first, len(rows)) if rows[k].startswith("  - id: ")]
            bad: dict[int, str] = {}
            for e in exc.errors:
                k = bisect.bisect_right(starts, e.position.line if e.position else 0) - 1
                if 0 <= k < len(draft.obligations):
                    bad.setdefault(k, e.message)
            if not bad:
                return text  # a plan-level problem: leave it for `check` to report
            for k in sorted(bad, reverse=True):
                ob = draft.obligations.pop(k)
                draft.review.append(ReviewItem(ob.line, ob.source, f"«{ob.when}»: {bad[k]}"))
            draft.review.sort(key=lambda r: r.line)
    return render_text(draft)
