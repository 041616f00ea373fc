"""Who did something: the label written to history rows and the Django user (if any) behind it."""

from __future__ import annotations


class _Customer:
    """The customer acting on their own order (the status page): recorded as "customer", never a Django user."""

    username = "customer"

    def __str__(self) -> str:
        return self.username


CUSTOMER = _Customer()


def actor_label(user) -> str:
    if user is None:
        return "system"
    return getattr(user, "username", None) or str(user)


def real_user(user):
    """Django users only (a channel principal is recorded by label, not by foreign key)."""
    from django.contrib.auth import get_user_model

    return user if isinstance(user, get_user_model()) else None
