"""``updated_at`` that set-based SQL cannot forget: a PostgreSQL trigger stamps every row an UPDATE really changes.

Django's ``auto_now`` only runs in ``Model.save()``; the allocation engine, the ETA rewrite and the counters change
rows with ``QuerySet.update()`` or raw SQL. An ERP polling ``?updated_since=`` must see those changes too, so each
table with an ``updated_at`` gets a ``BEFORE UPDATE`` trigger: when the new row differs from the old one, its
``updated_at`` becomes ``clock_timestamp()``; an UPDATE that changes nothing leaves it alone (a re-import that
changes nothing does not show up as a change). On SQLite (development) ``auto_now`` alone applies.
"""

from __future__ import annotations

from django.db import migrations

_FUNCTION = """
CREATE OR REPLACE FUNCTION oms_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;
"""


def _trigger_name(table: str) -> str:
    return f"{table}_touch_updated_at"


def touch_updated_at(*tables: str) -> migrations.RunPython:
    """A migration operation installing the trigger on ``tables`` (PostgreSQL only; reversible)."""

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(_FUNCTION)
        for table in tables:
            name = _trigger_name(table)
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
            schema_editor.execute(
                f'CREATE TRIGGER "{name}" BEFORE UPDATE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION oms_touch_updated_at()"
            )

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{_trigger_name(table)}" ON "{table}"')

    return migrations.RunPython(forward, backward, elidable=False)
