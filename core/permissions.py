"""Staff permissions, checked the same way by the API (core.api), the dashboard and the admin.

Every staff write needs a Django permission (the roles in core/roles.py grant them); superusers have them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.core.exceptions import PermissionDenied

PermissionSpec = str | Callable[..., Iterable[str]]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def missing_permissions(user, permissions: Iterable[str]) -> list[str]:
    """The permissions of ``permissions`` the user lacks (none for a superuser)."""
    return [permission for permission in permissions if not user.has_perm(permission)]


def permission_denied_message(missing: Iterable[str]) -> str:
    return f"Your role does not allow this: it needs the permission {', '.join(missing)}."


def permission_required_403(*permissions: PermissionSpec):
    """A dashboard action that needs ``permissions``; without them: 403, and the view never runs.

    Each item is a permission name, or a function of the request returning names (an action whose permission
    depends on what was posted). Unlike Django's ``permission_required`` this never redirects to the login page:
    a signed-in staff member without the permission is refused, not asked to sign in again.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            needed: list[str] = []
            for spec in permissions:
                needed.extend([spec] if isinstance(spec, str) else spec(request))
            missing = missing_permissions(request.user, needed)
            if missing:
                raise PermissionDenied(permission_denied_message(missing))
            return view(request, *args, **kwargs)

        wrapper.required_permissions = permissions
        return wrapper

    return decorate


def permission_check(permission: str):
    """A ``has_<name>_permission`` method for a ModelAdmin, so an action can say ``permissions=["<name>"]``:

    ``has_ship_order_permission = permission_check("orders.ship_order")``
    """

    def has_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(permission)

    has_permission.__doc__ = f"Whether the user has {permission}."
    return has_permission
