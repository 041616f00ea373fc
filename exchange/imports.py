"""Running an import: read the file, check every row, then write through the services (or, dry run, only say what
would happen). All-or-nothing by default: a file with any refused row writes nothing; ``partial`` writes the good
records and reports the rest. Re-importing the same file finds every record unchanged and writes nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotFoundError

from .formats import UnreadableFile, read_table
from .kinds import KINDS
from .kinds.base import Record, RecordRefused, RowError, parse_row
from .models import ImportJob

logger = logging.getLogger(__name__)

J = ImportJob.Status


@dataclass
class ImportResult:
    status: str
    message: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    rows_total: int = 0
    errors: list[RowError] = field(default_factory=list)


Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


def _records(kind, table, errors: list[RowError]) -> list[Record]:
    """Typed rows grouped into records by the natural key; rows with errors refuse their whole record."""
    columns = kind.columns
    by_key: dict[tuple, Record] = {}
    bad: set[tuple] = set()
    for number, values in table.rows:
        parsed, row_errors = parse_row(columns, number, values)
        key = tuple(str(parsed.get(name) or "") for name in kind.key)
        if row_errors:
            errors.extend(row_errors)
            bad.add(key)
        record = by_key.get(key)
        if not kind.grouped:
            if record is not None and not any(key):
                continue  # no key to tell the rows apart: each is refused for its own errors
            if record is not None:
                errors.append(
                    RowError(
                        number,
                        kind.key[-1],
                        "duplicate_key",
                        f"{' / '.join(k for k in key if k)} is already on row {record.rows[0]}.",
                    )
                )
                continue
            by_key[key] = Record(key=key[-1] if len(key) == 1 else "/".join(key), rows=[number], data=parsed, action="")
            continue
        line = {name: parsed.get(name) or None for name in ("sku", "quantity", "line_expected_date")} | {"row": number}
        if record is None:
            head = {name: parsed.get(name) for name in (*kind.key, *kind.header_columns)}
            by_key[key] = Record(key=key[-1], rows=[number], data=head, action="", extra={"lines": [line]})
            continue
        record.rows.append(number)
        for name in kind.header_columns:
            if name in values and parsed.get(name) != record.data.get(name) and not row_errors:
                errors.append(
                    RowError(
                        number,
                        name,
                        "inconsistent_group",
                        f"Differs from row {record.rows[0]} of the same {kind.key[-1]}.",
                    )
                )
                bad.add(key)
        if any(other["sku"] == line["sku"] for other in record.extra["lines"]):
            errors.append(RowError(number, "sku", "duplicate_key", f"{line['sku']} is twice in this {kind.key[-1]}."))
            bad.add(key)
        record.extra["lines"].append(line)
    good = [record for key, record in by_key.items() if key not in bad]
    refused_rows = {e.row for e in errors if e.row > 1} | {n for key in bad if key in by_key for n in by_key[key].rows}
    return good, refused_rows


def import_run(
    *,
    kind: str,
    content: bytes,
    file_format: str,
    dry_run: bool = False,
    partial: bool = False,
    user=None,
    progress: Progress = _no_progress,
) -> ImportResult:
    """Check a file and, unless ``dry_run``, write it (see the module doc). Never raises for what the file says:
    every problem is a row error in the result."""
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidInput(f"Unknown import kind {kind!r}.", details={"kind": kind, "allowed": sorted(KINDS)})
    progress(ImportJob.Phase.READING, 0, 0)
    try:
        table = read_table(content, file_format)
    except UnreadableFile as exc:
        return ImportResult(
            status=J.FAILED, message=exc.message, errors=[RowError(exc.row or 0, "", "unreadable_file", exc.message)]
        )
    total = len(table.rows)
    errors: list[RowError] = []
    names = {c.name for c in spec.columns}
    unknown = [name for name in table.header if name not in names and name not in spec.ignored]
    missing = [c.name for c in spec.columns if c.required and c.name not in table.header]
    for name in unknown:
        errors.append(RowError(1, name, "unknown_column", f"Not a column of {spec.title.lower()}: see the template."))
    for name in missing:
        errors.append(RowError(1, name, "missing_column", "This column is required."))
    if errors:
        return ImportResult(
            status=J.REFUSED,
            message="The header does not match the template: nothing written.",
            rows_total=total,
            refused=total,
            errors=errors,
        )
    if not table.rows:
        return ImportResult(
            status=J.REFUSED, message="The file has no rows.", errors=[RowError(2, "", "no_rows", "No rows.")]
        )
    progress(ImportJob.Phase.CHECKING, 0, total)
    records, refused_rows = _records(spec, table, errors)
    plan_errors = spec.plan(records)
    for index in sorted(plan_errors):
        errors.extend(plan_errors[index])
        refused_rows.update(records[index].rows)
    refused = len(refused_rows)
    records = [r for i, r in enumerate(records) if i not in plan_errors]
    progress(ImportJob.Phase.CHECKING, total, total)
    counts = {"create": 0, "update": 0, "unchanged": 0}
    for record in records:
        counts[record.action] += 1
    errors.sort(key=lambda e: (e.row, e.column))
    result = ImportResult(
        status=J.SUCCEEDED,
        message="",
        created=counts["create"],
        updated=counts["update"],
        unchanged=counts["unchanged"],
        refused=refused,
        rows_total=total,
        errors=errors,
    )
    if dry_run:
        result.status = J.SUCCEEDED if not refused else (J.PARTIAL if partial else J.REFUSED)
        result.message = "Dry run, nothing written: " + _summary(result, would=True)
        return result
    if refused and not partial:
        result.status = J.REFUSED
        result.message = f"{refused} row(s) refused: nothing written (all-or-nothing; partial=true writes the rest)."
        result.created = result.updated = 0
        result.unchanged = 0
        return result
    work = [r for r in records if r.action != "unchanged"]
    if not work:
        result.status = J.SUCCEEDED if not refused else J.PARTIAL
        result.message = "Nothing to change: " + _summary(result, would=False)
        return result
    written_progress = lambda done: progress(ImportJob.Phase.WRITING, done, len(work))  # noqa: E731
    progress(ImportJob.Phase.WRITING, 0, len(work))
    try:
        if partial:
            write_errors = spec.write(work, user=user, partial=True, progress=written_progress)
        else:
            with transaction.atomic():
                write_errors = spec.write(work, user=user, partial=False, progress=written_progress)
    except RecordRefused as exc:
        result.errors = sorted([*errors, *exc.errors], key=lambda e: (e.row, e.column))
        result.status = J.REFUSED
        result.refused = len(refused_rows | set(exc.record.rows))
        result.created = result.updated = result.unchanged = 0
        result.message = "Refused while writing: nothing written (all-or-nothing)."
        return result
    for record in work:
        if record.action == "refused":
            result.refused += len(record.rows)
            if record.current is None:
                result.created -= 1
            else:
                result.updated -= 1
    result.errors = sorted([*errors, *write_errors], key=lambda e: (e.row, e.column))
    result.status = J.SUCCEEDED if not result.refused else J.PARTIAL
    result.message = _summary(result, would=False)
    return result


def _summary(result: ImportResult, *, would: bool) -> str:
    verb = ("would create", "would update") if would else ("created", "updated")
    parts = [f"{verb[0]} {result.created}", f"{verb[1]} {result.updated}", f"{result.unchanged} unchanged"]
    if result.refused:
        parts.append(f"{result.refused} row(s) refused")
    return ", ".join(parts) + "."


# --- jobs ---------------------------------------------------------------------------------------------


def import_job_create(
    *,
    kind: str,
    content: bytes,
    file_format: str,
    filename: str = "",
    dry_run: bool = False,
    partial: bool = False,
    user=None,
) -> ImportJob:
    """Store the file as a job and ask a worker to run it (after commit)."""
    from core.queue import enqueue_on_commit

    from .tasks import import_job_process

    if kind not in KINDS:
        raise InvalidInput(f"Unknown import kind {kind!r}.", details={"kind": kind, "allowed": sorted(KINDS)})
    if file_format not in ImportJob.Format.values:
        raise InvalidInput(f"Unknown format {file_format!r}: use csv, xlsx or jsonl.", details={"format": file_format})
    if not content:
        raise InvalidInput("The file is empty.", details={"file": filename})
    limit = settings.OMS["IMPORT_MAX_BYTES"]
    if len(content) > limit:
        raise InvalidInput(f"The file is larger than {limit // (1024 * 1024)} MiB: split it.")
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            file_format=file_format,
            filename=filename[:200],
            content=content,
            dry_run=dry_run,
            partial=partial,
            created_by=user if getattr(user, "pk", None) else None,
        )
        enqueue_on_commit(import_job_process, job.pk)
    return job


def import_job_get(*, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).defer("content").first()
    if job is None:
        raise NotFoundError(f"No import job {job_id}.")
    return job


class _ProgressWriter:
    """Writes a job's progress at most every half second. Inside the all-or-nothing transaction the job row is
    written through a second connection (PostgreSQL), so the page and the API see the progress before the commit;
    the transaction itself never touches the job row, so the two can never wait on each other."""

    def __init__(self, job_id: int):
        self.job_id, self.last, self.side = job_id, 0.0, None

    def __call__(self, phase: str, done: int, total: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.5 and done != total:
            return
        self.last = now
        values = {"phase": phase, "rows_done": done, "rows_total": total}
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job_id).update(**values)
        elif connection.vendor == "postgresql":
            if self.side is None:
                self.side = connections.create_connection("default")
            with self.side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ImportJob._meta.db_table} SET phase = %s, rows_done = %s, rows_total = %s WHERE id = %s",
                    [phase, done, total, self.job_id],
                )

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def import_job_run(*, job_id: int) -> ImportJob:
    """Run a queued job (the Celery task calls this). Idempotent: a job already started or finished is left as it is
    (a redelivered message does nothing), so a file is never written twice."""
    claimed = ImportJob.objects.filter(pk=job_id, status=J.QUEUED).update(
        status=J.RUNNING, started_at=timezone.now(), phase=ImportJob.Phase.READING
    )
    job = ImportJob.objects.get(pk=job_id)
    if not claimed:
        return job
    progress = _ProgressWriter(job.pk)
    try:
        result = import_run(
            kind=job.kind,
            content=bytes(job.content),
            file_format=job.file_format,
            dry_run=job.dry_run,
            partial=job.partial,
            user=job.created_by,
            progress=progress,
        )
    except DomainError as exc:
        result = ImportResult(status=J.FAILED, message=exc.message)
    except Exception:
        logger.exception("import job %s failed", job.pk)
        result = ImportResult(status=J.FAILED, message="The import failed unexpectedly; nothing was written.")
    finally:
        progress.close()
    job.status, job.message, job.phase = result.status, result.message[:500], ImportJob.Phase.DONE
    job.created, job.updated, job.unchanged, job.refused = (
        result.created,
        result.updated,
        result.unchanged,
        result.refused,
    )
    job.rows_total = result.rows_total
    job.rows_done = result.rows_total
    job.errors = [e.as_dict() for e in result.errors[: ImportJob.ERRORS_KEPT]]
    job.finished_at = timezone.now()
    job.save()
    return job


QUEUED_GRACE_SECONDS = 60
RUNNING_LIMIT_SECONDS = 2 * 3600  # above the visibility timeout: a job still "running" then lost its worker


def import_jobs_recover() -> int:
    """Re-send queued jobs no worker took (their message was lost while the broker was down) and close jobs whose
    worker died mid-run. An all-or-nothing job that died wrote nothing; a partial one may have written some records:
    importing the file again finds those unchanged and writes the rest."""
    from datetime import timedelta

    from core.queue import enqueue_on_commit

    from .tasks import import_job_process

    now = timezone.now()
    waiting = list(
        ImportJob.objects.filter(
            status=J.QUEUED, created_at__lt=now - timedelta(seconds=QUEUED_GRACE_SECONDS)
        ).values_list("pk", flat=True)[:100]
    )
    for job_id in waiting:
        enqueue_on_commit(import_job_process, job_id)
    lost = ImportJob.objects.filter(
        status=J.RUNNING, started_at__lt=now - timedelta(seconds=RUNNING_LIMIT_SECONDS)
    ).update(
        status=J.FAILED,
        phase=ImportJob.Phase.DONE,
        finished_at=now,
        message="The worker stopped during the import. Import the file again: what was written is unchanged.",
    )
    return len(waiting) + lost
