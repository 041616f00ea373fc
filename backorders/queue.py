"""The queue order (``Backorder.QUEUE_ORDER``) in every form a caller needs, all derived from the one definition:
ORM ordering, SQL ``ORDER BY``, a Python sort key and "who is ahead of this backorder"."""

from __future__ import annotations

from django.db.models import OuterRef, Q

from .models import Backorder

QUEUE_ORDER = Backorder.QUEUE_ORDER


def queue_order_sql(alias: str = "") -> str:
    """``priority_rank DESC, priority_score DESC, placed_at, id`` (columns prefixed with ``alias.``)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{field[1:]} DESC" if field.startswith("-") else f"{prefix}{field}" for field in QUEUE_ORDER
    )


def queue_key(backorder: Backorder) -> tuple:
    """Sort key in queue order (ascending = served first). Every descending field is numeric."""
    key = []
    for field in QUEUE_ORDER:
        value = getattr(backorder, field.lstrip("-"))
        key.append(-value if field.startswith("-") else value)
    return tuple(key)


def ahead_of(*, priority_rank, priority_score, placed_at, pk=None) -> Q:
    """Backorders served before this place in the queue. With ``pk`` (a backorder already queued): strictly ahead,
    the id deciding ties. Without (a newcomer): everyone placed at the same instant or earlier counts as ahead.
    Values may be ``OuterRef`` expressions for use in a subquery."""
    same_rank = Q(priority_rank=priority_rank)
    same_score = same_rank & Q(priority_score=priority_score)
    condition = (
        Q(priority_rank__gt=priority_rank)
        | (same_rank & Q(priority_score__gt=priority_score))
        | (same_score & (Q(placed_at__lt=placed_at) if pk is not None else Q(placed_at__lte=placed_at)))
    )
    if pk is not None:
        condition |= same_score & Q(placed_at=placed_at) & Q(pk__lt=pk)
    return condition


def ahead_of_outer() -> Q:
    """``ahead_of`` the backorder of the outer query (for a queue-position subquery)."""
    return ahead_of(
        priority_rank=OuterRef("priority_rank"),
        priority_score=OuterRef("priority_score"),
        placed_at=OuterRef("placed_at"),
        pk=OuterRef("pk"),
    )


__all__ = ["QUEUE_ORDER", "ahead_of", "ahead_of_outer", "queue_key", "queue_order_sql"]
