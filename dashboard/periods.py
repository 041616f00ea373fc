"""The periods, KPI shape and shared expressions every dashboard figure is computed with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import (
    DecimalField,
    F,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

PERIODS = (7, 30, 90)
AGING_BUCKETS = (("0–7 days", 0, 7), ("8–14 days", 8, 14), ("15–30 days", 15, 30), (">30 days", 31, None))

OUTSTANDING = F("quantity") - F("quantity_allocated") - F("quantity_cancelled")
CLOSED_AT = Coalesce("allocated_at", "fulfilled_at", "cancelled_at")
MONEY = DecimalField(max_digits=18, decimal_places=2)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def last(cls, days: int, *, now: datetime | None = None) -> Period:
        end = now or timezone.now()
        return cls(start=end - timedelta(days=days), end=end)

    @property
    def previous(self) -> Period:
        return Period(start=self.start - (self.end - self.start), end=self.start)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    definition: str
    unit: str  # "percent" (0–1 ratio), "days", "count", "units", "money"
    value: float | int | Decimal | None
    previous: float | int | Decimal | None
    # True when a rise is good news (fill rate), False when it is bad (backorder rate), None when neutral.
    higher_is_better: bool | None = None

    @property
    def change(self):
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def trend(self) -> str:
        """ "good", "bad" or "flat" — for colouring the change on the card."""
        change = self.change
        if not change or self.higher_is_better is None:
            return "flat"
        return "good" if (change > 0) == self.higher_is_better else "bad"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["change"] = self.change
        for key in ("value", "previous", "change"):
            if isinstance(data[key], Decimal):
                data[key] = str(data[key])
        return data


def _ratio(numerator, denominator) -> float | None:
    if not denominator:
        return None
    return round(float(numerator or 0) / float(denominator), 4)


def _days(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 86400, 2)
