from django.db import migrations

# The outbox's large values (a digest's context holds every moved backorder: ~14 kB of JSON for 50 of them; a rendered
# e-mail's HTML) are compressed when PostgreSQL stores them out of line (TOAST). lz4 compresses them about 2.5× faster
# than the default pglz for a few percent more bytes (bench/eta.py: 2,000 digests, 26 MB of JSON, 0.21 → 0.08 s;
# 2.2 → 2.6 MB stored). Only values written from now on; PostgreSQL 14+ built with lz4 (Debian's and the official
# images are), otherwise nothing changes. docs/performance.md, "ETA rewrite".
TABLE = "notifications_notification"
COLUMNS = ("context", "payload", "body_text", "body_html")


def _lz4_available(cursor) -> bool:
    cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    row = cursor.fetchone()
    return bool(row and row[0])


def _set(schema_editor, method: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _lz4_available(cursor):
            return
    columns = ", ".join(f"ALTER COLUMN {column} SET COMPRESSION {method}" for column in COLUMNS)
    schema_editor.execute(f"ALTER TABLE {TABLE} {columns}")


def to_lz4(apps, schema_editor):
    _set(schema_editor, "lz4")


def to_default(apps, schema_editor):
    _set(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0014_eta_digest"),
    ]

    operations = [migrations.RunPython(to_lz4, to_default)]
