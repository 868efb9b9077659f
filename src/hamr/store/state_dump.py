"""The emulator's state as rows (`GET|PUT /_hamr/state`): every row of every table that holds
state, every column, JSON-safe, in primary-key order; and such rows put back, identities and
all, in place of everything stored. Idempotency keys are left out (answers kept a day, not
state), and so are the epochs (counters other processes poll; a load moves them), the chain
heads (what the history's rows say, rebuilt from them by a load) and the columns derived from
other columns (`DERIVED`, recomputed by a load).

What a row must hold is read off the schema, so the checks follow the tables: a load is
refused, naming every problem, before anything is changed, rather than failing halfway on a
constraint (or, where SQLite does not enforce one, storing what every later read chokes on).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from enum import Enum
from itertools import islice
from typing import Any

import sqlalchemy as sa

from hamr.domain.datacenter_jobs import primary_datacenter
from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.keys import hash_secret
from hamr.domain.model import HamrStatus, KeyKind, Permission
from hamr.store import heads
from hamr.store.tables import connection_members, connections, history, keys, orgs

# This schema's format: a migration that changes these tables bumps it.
FORMAT = 1
# Parents before children, so foreign keys hold at every insert.
STATE_TABLES = (orgs, keys, connections, connection_members, history)
# Columns computed from others, which a state neither holds nor may give.
DERIVED = frozenset({connections.c.primary_datacenter})
# Columns that hold one of the domain's values: reads turn them into these enums.
_ENUMS: dict[sa.Column[Any], type[Enum]] = {
    keys.c.kind: KeyKind,
    keys.c.permission: Permission,
    connections.c.hamr_status: HamrStatus,
}
# Integer widths: PostgreSQL's, on SQLite too, so that a state loads on either.
_BITS: dict[type[sa.Integer], int] = {sa.SmallInteger: 16, sa.BigInteger: 64}
# The columns foreign keys point at.
_REFERENCED = {fk.column for t in STATE_TABLES for c in t.columns for fk in c.foreign_keys}
# Enough to fix a document by; a broken file of a million rows must not answer with as many.
MAX_REPORTED = 20


def in_key_order(table: sa.Table, columns: list[sa.Column[Any]] | None = None) -> sa.Select[Any]:
    """The table's rows (every column, or these) in primary-key order."""
    return sa.select(*(columns or table.columns)).order_by(*table.primary_key.columns)


def _state_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [column for column in table.columns if column not in DERIVED]


def move_history_ids_past_rows(db: sa.Connection) -> None:
    """On PostgreSQL, rows inserted with their ids bypassed the id sequence: move it past them,
    so the next history row gets a new id (SQLite takes the largest id plus one by itself)."""
    if db.dialect.name == "postgresql":
        db.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('history', 'id'), "
                "COALESCE((SELECT max(id) FROM history), 0) + 1, false)"
            )
        )


def dump(db: sa.Connection) -> dict[str, Any]:
    """The state: the format, then each table's rows, columns in the schema's order."""
    state: dict[str, Any] = {"format": FORMAT}
    for table in STATE_TABLES:
        rows = db.execute(in_key_order(table, _state_columns(table))).mappings()
        state[table.name] = [dict(row) for row in rows]
    return state


def checked(state: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each table's rows, if `state` is one dump could have given (a key may give its
    `secret` instead of its hash: a scenario for tests); else ValidationFailed, pointers
    relative to `state`."""
    state, hashing = _secrets_hashed(state)
    problems = list(islice(itertools.chain(hashing, _problems(state)), MAX_REPORTED))
    if problems:
        raise ValidationFailed(problems)
    return {table.name: state[table.name] for table in STATE_TABLES}


def insert(db: sa.Connection, rows: Mapping[str, list[dict[str, Any]]]) -> None:
    """Insert checked rows as they are (history keeps its ids and chain hashes), with their
    derived columns, and the chain heads those rows end in."""
    datacenter_of = {org["uuid"]: org["datacenter"] for org in rows[orgs.name]}
    rows = {
        **rows,
        connections.name: [
            {
                **row,
                "primary_datacenter": primary_datacenter(
                    row["org_is_primary"],
                    datacenter_of[row["org_uuid"]],
                    row["target_org_datacenter"],
                ),
            }
            for row in rows[connections.name]
        ],
    }
    for table in STATE_TABLES:
        if rows[table.name]:
            db.execute(table.insert(), rows[table.name])
    move_history_ids_past_rows(db)
    heads.rebuild(db)


def _secrets_hashed(state: Mapping[str, Any]) -> tuple[Mapping[str, Any], list[Violation]]:
    """The state with each key's `secret` replaced by its `secret_hash` (hamr stores no
    secret), and what is wrong with a secret given: not a string, or not the hash's."""
    rows = state.get(keys.name)
    if not isinstance(rows, list):
        return state, []
    problems: list[Violation] = []
    hashed: list[Any] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or "secret" not in row:
            hashed.append(row)
            continue
        row = dict(row)
        secret, at = row.pop("secret"), f"/{keys.name}/{index}"
        if not isinstance(secret, str) or not secret:
            problems.append(Violation(f"{at}/secret", "secret must be a non-empty string."))
        elif row.setdefault("secret_hash", hash_secret(secret)) != hash_secret(secret):
            problems.append(
                Violation(
                    f"{at}/secret_hash", "secret_hash is not the SHA-256 of secret; drop one."
                )
            )
        hashed.append(row)
    return {**state, keys.name: hashed}, problems


def _problems(state: Mapping[str, Any]) -> Iterator[Violation]:
    members = ["format", *(table.name for table in STATE_TABLES)]
    for name in sorted(set(state) - set(members)):
        yield Violation(f"/{name}", f"{name} is not part of hamr's state; drop it.")
    if "format" not in state or type(state["format"]) is not int or state["format"] != FORMAT:
        got = _shown(state["format"]) if "format" in state else "none"
        yield Violation("/format", f"format must be {FORMAT}, the format of this hamr; got {got}.")
        return  # another format's tables are another schema's: their every row would differ
    present: dict[sa.Column[Any], set[Any]] = {}
    for table in STATE_TABLES:
        if table.name not in state:
            yield Violation(
                f"/{table.name}", f"{table.name} is missing; send its rows ([] for none)."
            )
        elif not isinstance(state[table.name], list):
            yield Violation(f"/{table.name}", f"{table.name} must be a list of rows.")
        else:
            yield from _rows(table, state[table.name], present)


def _rows(
    table: sa.Table, rows: list[Any], present: dict[sa.Column[Any], set[Any]]
) -> Iterator[Violation]:
    """What is wrong with a table's rows; the values its children may point at go in
    `present`, unless a row was wrong: the children of a table not loaded whole are left
    unchecked, rather than reported wrong for what is wrong with their parent."""
    columns = {column.name: column for column in _state_columns(table)}
    uniques = [tuple(table.primary_key.columns), *((c,) for c in table.columns if c.unique)]
    seen: dict[tuple[sa.Column[Any], ...], dict[tuple[Any, ...], int]] = {u: {} for u in uniques}
    loaded = {column: set[Any]() for column in columns.values() if column in _REFERENCED}
    whole = True
    for index, row in enumerate(rows):
        at = f"/{table.name}/{index}"
        if not isinstance(row, dict):
            names = ", ".join(columns)
            wrong = [Violation(at, f"Each row of {table.name} must be an object of {names}.")]
        else:
            wrong = _row_problems(table, columns, row, at)
        if wrong:
            whole = False
            yield from wrong
            continue
        for group in uniques:
            value = tuple(row[column.name] for column in group)
            if value in seen[group]:
                name = group[-1].name
                first = seen[group][value]
                yield Violation(
                    f"{at}/{name}", f"{name} repeats row {first}'s; each row needs its own."
                )
            else:
                seen[group][value] = index
        for name, column in columns.items():
            for fk in column.foreign_keys:
                if fk.column in present and row[name] not in present[fk.column]:
                    yield Violation(
                        f"{at}/{name}",
                        f"{name} {_shown(row[name])} is not the {fk.column.name} of any row of "
                        f"{fk.column.table.name}; add that row or drop this one.",
                    )
            if column in loaded:
                loaded[column].add(row[name])
    if whole:
        present.update(loaded)


def _row_problems(
    table: sa.Table, columns: dict[str, sa.Column[Any]], row: dict[str, Any], at: str
) -> list[Violation]:
    """What is wrong with one row on its own: columns unknown, missing, or of a wrong value."""
    problems = [
        Violation(f"{at}/{name}", f"{name} is not a column of {table.name}; drop it.")
        for name in sorted(row.keys() - columns.keys())
    ]
    for name, column in columns.items():
        if name not in row:
            problems.append(Violation(f"{at}/{name}", f"{name} is missing; give it a value."))
        elif (problem := _wrong(column, row[name])) is not None:
            problems.append(Violation(f"{at}/{name}", problem))
    return problems


def _wrong(column: sa.Column[Any], value: Any) -> str | None:
    """What is wrong with a column's value, as a sentence, or None."""
    name, kind = column.name, column.type
    if value is None:
        return None if column.nullable else f"{name} must not be null."
    if isinstance(kind, sa.Boolean):
        expected, fits = "true or false", isinstance(value, bool)
    elif isinstance(kind, sa.Integer):
        bits = _BITS.get(type(kind), 32)
        expected = f"an integer of {bits} bits"
        fits = type(value) is int and -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
    elif isinstance(kind, sa.JSON):
        expected, fits = "an object or null", isinstance(value, dict)
    else:  # String and Text
        length = getattr(kind, "length", None)
        expected = f"a string of at most {length} characters" if length else "a string"
        fits = isinstance(value, str) and (length is None or len(value) <= length)
    if not fits:
        return f"{name} must be {expected}; got {_shown(value)}."
    allowed = _ENUMS.get(column)
    if allowed is not None and value not in {member.value for member in allowed}:
        choices = ", ".join(_shown(member.value) for member in allowed)
        return f"{name} must be one of {choices}; got {_shown(value)}."
    return None


def _shown(value: Any) -> str:
    """A value as JSON, cut short: enough to find it, never a page of it."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
