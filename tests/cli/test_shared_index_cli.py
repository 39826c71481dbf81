"""`--index URL` / $RINNE_INDEX_URL (issue 15): the commands that answer from the event index use a
shared PostgreSQL index instead of the SQLite file, one schema per deployment; a bad URL or a server
that cannot be reached is a one-line error with a non-zero exit."""

from __future__ import annotations

import json

import pytest
from cli_support import mint
from index_backends import Targets, pg_url, sql

from ledger import EventIndex
from ledger.index._postgres import schema_name, split_schema

pytestmark = pytest.mark.chain


def test_lot_list_answers_from_the_shared_index(rinne, tmp_path) -> None:
    url = pg_url()
    targets = Targets("postgresql", tmp_path)
    target = targets("cli")
    try:
        mint(rinne, "SH-1")
        mint(rinne, "SH-2")
        by_file = rinne.json("lot", "list")
        by_option = rinne.json("lot", "list", "--index", target)
        by_env = rinne.json("lot", "list", env={"RINNE_INDEX_URL": target})
        assert by_file == by_option == by_env and {"SH-1", "SH-2"} <= {r["label"] for r in by_file}
        assert int(sql(target, "SELECT COUNT(*) FROM events")[0][0]) > 0
        # Without ?schema=, the deployment's own schema (as the file is the deployment's own).
        d = rinne.ledger().deployment
        assert rinne.json("lot", "list", "--index", url) == by_file
        with EventIndex.open(url, deployment=d) as ix:
            assert split_schema(ix.path)[1] == schema_name(d) and ix.event_count() > 0
            targets.schemas.append(schema_name(d))
    finally:
        targets.drop()


@pytest.mark.parametrize(
    "url, words, code",
    [
        ("postgresql://nobody@127.0.0.1:1/none", "cannot reach the index database", 1),
        ("postgresql://x@127.0.0.1/db?sslmode=bogus", "invalid sslmode", 1),
        ("postgresql://x@127.0.0.1/db?bogus=1", "not a usable PostgreSQL URL", 1),
        ("postgresql://x@127.0.0.1/db?schema=no-dashes", "not a schema name", 1),
        ("sqlite:///tmp/x", "not a postgresql:// URL", 2),
    ],
)
def test_bad_index_url_is_one_line_error(rinne, url: str, words: str, code: int) -> None:
    assert words in rinne.fail("lot", "list", "--index", url, code=code)


def test_password_never_shown(rinne) -> None:
    line = rinne.fail("lot", "list", "--index", "postgresql://me:secret@127.0.0.1:1/none")
    assert "cannot reach" in line and "secret" not in line


def test_read_only_role_answers_as_of_the_synced_block(rinne, tmp_path) -> None:
    """A competitor given SELECT on the shared schema: its commands answer (checked against the chain)
    as of the block the syncing role reached, saying so, and never write."""
    targets = Targets("postgresql", tmp_path)
    target = targets("ro")
    schema = split_schema(target)[1]
    role = f"r_{schema}"[:60]
    try:
        mint(rinne, "RO-1")
        rinne.json("lot", "list", "--index", target)  # the syncing role brings it up
        sql(target, f"CREATE ROLE {role} LOGIN")
        sql(target, f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        sql(target, f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        mint(rinne, "RO-2")  # a block the index does not hold yet
        user = target.split("://", 1)[1].split("@", 1)[0]
        as_reader = target.replace(f"://{user}@", f"://{role}@", 1)
        result = rinne.run("lot", "list", "--json", "--index", as_reader)
        labels = {r["label"] for r in json.loads(result.stdout)}
        assert "RO-1" in labels and "RO-2" not in labels
        assert "read-only for this database role" in result.stderr
    finally:
        if sql(target, "SELECT 1 FROM pg_roles WHERE rolname = ?", (role,)):
            sql(target, f"DROP OWNED BY {role}")
            sql(target, f"DROP ROLE {role}")
        targets.drop()
