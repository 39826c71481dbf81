"""The two index backends the index, fault and reorg tests run on (issue 15): a SQLite file in the
test's folder, or a fresh schema of a PostgreSQL database.

The database is RINNE_TEST_PG_URL when set (`.ci/run` starts one), else a throwaway server this
session starts with scripts/pg-test-server.sh (PostgreSQL's server binaries are needed); the
PostgreSQL cases skip, saying why, only when neither is possible."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")

_server: dict[str, Any] = {}


def pg_url() -> str:
    """The test database's URL, or a pytest skip saying why there is none."""
    if "url" in _server:
        return str(_server["url"])
    if "skip" in _server:
        pytest.skip(_server["skip"])
    url = os.environ.get("RINNE_TEST_PG_URL")
    if not url:
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "pg-test-server.sh")], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            _server["skip"] = (
                "PostgreSQL index tests skipped: RINNE_TEST_PG_URL is unset and no server could be started "
                f"({(proc.stderr.strip().splitlines() or ['no output'])[-1]})"
            )
            pytest.skip(_server["skip"])
        url = proc.stdout.strip()
        where = re.search(r"stop: bash \S+ stop (\S+)\)", proc.stderr)
        if where:
            atexit.register(subprocess.run, ["bash", str(ROOT / "scripts" / "pg-test-server.sh"), "stop", where.group(1)], check=False)
    _server["url"] = url
    return url


class Targets:
    """Makes index locations (`EventIndex.open` targets) of one backend, and drops the schemas at the end."""

    def __init__(self, backend: str, folder: Path) -> None:
        self.backend = backend
        self.folder = folder
        self.schemas: list[str] = []
        self.token = secrets.token_hex(4)  # a crashed run's schemas are never reused
        self.url = pg_url() if backend == "postgresql" else ""

    def __call__(self, name: str = "index") -> str:
        """A new index location called `name` (the same name twice gives the same index)."""
        if self.backend == "sqlite":
            return str(self.folder / f"{name}.sqlite")
        schema = f"t{self.token}_{re.sub(r'[^a-z0-9_]', '_', name.lower())}"[:60]
        if schema not in self.schemas:
            self.schemas.append(schema)
        return f"{self.url}?schema={schema}"

    def fresh(self, name: str = "index") -> str:
        """A location no other call gives."""
        return self(f"{name}_{secrets.token_hex(3)}")

    def drop(self) -> None:
        if not self.schemas:
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sql(target: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (SQLite's SQL; ``?`` placeholders) on an index behind the library's back, as
    someone with access to the file or database could; return its rows."""
    if target.startswith("postgresql://"):
        import psycopg

        from ledger.index._postgres import split_schema, translate

        base, schema = split_schema(target)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            cur = conn.execute(translate(statement), params)
            return list(cur.fetchall()) if cur.description else []
    import sqlite3

    db = sqlite3.connect(target)
    try:
        out = db.execute(statement, params).fetchall()
        db.commit()
        return out
    finally:
        db.close()


def index_names(target: str) -> set[str]:
    """The secondary indexes an index holds now."""
    if target.startswith("postgresql://"):
        from ledger.index._postgres import split_schema

        schema = split_schema(target)[1]
        rows = sql(target, "SELECT indexname FROM pg_indexes WHERE schemaname = ? AND indexname NOT LIKE '%_pkey'", (schema,))
        return {r[0] for r in rows}
    rows = sql(target, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    return {r[0] for r in rows}
