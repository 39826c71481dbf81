"""`--index URL` / $RINNE_INDEX_URL (issue 15): the commands that answer from the event index use a
shared PostgreSQL index instead of the SQLite file, one schema per deployment; a bad URL or a server
that cannot be reached is a one-line error with a non-zero exit."""

from __future__ import annotations

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
