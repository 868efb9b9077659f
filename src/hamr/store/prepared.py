"""Statements compiled once and run on the DBAPI cursor of a SQLAlchemy connection.

A write batch runs the same few statements for every request; through `Connection.execute`
each call pays for SQLAlchemy's execution context, cache key, parameter processing and
result wrapping, which profiling showed to be about a third of a batch's Python time. Here
SQLAlchemy still writes the SQL for whichever dialect the engine speaks, once; the calls go
straight to the driver, inside the connection's transaction. Values are passed as the
driver takes them: JSON already encoded, booleans as Python booleans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa


class Prepared:
    """One statement, its parameters bound by name."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # Positional drivers (SQLite's qmark) take a tuple in the SQL's order; named ones
        # (psycopg's pyformat) the mapping itself.
        order = getattr(compiled, "positiontup", None) or ()
        self._order = tuple(order) if dialect.positional else None

    def params(self, values: Mapping[str, Any]) -> Any:
        if self._order is None:
            return values
        return tuple(values[name] for name in self._order)

    def bound(self, value: object) -> tuple[str, Any]:
        """The SQL and its parameters, for a statement whose one parameter is `value`."""
        return self.sql, self.params({"value": value})

    def execute(self, db: sa.Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it once; the rows it returns (none for most writes)."""
        cursor = db.connection.cursor()
        try:
            cursor.execute(self.sql, self.params(values))
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            cursor.close()

    def execute_many(self, db: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        cursor = db.connection.cursor()
        try:
            cursor.executemany(self.sql, [self.params(row) for row in rows])
        finally:
            cursor.close()

    def execute_many_returning(
        self, db: sa.Connection, rows: Iterable[Mapping[str, Any]]
    ) -> list[list[tuple[Any, ...]]]:
        """Each row's RETURNING rows, in order (psycopg's executemany keeps every result)."""
        cursor: Any = db.connection.cursor()
        try:
            cursor.executemany(self.sql, [self.params(row) for row in rows], returning=True)
            results = []
            while True:
                results.append([tuple(row) for row in cursor.fetchall()])
                if not cursor.nextset():
                    return results
        finally:
            cursor.close()


class PreparedIn:
    """A query whose one parameter is a list, `IN (...)`: compiled once per list length,
    rounded up to a power of two (padded by repeating the last value, which IN ignores), so
    that a few compilations serve batches of every size."""

    def __init__(
        self, build: Callable[[sa.BindParameter[Any]], sa.Select[Any]], dialect: sa.Dialect
    ):
        """`build(parameter)` returns the statement, with `parameter` where the list goes."""
        self._build = build
        self._dialect = dialect
        self._by_length: dict[int, tuple[str, bool]] = {}

    def rows(self, db: sa.Connection, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        if not values:
            return []
        length = 1 << (len(values) - 1).bit_length()
        padded = [*values, *[values[-1]] * (length - len(values))]
        sql, positional = self._compiled(length)
        params: Any = (
            tuple(padded) if positional else {f"v_{i + 1}": v for i, v in enumerate(padded)}
        )
        cursor = db.connection.cursor()
        try:
            cursor.execute(sql, params)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def _compiled(self, length: int) -> tuple[str, bool]:
        found = self._by_length.get(length)
        if found is None:
            parameter: sa.BindParameter[Any] = sa.bindparam(
                "v", value=[None] * length, expanding=True
            )
            compiled = self._build(parameter).compile(
                dialect=self._dialect, compile_kwargs={"render_postcompile": True}
            )
            found = (compiled.string, bool(self._dialect.positional))
            self._by_length[length] = found
        return found
