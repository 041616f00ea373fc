"""What `make run` prints last: where the dashboard is, the demo staff login and a working API key.

Development mode only (DEBUG). API keys are stored hashed, so the demo key is kept in a gitignored file
(``settings.OMS_DEV_DIR``) to be shown on every run; a key that no longer works (database reset, key revoked) is
replaced by a new one for the demo channel.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model

DEMO_ADMIN = ("admin", "admin")
DEMO_CHANNEL = "web-shop"
KEY_FILE = "demo-api-key"


def free_port(host: str, start: int, *, tries: int = 50) -> int:
    """The first port from ``start`` that ``host`` can listen on (a port in use is skipped, never taken over)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in range(start, start + tries):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is free
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise
            return port
    raise OSError(errno.EADDRINUSE, f"no free port in {start}–{start + tries - 1} on {host}")


def _key_path() -> Path:
    return Path(settings.OMS_DEV_DIR) / KEY_FILE


def demo_api_key_remember(raw_key: str) -> None:
    """Keep the demo key (readable by its owner only) for the next runs' banner."""
    path = _key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw_key + "\n")
    path.chmod(0o600)


def demo_api_key() -> str | None:
    """The remembered demo key if it still works; otherwise a new one for the demo channel (None when the demo data
    is not loaded)."""
    from orders.models import SalesChannel
    from orders.selectors import api_key_lookup
    from orders.services import api_key_create

    path = _key_path()
    raw_key = path.read_text().strip() if path.exists() else ""
    if raw_key and api_key_lookup(raw_key=raw_key) is not None:
        return raw_key
    if not SalesChannel.objects.filter(code=DEMO_CHANNEL, is_active=True).exists():
        return None
    _, raw_key = api_key_create(channel_code=DEMO_CHANNEL, name="demo (make run)")
    demo_api_key_remember(raw_key)
    return raw_key


def demo_login() -> tuple[str, str] | None:
    """The demo staff login if it exists and still has its public password."""
    user = get_user_model().objects.filter(username=DEMO_ADMIN[0], is_active=True).first()
    if user is None or not user.check_password(DEMO_ADMIN[1]):
        return None
    return DEMO_ADMIN


def banner_lines(base_url: str) -> list[str]:
    """The banner, URL first and API key last, so the line a developer copies is at the very end."""
    base_url = base_url.rstrip("/")
    login = demo_login()
    key = demo_api_key()
    email_dir = settings.EMAIL_FILE_PATH if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend") else None
    lines = [
        "",
        "=" * 72,
        f"  Dashboard:   {base_url}/",
        f"  Admin:       {base_url}/admin/     API docs: {base_url}/api/docs/",
    ]
    if email_dir:
        lines.append(f"  Emails sent: {email_dir}/ (one .log file per connection, not the console)")
    if login:
        lines.append(f"  Staff login: username '{login[0]}', password '{login[1]}'")
    else:
        lines.append("  Staff login: no demo login (create one: python manage.py createsuperuser)")
    if key:
        lines.append(f"  API key for channel '{DEMO_CHANNEL}' (header  Authorization: Api-Key <key>):")
        lines.append(f"  {key}")
    else:
        lines.append("  API key: no demo channel (python manage.py seed_demo, or create_api_key <channel>)")
    lines.append("=" * 72)
    return lines
