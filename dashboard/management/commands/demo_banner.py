from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.devrun import banner_lines


class Command(BaseCommand):
    help = "Print the demo URL, staff login and API key (development mode only; `make run` prints it last)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The address the server listens on.")

    def handle(self, *args, url, **options):
        if not settings.DEBUG:
            raise CommandError("The demo banner is for development mode (DEBUG=1): it shows public credentials.")
        self.stdout.write("\n".join(banner_lines(url)))
