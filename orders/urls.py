"""API v1 routes of this app (mounted under /api/v1/ by config.urls)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
