"""A feed: the steps of a unit, cluster, person or plan as one RFC 5545 calendar (icalendar).

    body = render(steps, Feed("Lịch Đoàn phường A", "https://kehoach.example.vn"), now)

Pure: the steps arrive as `FeedStep`s, `now` is a parameter. Each step is one VEVENT (see
`event`); cancelled steps stay CANCELLED_KEPT as STATUS:CANCELLED, then leave. DTSTAMP is the
feed's last change (`last_modified`) unless a stamp is given (golden files), so the same
content always gives the same bytes, and the HTTP edge can hash them for a stable ETag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import cast
from urllib.parse import quote

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    vCategory,
    vDDDTypes,
    vDuration,
    vInt,
    vText,
    vUri,
)

from engine import vi
from engine.model import ZONE as VN
from engine.model import Kind
from workflows.lifecycle import State

from .events import (
    EPOCH,
    TICK,
    FeedStep,
    Mark,
    dropped,
    last_change,
    mark,
    marker_changed,
    next_change,
    sequence,
    summary,
    uid,
)

PRODID = "-//kehoach//Lịch kế hoạch//VI"
REFRESH = timedelta(hours=1)
#: Kinds drawn as a date range from their window's start (others: on their due day).
RANGED = frozenset({Kind.PHASE.value, Kind.EVENT.value})
KINDS = frozenset(k.value for k in Kind)


@dataclass(frozen=True, slots=True)
class Feed:
    """What a feed is called and where the board is (for the link to each step)."""

    name: str  # X-WR-CALNAME
    board_url: str  # KEHOACH_PUBLIC_URL, without a trailing slash
    description: str = ""


def step_url(board_url: str, step_id: str) -> str:
    """The step's page on the board: `{board}/buoc/{step id}` (slashes kept, rest quoted).

    >>> step_url("https://kh.example.vn/", "binh-tan/dang-ky/2025-1/cum-y-te")
    'https://kh.example.vn/buoc/binh-tan/dang-ky/2025-1/cum-y-te'
    """
    return f"{board_url.rstrip('/')}/buoc/{quote(step_id, safe='/')}"


def feed_urls(public_url: str, token: str) -> tuple[str, str]:
    """A feed's address to open or paste (https://, as the public URL says) and to subscribe
    with one click (webcal://, which calendar apps take as "subscribe to this").

    >>> feed_urls("https://kh.example.vn/", "abc")
    ('https://kh.example.vn/lich/abc.ics', 'webcal://kh.example.vn/lich/abc.ics')
    """
    url = f"{public_url.rstrip('/')}/lich/{token}.ics"
    return url, "webcal://" + url.split("://", 1)[-1]


def timing(step: FeedStep) -> tuple[date | datetime, date | datetime | None]:
    """(DTSTART, DTEND or None): a time the plan gives → that local moment, no end; a phase
    or event over a window → its days (DTEND exclusive); else the whole due day. A granted
    extension moves the day (or moment) to the extended deadline."""
    f = step.facts
    extended = f.deadline > f.due_at
    if step.due_time is not None:
        moment = f.deadline if extended else datetime.combine(f.due_date, step.due_time, f.tz)
        return moment.astimezone(VN), None
    day = (f.deadline - TICK).astimezone(f.tz).date() if extended else f.due_date
    first = step.start_date if step.kind in RANGED and step.start_date else day
    return min(first, day), day + timedelta(days=1)


def _start_moment(start: date | datetime) -> datetime:
    if isinstance(start, datetime):
        return start
    return datetime.combine(start, datetime.min.time(), VN)


def kind_name(kind: str) -> str:
    """The kind as Vietnamese offices say it ("Hạn nộp", "Sự kiện", …)."""
    return vi.KINDS[Kind(kind)] if kind in KINDS else kind


def description(step: FeedStep, now: datetime, board_url: str, m: Mark | None = None) -> str:
    f, m = step.facts, m or mark(step, now)
    kind = kind_name(step.kind)
    when = vi.day(f.due_date) + (f" lúc {vi.clock(step.due_time)}" if step.due_time else "")
    if step.start_date and step.start_date < f.due_date:
        when = f"từ {step.start_date:%d/%m/%Y} đến {when}"
    lines = [
        f"Kế hoạch: {step.plan_title}",
        f"Nội dung: {step.title} ({kind.lower()})",
        f"Đơn vị thực hiện: {step.unit_name}",
        f"Thời hạn: {when}",
    ]
    if f.deadline > f.due_at:
        lines.append(f"Được gia hạn đến: {f.deadline.astimezone(f.tz):%H:%M %d/%m/%Y}")
    if step.details.get("place"):
        lines.append(f"Địa điểm: {step.details['place']}")
    if step.amount is not None:
        lines.append(f"Kinh phí đóng góp: {vi.money(step.amount)}")
    state = m.text + (
        f" ({step.cancel_reason})" if f.state == State.CANCELLED and step.cancel_reason else ""
    )
    lines.append(f"Trạng thái: {state}")
    if step.source.get("phrase"):
        lines.append(f"Theo kế hoạch: «{step.source['phrase']}»")
    lines.append(f"Xem và cập nhật: {step_url(board_url, step.id)}")
    return "\n".join(lines)


def event(step: FeedStep, now: datetime, stamp: datetime, board_url: str, with_unit: bool) -> Event:
    """One step as a VEVENT (module doc). Properties are set as typed values directly (not
    through `Event.add`, which looks each type up again: half the build time of a feed)."""
    f = step.facts
    ev = Event()
    ev["UID"] = vText(uid(step.id))
    ev["DTSTAMP"] = vDDDTypes(stamp)
    start, end = timing(step)
    ev["DTSTART"] = vDDDTypes(start)
    if end is not None:
        ev["DTEND"] = vDDDTypes(end)
    m, changed = mark(step, now), last_change(step, now)
    ev["SUMMARY"] = vText(summary(step, now, with_unit, m))
    ev["DESCRIPTION"] = vText(description(step, now, board_url, m))
    if step.details.get("place"):
        ev["LOCATION"] = vText(step.details["place"])
    ev["URL"] = vUri(step_url(board_url, step.id))
    ev["CATEGORIES"] = vCategory([kind_name(step.kind)])
    ev["SEQUENCE"] = vInt(sequence(step, now, changed))
    ev["LAST-MODIFIED"] = vDDDTypes(changed)
    ev["STATUS"] = vText(
        "CANCELLED"
        if f.state == State.CANCELLED
        else "TENTATIVE"
        if f.tentative and f.state == State.PENDING
        else "CONFIRMED"
    )
    ev["TRANSP"] = vText("OPAQUE" if step.kind == Kind.EVENT and end is None else "TRANSPARENT")
    if f.state == State.PENDING and now < f.deadline:  # no alarms for what is past
        begin = _start_moment(start)
        for moment in f.reminders:
            if moment < f.deadline:
                alarm = Alarm()
                alarm["ACTION"] = vText("DISPLAY")
                alarm["DESCRIPTION"] = vText(f"Nhắc việc: {step.title}")
                alarm["TRIGGER"] = vDuration(moment - begin)
                ev.add_component(alarm)
    return ev


def visible(steps: Sequence[FeedStep], now: datetime) -> list[FeedStep]:
    """The steps the feed shows, in date order (cancelled ones only CANCELLED_KEPT)."""
    return sorted(
        (s for s in steps if not dropped(s, now)),
        key=lambda s: (s.facts.due_date, s.due_time or datetime.min.time(), s.id),
    )


def last_modified(steps: Sequence[FeedStep], now: datetime) -> datetime:
    """The feed's last change: the latest of its steps' (a cancelled step leaving counts)."""
    moments = [last_change(s, now) for s in steps if not dropped(s, now)]
    moments += [m for s in steps if dropped(s, now) and (m := marker_changed(s, now))]
    return max(moments, default=EPOCH)


def valid_until(steps: Sequence[FeedStep], now: datetime) -> datetime | None:
    """Until when a feed built at `now` stays true, unless a step is written (None: forever)."""
    return min((m for s in steps if (m := next_change(s, now)) is not None), default=None)


@lru_cache(maxsize=32)
def _zone_ical(first_year: int, last_year: int) -> bytes:
    """Asia/Ho_Chi_Minh as a VTIMEZONE over these years, as `add_missing_timezones` makes it
    for a calendar holding one event in the zone. Made once per range of years: in a big feed
    the library's own walk over every event for the zones it uses costs a third of the build,
    and a feed only ever uses this zone (every moment here is in it or in UTC)."""
    probe = Calendar()
    ev = Event()
    ev["DTSTART"] = vDDDTypes(datetime(first_year, 1, 1, tzinfo=VN))
    probe.add_component(ev)
    probe.add_missing_timezones(date(first_year, 1, 1), date(last_year + 1, 1, 1))
    return cast(bytes, probe.timezones[0].to_ical())


def build(
    steps: Sequence[FeedStep], feed: Feed, now: datetime, stamp: datetime | None = None
) -> Calendar:
    """The calendar of `steps` at `now`; DTSTAMP is `stamp` or the feed's last change."""
    cal = Calendar()
    cal["PRODID"] = vText(PRODID)
    cal["VERSION"] = vText("2.0")
    cal["CALSCALE"] = vText("GREGORIAN")
    cal["METHOD"] = vText("PUBLISH")
    cal["X-WR-CALNAME"] = vText(feed.name)
    cal["NAME"] = vText(feed.name)
    if feed.description:
        cal["X-WR-CALDESC"] = vText(feed.description)
    cal["X-WR-TIMEZONE"] = vText(VN.key)
    refresh = vDuration(REFRESH)
    refresh.params["VALUE"] = "DURATION"
    cal["REFRESH-INTERVAL"] = refresh
    cal["X-PUBLISHED-TTL"] = vDuration(REFRESH)
    shown = visible(steps, now)
    stamp = stamp or last_modified(steps, now)
    with_unit = len({s.facts.unit for s in shown}) > 1
    if any(s.due_time is not None for s in shown):
        years = [s.facts.due_date.year for s in shown]
        cal.add_component(Timezone.from_ical(_zone_ical(min(years) - 1, max(years) + 1)))
    for step in shown:
        cal.add_component(event(step, now, stamp, feed.board_url, with_unit))
    return cal


def fold(line: str, limit: int = 74) -> bytes:
    r"""One content line folded as icalendar folds it (RFC 5545 3.1: at most `limit` octets
    before each fold, never inside a UTF-8 character, an escape's backslash kept with what it
    escapes), byte for byte, but cut by octets rather than looked at character by character.

    >>> fold("DESCRIPTION:" + "ạ" * 30).split(b"\r\n ")[0].decode()
    'DESCRIPTION:ạạạạạạạạạạạạạạạạạạạạ'
    """
    data = line.encode("utf-8")
    if len(data) <= limit:
        return data
    parts, start = [], 0
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            cut -= 1
        if data[cut - 1] in b"\\^" and cut - 1 > start:
            cut -= 1
        parts.append(data[start:cut])
        start = cut
    parts.append(data[start:])
    return b"\r\n ".join(parts)


def to_ical(cal: Calendar) -> bytes:
    """`cal.to_ical(sorted=False)`, the same bytes, three times faster on a big feed: the
    library makes the content lines (escaping, parameters, values), `fold` folds them (the
    library's fold, a loop over every character, was most of a 500-event feed's time)."""
    return b"".join(fold(line) + b"\r\n" for line in cal.content_lines(sorted=False) if line)


def render(
    steps: Sequence[FeedStep], feed: Feed, now: datetime, stamp: datetime | None = None
) -> bytes:
    """The feed's bytes: `to_ical(build(…))` (CRLF lines, folded at 75 octets)."""
    return to_ical(build(steps, feed, now, stamp))
