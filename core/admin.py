"""Admin base classes every app shares."""

from __future__ import annotations


class ReadOnlyAdminMixin:
    """Append-only history (ledgers, events): nobody adds, edits or deletes rows by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
