"""SQLAlchemy Core statements compiled once per dialect and run on a raw DB-API cursor.

    load = Prepared(select(...).where(conversations.c.pseudonym == bindparam("pseudonym")), engine.dialect)
    row = load.first(cursor, pseudonym=p)          # a tuple in the select's column order, or None
    load.run(cursor, pseudonym=p)                   # rowcount

A turn runs a handful of fixed statements. Executing each through SQLAlchemy costs about 50 µs of
statement caching, parameter coercion and result wrapping, about two thirds of a turn's database
time on SQLite; the SQL itself is the same. The statements stay written as Core constructs (one
definition for SQLite and PostgreSQL, quoting and paramstyle from the dialect); only the
execution is bare. Bound values go through each column type's bind processor, so what is written
is exactly what SQLAlchemy would write (SQLite's datetime text, for one) and the rest of the
code can keep reading it with SQLAlchemy. Results are not processed: select only columns whose
raw driver value is what the caller wants (text, bytes, integers).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


def _remembering(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` remembering its last answer: a turn passes the same ``now`` to several
    statements, and SQLite's datetime formatting is done in Python."""
    last: tuple[Any, Any] = (object(), None)

    def process(value: Any) -> Any:
        nonlocal last
        seen, answer = last  # one read: another thread may replace it, never half of it
        if value is seen:
            return answer
        answer = processor(value)
        last = (value, answer)
        return answer

    return process


class Prepared:
    """One statement, compiled for ``dialect``. Values are passed by the names of its
    ``bindparam``s; a literal in the statement (``status == "pending"``) keeps its value."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        if "POSTCOMPILE" in self.sql:  # IN (...) expands at execution, which only SQLAlchemy does
            raise ValueError("Prepared statements cannot hold IN (...): write or_(column == a, column == b)")
        self._names: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positional else None
        # The positional parameters, in order, out of the processed values (always a tuple).
        self._in_order: Callable[[dict], tuple] | None = None
        if self._names:
            pick = itemgetter(*self._names)
            self._in_order = pick if len(self._names) > 1 else (lambda values: (pick(values),))
        self._processors: dict[str, Callable[[Any], Any]] = {}
        self._literals: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            # The dialect's own implementation of the type (SQLite's DATETIME writes its text
            # form; the generic DateTime has no processor and would leave it to the driver).
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = _remembering(processor)
            if not bind.required and not callable(bind.value):
                self._literals[name] = bind.value

    def bound(self, name: str, value: Any) -> Any:
        """``value`` as it is sent for the parameter ``name`` (what the driver reads back from
        that column: SQLite's datetime text, for one)."""
        processor = self._processors.get(name)
        return processor(value) if processor is not None else value

    def parameters(self, values: dict[str, Any]) -> tuple | dict:
        if self._literals:
            values = {**self._literals, **values}
        processors = self._processors
        processed = {name: processors[name](value) if name in processors else value for name, value in values.items()}
        if self._names is None:
            return processed
        return self._in_order(processed) if self._in_order is not None else ()

    def run(self, cursor, **values: Any) -> int:
        """Execute; returns the driver's rowcount (rows changed by an INSERT/UPDATE/DELETE)."""
        cursor.execute(self.sql, self.parameters(values))
        return cursor.rowcount

    def first(self, cursor, **values: Any) -> tuple | None:
        cursor.execute(self.sql, self.parameters(values))
        return cursor.fetchone()
