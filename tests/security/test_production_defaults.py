"""Production is the default: DEBUG off, a strong SECRET_KEY required, HTTPS settings on, no public demo login.

Settings are loaded in a fresh interpreter with an exact environment (the test run itself loads them in
development mode, see pyproject.toml)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

# The production environment docs/security.md documents (plus a fresh key).
PRODUCTION_ENV = {
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "oms.example.com",
    "OMS_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}
# DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests set it in this process (Playwright's loop beside the ORM); production
# never does, and check --deploy rightly refuses it.
_DROPPED = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith("OMS_")}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def load_settings(env: dict[str, str], expression: str = "s.DEBUG") -> subprocess.CompletedProcess:
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        f"from django.conf import settings as s; print(repr(({expression})))"
    )
    return run_python(["-c", code], env)


def test_debug_is_off_unless_switched_on():
    assert load_settings(PRODUCTION_ENV).stdout.strip() == "False", "DEBUG defaults to off"
    assert load_settings({**PRODUCTION_ENV, "DEBUG": "1"}).stdout.strip() == "True"


@pytest.mark.parametrize(
    "secret_key, reason",
    [
        (None, "is not set"),
        ("", "is not set"),
        ("dev-insecure-secret-key-change-me", "publicly known"),
        ("change-me-in-production", "publicly known"),
        ("django-insecure-" + "k" * 60, "publicly known"),
        ("a-short-but-random-looking-key-9f8e7d", "shorter than 50"),
        ("ab" * 40, "fewer than 10 distinct"),
    ],
)
def test_settings_refuse_an_insecure_secret_key_with_debug_off(secret_key, reason):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    result = load_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert reason in result.stderr


def test_development_mode_runs_with_the_development_key():
    result = load_settings({"DEBUG": "1"}, "s.SECRET_KEY, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE")
    assert result.stdout.strip() == "('dev-insecure-secret-key-change-me', False, False)"


def test_production_turns_on_https_settings():
    result = load_settings(
        PRODUCTION_ENV,
        "s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_PROXY_SSL_HEADER",
    )
    assert result.stdout.strip() == "(True, True, True, 31536000, ('HTTP_X_FORWARDED_PROTO', 'https'))"


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


@pytest.mark.django_db
def test_seed_demo_creates_no_demo_login_with_debug_off(settings, capsys):
    settings.DEBUG = False
    call_command("seed_demo", "--if-empty")
    out = capsys.readouterr().out
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "password 'admin'" not in out
    assert "No demo login created" in out


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_login_in_development_mode(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo", "--if-empty")
    assert get_user_model().objects.get(username="admin").check_password("admin")
    assert "password 'admin'" in capsys.readouterr().out


@pytest.mark.django_db
def test_seed_demo_with_the_explicit_flag_warns(settings, capsys):
    settings.DEBUG = False
    call_command("seed_demo", "--if-empty", "--with-demo-login")
    assert get_user_model().objects.filter(username="admin").exists()
    assert "WARNING" in capsys.readouterr().err


def test_password_validators_are_strong(settings):
    from django.contrib.auth.password_validation import get_default_password_validators, validate_password
    from django.core.exceptions import ValidationError

    names = {type(v).__name__ for v in get_default_password_validators()}
    assert names >= {
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
        "UserAttributeSimilarityValidator",
    }
    for weak in ("admin", "password1234", "123456789012", "short-pw"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("violet-kettle-drums-93")


def test_compose_requires_a_secret_key_and_dockerfile_states_production():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "${SECRET_KEY:?" in compose
    assert "change-me" not in compose
    assert "ENV DEBUG=false" in (ROOT / "Dockerfile").read_text()
    assert "DEBUG = 1" in (ROOT / "Makefile").read_text()
