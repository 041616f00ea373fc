import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache():
    """The overview caches its figures for a minute; every test starts from live numbers."""
    cache.clear()
    yield
    cache.clear()
