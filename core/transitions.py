"""The one shape of a status change (backorders, purchase orders, transfers): an explicit map of allowed moves, an
illegal move refused with ``InvalidTransition`` (409 ``invalid_transition``, ``details``: from, to), and the
timestamp of the new status set. In memory: the caller saves, with whatever else the change writes."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from .errors import InvalidTransition


def status_transition(
    instance, *, status: str, allowed: Mapping[str, set[str]], stamps: Mapping[str, str], label: str
) -> None:
    """Move ``instance.status`` to ``status`` if ``allowed[current]`` lists it; set the field ``stamps[status]``
    (when there is one) to now. ``label`` names the instance in the error message."""
    if status not in allowed[instance.status]:
        raise InvalidTransition(
            f"{label} cannot go from {instance.status} to {status}.",
            details={"from": instance.status, "to": status},
        )
    instance.status = status
    if field := stamps.get(status):
        setattr(instance, field, timezone.now())
