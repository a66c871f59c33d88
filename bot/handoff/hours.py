"""Office hours: when advocates are expected to answer (``SAFEHARBOR_OFFICE_HOURS``).

    hours = OfficeHours.parse("mon-fri 09:00-17:00; sat 10:00-14:00", "America/New_York")
    hours.open_at(now)      # True during those times in that time zone

An empty schedule means always staffed. Days are ``mon`` .. ``sun``, single or as a range; a
span may cross midnight (``fri 22:00-02:00`` runs into Saturday).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleError(ValueError):
    """The schedule text cannot be read; the message says which part and why."""


@dataclass(frozen=True)
class Span:
    day: int  # 0 = Monday
    start: time
    end: time  # <= start: runs past midnight into the next day


@dataclass(frozen=True)
class OfficeHours:
    spans: tuple[Span, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str | None, zone: str | None = None) -> OfficeHours:
        try:
            tz = ZoneInfo(zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"time zone {zone!r} is unknown (use an IANA name like America/New_York)") from None
        spans: list[Span] = []
        for part in (text or "").replace(",", ";").split(";"):
            part = part.strip().lower()
            if not part:
                continue
            try:
                days_text, times_text = part.split()
                start_text, end_text = times_text.split("-")
                start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
                first, _, last = days_text.partition("-")
                a, b = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
            except ValueError:
                raise ScheduleError(f"{part!r}: expected e.g. 'mon-fri 09:00-17:00'") from None
            if start == end:
                raise ScheduleError(f"{part!r}: the span is empty")
            day = a
            while True:
                spans.append(Span(day, start, end))
                if day == b:
                    break
                day = (day + 1) % 7
        return cls(tuple(spans), tz)

    @property
    def always(self) -> bool:
        return not self.spans

    def open_at(self, moment: datetime) -> bool:
        if self.always:
            return True
        local = moment.astimezone(self.zone)
        day, now = local.weekday(), local.time()
        for span in self.spans:
            if span.start < span.end:
                if span.day == day and span.start <= now < span.end:
                    return True
            elif (span.day == day and now >= span.start) or ((span.day + 1) % 7 == day and now < span.end):
                return True
        return False
