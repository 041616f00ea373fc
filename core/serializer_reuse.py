"""Serializers on hot paths without rebuilding their fields on every request.

DRF deep-copies every declared field of a serializer for each new instance (and again for each nested serializer):
on order placement that was most of the serializers' cost. Here one instance per serializer class and thread is
built once and reused, each call with a fresh context, so the output and the errors are exactly what a new instance
gives (tests/core/test_serializer_reuse.py compares them). The cache is cleared when a setting changes (fields may
read settings when they are built, as the order limits do).
"""

from __future__ import annotations

import threading

from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework import serializers

_local = threading.local()


def _instance(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    cache = getattr(_local, "serializers", None)
    if cache is None:
        cache = _local.serializers = {}
    serializer = cache.get(serializer_class)
    if serializer is None:
        serializer = cache[serializer_class] = serializer_class()
        serializer.fields  # noqa: B018 — build (and keep) the fields now
    return serializer


def serialized(serializer_class: type[serializers.Serializer], instance, *, context: dict | None = None) -> dict:
    """``serializer_class(instance, context=context).data``."""
    serializer = _instance(serializer_class)
    serializer._context = dict(context or {})
    return serializer.to_representation(instance)


def reused_fields(serializer_class: type[serializers.Serializer]) -> dict:
    """The (built once) fields of ``serializer_class``: for code that formats a value exactly as the serializer does."""
    return _instance(serializer_class).fields


def validated(serializer_class: type[serializers.Serializer], data, *, context: dict | None = None) -> dict:
    """``serializer_class(data=data)`` → ``is_valid(raise_exception=True)`` → ``validated_data``: raises the same
    ValidationError (the same detail) for invalid data."""
    serializer = _instance(serializer_class)
    serializer._context = dict(context or {})
    try:
        return serializer.run_validation(data)
    except serializers.ValidationError:
        # Invalid input is the rare case: a new instance words the errors exactly as DRF does.
        fresh = serializer_class(data=data, context=context or {})
        fresh.is_valid(raise_exception=True)
        return fresh.validated_data


@receiver(setting_changed, dispatch_uid="core.serializer_reuse.clear")
def _clear(**kwargs) -> None:
    _local.serializers = {}
