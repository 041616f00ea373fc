"""Foreign keys checked once per statement (PostgreSQL), for the references that bulk writers insert by the
hundred thousand: an ETA rewrite writes 100,000 history events and ~50,000 outbox rows in a few statements.

A declared foreign key checks each inserted row on its own: a query through SPI that finds the referenced row and
locks it ``FOR KEY SHARE`` (a WAL record per row). That is 6–10 µs a row — for the ETA rewrite's own rows 2–3 s,
nearly as long as writing all its dates (docs/performance.md, "Ninth round"); PostgreSQL 15 has no set-based form of
it. These triggers enforce the same rule with set-based statements:

- **insert** into the referencing table: an ``AFTER INSERT … FOR EACH STATEMENT`` trigger reads the statement's new
  rows (a transition table) and looks each reference up in ONE anti-join; a missing row raises
  ``foreign_key_violation`` (23503, Django's ``IntegrityError``), so the statement — and the transaction — fails;
- **update** of a referencing column: a row trigger, only when the value really changes (its ``WHEN`` clause), checks
  and locks the referenced row as a foreign key would (rare: nothing in the product moves these references);
- **delete** of a referenced row: an ``AFTER DELETE … FOR EACH STATEMENT`` trigger on the referenced table takes the
  referencing table in ``SHARE`` mode (it waits for every transaction that is inserting into it and keeps new ones
  out until it ends), then looks for references to the deleted rows and raises if one exists; a change of a
  referenced key is refused the same way, and a ``TRUNCATE`` of the referenced table while references remain.

Concurrency (READ COMMITTED, the product's level; ``tests/core/test_references.py`` runs both races on two
connections): an insert that checks before a delete commits holds ``ROW EXCLUSIVE`` on its table, so the delete's
``SHARE`` lock waits for it to end and then sees its rows; an insert that starts after the delete took its lock waits
for the delete to end and then sees the referenced row gone. At REPEATABLE READ or SERIALIZABLE, whose snapshot could
predate a committed delete, the insert trigger also locks the referenced rows ``FOR KEY SHARE`` (as a foreign key
does; a row deleted since the snapshot is then a serialization failure).

The cost moves to the rare side: a delete of a referenced row briefly blocks inserts into the referencing table.
Only references whose targets the product never deletes use this (orders, customers and backorders are kept for
good: the admin cannot delete them, and ``on_delete=PROTECT`` / ``CASCADE`` still apply in the ORM, which
sees the relation as before). Elsewhere, and on SQLite (development), a field keeps its declared foreign key.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import migrations


@dataclass(frozen=True)
class Reference:
    """``table.column`` references ``target.id``."""

    table: str
    column: str
    target: str

    @property
    def name(self) -> str:  # the rule's name in its messages, and its triggers' suffix
        return f"{self.table}_{self.column}_ref"


def _missing_check(reference: Reference, rows: str) -> str:
    """PL/pgSQL raising 23503 when a value of ``rows.column`` has no row in the target (and, above READ COMMITTED,
    locking the targets as a foreign key does)."""
    r = reference
    locking = f"""
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        PERFORM 1 FROM "{r.target}" t WHERE t.id IN (SELECT "{r.column}" FROM {rows}) ORDER BY t.id FOR KEY SHARE;
    END IF;"""
    return f"""{locking}
    SELECT n."{r.column}" INTO missing FROM {rows} n
     WHERE n."{r.column}" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "{r.target}" t WHERE t.id = n."{r.column}")
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "{r.table}" violates foreign key constraint "{r.name}"'
            USING ERRCODE = 'foreign_key_violation', TABLE = '{r.table}', COLUMN = '{r.column}',
                  CONSTRAINT = '{r.name}',
                  DETAIL = format('Key ({r.column})=(%s) is not present in table "{r.target}".', missing);
    END IF;"""


def _statements(table: str, references: list[Reference]) -> list[str]:
    """The functions and triggers of ``table``'s references (created in this order; each replaces an earlier one)."""
    columns = ", ".join(f'"{r.column}"' for r in references)
    changed = " OR ".join(f'OLD."{r.column}" IS DISTINCT FROM NEW."{r.column}"' for r in references)
    inserted = "".join(_missing_check(r, "oms_new_rows") for r in references)
    updated = "".join(
        f"""
    IF NEW."{r.column}" IS NOT NULL THEN
        PERFORM 1 FROM "{r.target}" t WHERE t.id = NEW."{r.column}" FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "{r.table}" violates foreign key constraint "{r.name}"'
                USING ERRCODE = 'foreign_key_violation', TABLE = '{r.table}', COLUMN = '{r.column}',
                      CONSTRAINT = '{r.name}',
                      DETAIL = format('Key ({r.column})=(%s) is not present in table "{r.target}".', NEW."{r.column}");
        END IF;
    END IF;"""
        for r in references
    )
    statements = [
        f"""CREATE OR REPLACE FUNCTION "oms_refs_{table}_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing text;
BEGIN{inserted}
    RETURN NULL;
END
$$""",
        f'DROP TRIGGER IF EXISTS "oms_refs_insert" ON "{table}"',
        f"""CREATE TRIGGER "oms_refs_insert" AFTER INSERT ON "{table}" REFERENCING NEW TABLE AS oms_new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION "oms_refs_{table}_insert"()""",
        f"""CREATE OR REPLACE FUNCTION "oms_refs_{table}_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{updated}
    RETURN NULL;
END
$$""",
        f'DROP TRIGGER IF EXISTS "oms_refs_update" ON "{table}"',
        f"""CREATE TRIGGER "oms_refs_update" AFTER UPDATE OF {columns} ON "{table}"
            FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION "oms_refs_{table}_update"()""",
    ]
    for r in references:
        statements += [
            f"""CREATE OR REPLACE FUNCTION "oms_refs_{r.name}_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE referenced text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- Truncated in the same statement as the referencing table, that one is empty by now.
        SELECT n."{r.column}" INTO referenced FROM "{r.table}" n WHERE n."{r.column}" IS NOT NULL LIMIT 1;
    ELSIF TG_OP = 'UPDATE' THEN  -- a row's key changes (FOR EACH ROW, only then)
        LOCK TABLE "{r.table}" IN SHARE MODE;
        SELECT OLD.id INTO referenced WHERE EXISTS (SELECT 1 FROM "{r.table}" n WHERE n."{r.column}" = OLD.id);
    ELSE
        IF NOT EXISTS (SELECT 1 FROM oms_old_rows) THEN
            RETURN NULL;
        END IF;
        -- Waits for the transactions inserting references, keeps new ones out until this one ends.
        LOCK TABLE "{r.table}" IN SHARE MODE;
        SELECT o.id INTO referenced FROM oms_old_rows o
         WHERE EXISTS (SELECT 1 FROM "{r.table}" n WHERE n."{r.column}" = o.id)
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "{r.target}" violates foreign key constraint "{r.name}" on table "{r.table}"'
            USING ERRCODE = 'foreign_key_violation', TABLE = '{r.target}', CONSTRAINT = '{r.name}',
                  DETAIL = format('Key (id)=(%s) is still referenced from table "{r.table}".', referenced);
    END IF;
    RETURN NULL;
END
$$""",  # noqa: E501
            f'DROP TRIGGER IF EXISTS "oms_refs_{r.name}_delete" ON "{r.target}"',
            f"""CREATE TRIGGER "oms_refs_{r.name}_delete" AFTER DELETE ON "{r.target}" REFERENCING OLD TABLE AS oms_old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION "oms_refs_{r.name}_delete"()""",  # noqa: E501
            f'DROP TRIGGER IF EXISTS "oms_refs_{r.name}_key" ON "{r.target}"',
            f"""CREATE TRIGGER "oms_refs_{r.name}_key" AFTER UPDATE OF id ON "{r.target}"
            FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION "oms_refs_{r.name}_delete"()""",
            f'DROP TRIGGER IF EXISTS "oms_refs_{r.name}_truncate" ON "{r.target}"',
            f"""CREATE TRIGGER "oms_refs_{r.name}_truncate" AFTER TRUNCATE ON "{r.target}"
            FOR EACH STATEMENT EXECUTE FUNCTION "oms_refs_{r.name}_delete"()""",
        ]
    return statements


def _drop_statements(table: str, references: list[Reference]) -> list[str]:
    statements = [
        f'DROP TRIGGER IF EXISTS "oms_refs_insert" ON "{table}"',
        f'DROP TRIGGER IF EXISTS "oms_refs_update" ON "{table}"',
        f'DROP FUNCTION IF EXISTS "oms_refs_{table}_insert"()',
        f'DROP FUNCTION IF EXISTS "oms_refs_{table}_update"()',
    ]
    for r in references:
        statements += [
            *(
                f'DROP TRIGGER IF EXISTS "oms_refs_{r.name}_{kind}" ON "{r.target}"'
                for kind in ("delete", "key", "truncate")
            ),
            f'DROP FUNCTION IF EXISTS "oms_refs_{r.name}_delete"()',
        ]
    return statements


def checked_references(table: str, **columns: str) -> migrations.RunPython:
    """A migration operation enforcing ``table.column → target.id`` for each ``column=target`` set-based (see the
    module), on PostgreSQL; reversible. Put it after the ``AlterField`` that sets ``db_constraint=False`` (which drops
    the declared foreign key), and let the reverse of that field restore it. Re-run with the full set when a
    reference is added: the insert trigger checks the references it was last given."""
    references = [Reference(table, column, target) for column, target in columns.items()]

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in _statements(table, references):
                schema_editor.execute(statement, None)  # no parameters: the bodies hold format() placeholders

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in _drop_statements(table, references):
                schema_editor.execute(statement, None)  # no parameters: the bodies hold format() placeholders

    return migrations.RunPython(forward, backward, elidable=False)
