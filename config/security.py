"""Production safety checks run while the settings load: the app refuses to start in an unsafe shape.

Nothing here reads django.conf.settings (this module is imported by the settings module itself).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

# The development key is public (it is in this file); so are the placeholders once shipped in examples.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"
KNOWN_INSECURE_SECRET_KEYS = frozenset(
    {
        DEV_SECRET_KEY,
        "change-me-in-production",
        "change-me",
        "changeme",
        "secret",
        "secret-key",
        "your-secret-key",
        "insecure",
    }
)
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 10


def secret_key_problem(value: str | None) -> str | None:
    """Why ``value`` is not a production secret key, or None when it is fine."""
    if not value:
        return "is not set"
    if value in KNOWN_INSECURE_SECRET_KEYS or value.startswith("django-insecure"):
        return "is a publicly known development value"
    if len(value) < MIN_SECRET_KEY_LENGTH:
        return f"is shorter than {MIN_SECRET_KEY_LENGTH} characters"
    if len(set(value)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        return f"has fewer than {MIN_SECRET_KEY_UNIQUE_CHARACTERS} distinct characters"
    return None


def checked_secret_key(value: str | None, *, debug: bool) -> str:
    """The SECRET_KEY to use. In development (DEBUG on) a missing key falls back to the public development key;
    with DEBUG off an unsafe key stops the app before it serves anything."""
    if debug:
        return value or DEV_SECRET_KEY
    problem = secret_key_problem(value)
    if problem:
        raise ImproperlyConfigured(
            f"SECRET_KEY {problem}. With DEBUG off the app needs a long random SECRET_KEY, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`; for development set DEBUG=1."
        )
    return value
