"""The PostgreSQL dialect of the index (ledger/index/_postgres.py) without a server: each kind of
statement the index's SQLite SQL holds, as PostgreSQL gets it; URLs, schema names, and that a SQLite
index never loads psycopg."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ledger import Deployment
from ledger.index._postgres import redact, schema_name, split_schema, translate


@pytest.mark.parametrize(
    "sqlite, postgres",
    [
        ("SELECT value FROM meta WHERE key=?", "SELECT value FROM meta WHERE key=%s"),
        (
            "INSERT OR REPLACE INTO meta VALUES(?, ?)",
            "INSERT INTO meta(key, value) VALUES(%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        ),
        # SQLite's REPLACE deletes the old row: a column not given (kind) goes back to its default.
        (
            "INSERT OR REPLACE INTO lots(lot_id, event, material, mass, origin, holder) VALUES(?,?,?,?,?,?)",
            "INSERT INTO lots(lot_id, event, material, mass, origin, holder) VALUES(%s,%s,%s,%s,%s,%s) ON CONFLICT (lot_id) "
            "DO UPDATE SET event = EXCLUDED.event, material = EXCLUDED.material, mass = EXCLUDED.mass, "
            "origin = EXCLUDED.origin, holder = EXCLUDED.holder, kind = DEFAULT",
        ),
        ("INSERT OR IGNORE INTO sel VALUES(?)", "INSERT INTO sel VALUES(%s) ON CONFLICT DO NOTHING"),
        (
            "CREATE TEMP TABLE IF NOT EXISTS sel(lot_id BLOB PRIMARY KEY) WITHOUT ROWID",
            "CREATE TEMP TABLE IF NOT EXISTS sel(lot_id BYTEA PRIMARY KEY) ",
        ),
        (
            "SELECT o.op FROM sel s CROSS JOIN op_out o ON o.lot_id = s.lot_id",
            "SELECT o.op FROM sel s JOIN op_out o ON o.lot_id = s.lot_id",
        ),
        # A ? or % inside a quoted literal is text, not a placeholder.
        ("SELECT 1 FROM events WHERE name = '?' AND key = ?", "SELECT 1 FROM events WHERE name = '?' AND key = %s"),
        ("SELECT '50%' WHERE 1 = ?", "SELECT '50%%' WHERE 1 = %s"),
    ],
)
def test_statements_translate(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


def test_urls_keep_no_password_and_schemas_are_per_deployment() -> None:
    assert redact("postgresql://me:secret@db:5433/x?sslmode=require") == "postgresql://me:***@db:5433/x?sslmode=require"
    assert redact("postgresql://me@db/x") == "postgresql://me@db/x"
    assert split_schema("postgresql://db/x?sslmode=require&schema=s1") == ("postgresql://db/x?sslmode=require", "s1")
    assert split_schema("postgresql://db/x") == ("postgresql://db/x", None)
    a = Deployment(chain_id=1, ledger="0x" + "11" * 20, attestations="0x" + "22" * 20, block=5, admin="0x" + "44" * 20)
    b = a.model_copy(update={"attestations": "0x" + "33" * 20})
    c = a.model_copy(update={"chain_id": 2})
    names = {schema_name(x) for x in (a, b, c)}
    assert len(names) == 3 and all(len(n) <= 63 and n.isidentifier() for n in names)


def test_a_sqlite_index_never_loads_psycopg() -> None:
    code = (
        "import sys\nfrom ledger import EventIndex\nix = EventIndex.open(':memory:')\nix.event_count()\n"
        "print('psycopg' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
