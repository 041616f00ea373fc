"""`make run` explains itself: its last lines are the URL (with the port actually used), the staff login and a
working API key, on every run; customer emails go to files, not the console."""

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from dashboard.devrun import DEMO_CHANNEL, free_port
from dashboard.management.commands.serve_demo import PORT_ENV
from orders.selectors import api_key_lookup

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def dev(tmp_path):
    with override_settings(DEBUG=True, OMS_DEV_DIR=tmp_path / "var"):
        yield tmp_path


@pytest.fixture
def seeded(dev, django_capture_on_commit_callbacks):
    locmem = override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    with locmem, django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--if-empty")
    return dev


def _listening_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


class _NoConnections:
    def all(self, **kwargs):
        return []


def _serve(port, monkeypatch, capsys):
    """serve_demo up to the moment the server listens (the WSGI server itself is not started)."""
    monkeypatch.setenv(PORT_ENV, "unset")
    monkeypatch.delenv(PORT_ENV)  # restored (removed) after the test: serve_demo sets it for its reloader
    monkeypatch.delenv("RUN_MAIN", raising=False)
    bound = []

    def fake_run(addr, port, handler, *, on_bind=None, **kwargs):
        bound.append(port)
        on_bind(port)

    monkeypatch.setattr("django.core.management.commands.runserver.run", fake_run)
    # runserver closes the connections after its migration check; inside the test's transaction that would end it.
    monkeypatch.setattr("django.core.management.commands.runserver.connections", _NoConnections())
    call_command("serve_demo", f"127.0.0.1:{port}", use_reloader=False, skip_checks=True)
    return bound, capsys.readouterr()


def _banner_tail(out: str) -> list[str]:
    lines = out.rstrip().splitlines()
    return lines[lines.index("=" * 72) :]


def test_the_banner_is_the_last_thing_make_run_prints(seeded, monkeypatch, capsys):
    capsys.readouterr()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bound, captured = _serve(port, monkeypatch, capsys)
    lines = captured.out.rstrip().splitlines()
    tail = _banner_tail(captured.out)
    assert lines[-len(tail) :] == tail and len(tail) >= 6  # nothing after the banner
    text = "\n".join(tail)
    assert f"Dashboard:   http://127.0.0.1:{bound[0]}/" in text
    assert "Staff login: username 'admin', password 'admin'" in text
    key = tail[-2].strip()
    assert api_key_lookup(raw_key=key).channel.code == DEMO_CHANNEL  # the key works
    assert tail[-1] == "=" * 72


def test_a_taken_port_is_skipped_and_the_banner_shows_the_one_used(seeded, monkeypatch, capsys):
    taken = _listening_socket()
    try:
        port = taken.getsockname()[1]
        bound, captured = _serve(port, monkeypatch, capsys)
    finally:
        taken.close()
    assert bound[0] > port
    assert f"Port {port} is in use: serving on {bound[0]} instead." in captured.err
    assert f"http://127.0.0.1:{bound[0]}/" in "\n".join(_banner_tail(captured.out))
    assert f":{port}/" not in captured.out


def test_free_port_never_returns_a_port_in_use():
    taken = _listening_socket()
    try:
        port = taken.getsockname()[1]
        assert free_port("127.0.0.1", port) != port
    finally:
        taken.close()


def test_the_same_key_on_every_run_and_a_new_one_once_it_stops_working(seeded, capsys):
    capsys.readouterr()
    call_command("demo_banner", "--url", "http://127.0.0.1:8123")
    first = capsys.readouterr().out.rstrip().splitlines()
    call_command("demo_banner", "--url", "http://127.0.0.1:8123")
    second = capsys.readouterr().out.rstrip().splitlines()
    assert first == second  # every run, not only the first seed
    assert "http://127.0.0.1:8123/" in first[2]
    key = first[-2].strip()
    api_key_lookup(raw_key=key).__class__.objects.update(revoked_at="2020-01-01T00:00:00Z")
    call_command("demo_banner")
    new_key = capsys.readouterr().out.rstrip().splitlines()[-2].strip()
    assert new_key != key and api_key_lookup(raw_key=new_key) is not None
    assert (seeded / "var" / "demo-api-key").read_text().strip() == new_key


def test_the_banner_and_the_demo_server_are_development_only(capsys):
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_banner")
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("serve_demo", "127.0.0.1:8000", use_reloader=False)


def _settings_in(env: dict) -> list[str]:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup();"
        "from django.conf import settings; print(settings.EMAIL_BACKEND); print(settings.EMAIL_FILE_PATH)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_") and k not in ("DEBUG", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, cwd=REPO, capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_development_mode_writes_emails_to_a_gitignored_folder_not_the_console():
    backend, path = _settings_in({"DEBUG": "1"})
    assert backend == "django.core.mail.backends.filebased.EmailBackend"
    assert Path(path) == REPO / "var" / "emails"
    assert "/var/" in (REPO / ".gitignore").read_text().splitlines()
    makefile = (REPO / "Makefile").read_text()
    assert "EMAIL_BACKEND" not in makefile.split("\nrun:")[1].split("\n\n")[0]  # not overridden back to the console
    # Production is unchanged: nothing is written to the app's folder unless configured.
    backend, _ = _settings_in({"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(64)})
    assert backend != "django.core.mail.backends.filebased.EmailBackend"


def test_demo_emails_land_in_files_and_not_on_the_console(dev, capsys, django_capture_on_commit_callbacks):
    emails = dev / "emails"
    to_files = override_settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=emails
    )
    with to_files, django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--if-empty")
    out = capsys.readouterr().out
    written = "".join(p.read_text() for p in emails.glob("*.log"))
    assert written.count("Subject: ") > 10  # the demo's customer updates
    assert "Subject: " not in out and "Content-Type: " not in out
    assert len(out.splitlines()) < 20
    assert settings.DEBUG
