"""PostgreSQL array literals, for sending many values as one ``%s::type[]`` parameter (``unnest`` on the other side):
much cheaper to build and send than a list that psycopg2 adapts value by value (the 100,000 dates, bases and ids of
an ETA rewrite)."""

from __future__ import annotations

import re

_PLAIN_WORDS = re.compile(r"\w+(?:,\w+)*", re.ASCII)  # e.g. choice values: nothing to quote
_NULL_WORD = re.compile(r"(?:^|,)null(?:,|$)", re.IGNORECASE)  # unquoted, PostgreSQL would read NULL


def array_literal(values) -> str:
    """The literal of ids, numbers, dates or texts (None is NULL). Whole columns are joined at C speed when nothing
    needs quoting (no texts, or only plain words); otherwise each text is quoted."""
    values = values if isinstance(values, list | tuple) else list(values)
    types = set(map(type, values))
    if str not in types:
        return "{" + ",".join(map(str, values)).replace("None", "NULL") + "}"  # "None" can only come from None
    if types == {str}:
        joined = ",".join(values)
        if _PLAIN_WORDS.fullmatch(joined) and not _NULL_WORD.search(joined):
            return "{" + joined + "}"
    return "{" + ",".join(_quoted(value) for value in values) + "}"


def _quoted(value) -> str:
    return "NULL" if value is None else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
