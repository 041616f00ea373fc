"""``manage.py create_inbound_source CODE --name NAME [--supplier CODE]``: a source of signed events; prints its
secret on the last line (shown once)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from exchange.inbound import inbound_source_create


class Command(BaseCommand):
    help = "Create a source of signed inbound events (a supplier or an ERP) and print its secret."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--name", default="")
        parser.add_argument("--supplier", help="Tie the source to a supplier: it reaches only that supplier's POs.")

    def handle(self, *args, code, name="", supplier=None, **options):
        try:
            source, secret = inbound_source_create(code=code, name=name or code, supplier_code=supplier)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Inbound source {source.code}: POST /api/v1/inbound/{source.code}/ signed with the secret:")
        self.stdout.write(secret)
