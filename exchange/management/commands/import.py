"""``manage.py import KIND FILE``: check and write a file in this process, with a progress bar.

The same checks and writes as ``POST /api/v1/imports/`` (``exchange.imports.import_run``); the row errors are
printed as a table; exits 1 when rows were refused."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from exchange.imports import import_run
from exchange.kinds import KINDS
from exchange.models import ImportJob
from exchange.serializers import EXTENSIONS


class Command(BaseCommand):
    help = "Import a CSV, XLSX or JSON lines file of one kind (products, stock_counts, …); see docs/import.md."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file")
        parser.add_argument("--format", choices=ImportJob.Format.values, help="Default: from the file name.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")
        parser.add_argument("--partial", action="store_true", help="Write the good rows even if some are refused.")
        parser.add_argument("--author", help="Username recorded as the author (ledger rows, revisions).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(
        self, *args, kind, file, format=None, dry_run=False, partial=False, author=None, no_progress=False, **options
    ):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        file_format = format or EXTENSIONS.get(path.suffix.lstrip(".").lower())
        if file_format is None:
            raise CommandError("Say the format with --format (csv, xlsx, jsonl): the file name does not.")
        user = None
        if author:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(username=author).first()
            if user is None:
                raise CommandError(f"No user {author!r}.")
        bars: dict[str, tqdm] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if no_progress or not total:
                return
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[phase] = tqdm(total=total, desc=phase.capitalize(), unit="row", file=self.stderr._out)
            bar.update(done - bar.n)

        result = import_run(
            kind=kind,
            content=path.read_bytes(),
            file_format=file_format,
            dry_run=dry_run,
            partial=partial,
            user=author,
            progress=progress,
        )
        for bar in bars.values():
            bar.close()
        if result.errors:
            self.stdout.write(f"{'row':>7}  {'column':<22} {'code':<26} message")
            for error in result.errors[:200]:
                self.stdout.write(f"{error.row:>7}  {error.column:<22} {error.code:<26} {error.message}")
            if len(result.errors) > 200:
                self.stdout.write(f"… and {len(result.errors) - 200} more.")
        self.stdout.write(f"{result.status}: {result.message}")
        if result.status in (ImportJob.Status.REFUSED, ImportJob.Status.FAILED, ImportJob.Status.PARTIAL):
            raise SystemExit(1)
