"""The supply port: where incoming units for ETAs come from, without backorders importing any supplier code.

A source of incoming supply (``suppliers`` registers its purchase orders and lead times in its
``AppConfig.ready()``) implements two functions, and backorders asks every registered source:

- ``incoming(product_id) -> list[(line id, expected date, units still to come)]``: dated supply;
- ``lead_time_days(product_id) -> int | None``: the estimate used when no dated supply covers the demand.

With no source registered (inventory alone), backorders project from free stock only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SupplySource:
    name: str
    incoming: Callable[[int], list[tuple[int, date, int]]]
    lead_time_days: Callable[[int], int | None]


_sources: dict[str, SupplySource] = {}


def supply_source_register(source: SupplySource) -> None:
    """Register (or replace, by name) a source of incoming supply."""
    _sources[source.name] = source


def supply_sources() -> list[SupplySource]:
    return list(_sources.values())


def incoming_supply(product_id: int) -> list[tuple[int, date, int]]:
    return [line for source in _sources.values() for line in source.incoming(product_id)]


def lead_time_days(product_id: int) -> int | None:
    for source in _sources.values():
        days = source.lead_time_days(product_id)
        if days is not None:
            return days
    return None
