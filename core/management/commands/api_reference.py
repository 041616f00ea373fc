"""Write docs/api-reference.md from the OpenAPI schema (``--check``: fail if the file is stale)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.api_reference import render_reference


def current_schema() -> dict:
    """The schema /api/schema/ serves, as JSON data."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


class Command(BaseCommand):
    help = "Generate docs/api-reference.md from the OpenAPI schema."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "api-reference.md"))
        parser.add_argument("--check", action="store_true", help="Fail if the file differs from the schema.")

    def handle(self, *args, output, check, **options):
        text = render_reference(current_schema())
        path = Path(output)
        if check:
            if not path.exists() or path.read_text() != text:
                raise CommandError(f"{path} is stale: run `python manage.py api_reference`.")
            self.stdout.write(f"{path} is up to date.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {path}.")
