"""`make run`'s server: runserver on the first free port from the one asked for, and, once it listens, the demo
banner (URL with the port actually used, staff login, API key) as the last lines it prints."""

import os

from django.conf import settings
from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.core.management.base import CommandError

from dashboard.devrun import banner_lines, free_port

# The autoreloader runs the server in a child process: the parent picks the port once and hands it down, so a
# reload keeps the address the banner printed.
PORT_ENV = "OMS_SERVE_DEMO_PORT"


class Command(RunserverCommand):
    help = "Development server for `make run`: the next free port if the one asked for is taken, then the banner."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("serve_demo is for development mode (DEBUG=1); in production use gunicorn.")
        addrport = options.get("addrport") or f"127.0.0.1:{self.default_port}"
        host, _, port = addrport.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if not port.isdigit():
            raise CommandError(f"{addrport!r} is not host:port.")
        chosen = os.environ.get(PORT_ENV) if os.environ.get("RUN_MAIN") == "true" else None
        if chosen is None:
            chosen = str(free_port("0.0.0.0" if host == "0" else host, int(port)))
            if chosen != port:
                self.stderr.write(f"Port {port} is in use: serving on {chosen} instead.")
            os.environ[PORT_ENV] = chosen
        options["addrport"] = f"[{host}]:{chosen}" if ":" in host else f"{host}:{chosen}"
        super().handle(*args, **options)

    def on_bind(self, server_port):
        super().on_bind(server_port)
        addr = f"[{self.addr}]" if self._raw_ipv6 else ("0.0.0.0" if self.addr == "0" else self.addr)
        print("\n".join(banner_lines(f"{self.protocol}://{addr}:{server_port}")), flush=True)
