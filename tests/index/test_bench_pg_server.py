"""The benchmark's PostgreSQL server (scripts/bench_common.py, issue 15): a figure measured against a
server that may lose commits would flatter PostgreSQL against SQLite, and a server left running would
skew the next benchmark's figures."""

from __future__ import annotations

import glob
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench_common

needs_pg = pytest.mark.skipif(
    not (shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb")),
    reason="PostgreSQL's server binaries are not installed",
)


def _data_dir(url: str) -> Path:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return Path(conn.execute("SHOW data_directory").fetchone()[0]).parent  # type: ignore[index]


@needs_pg
def test_the_throwaway_server_commits_durably_and_is_gone_afterwards() -> None:
    with bench_common.pg_server(None) as url:
        settings = bench_common.pg_settings(url)
        where = _data_dir(url)
        assert where.exists()
    # pg-test-server.sh turns these off on the server's command line; the benchmark must have them back on.
    assert (settings["fsync"], settings["synchronous_commit"]) == ("on", "on")
    assert not where.exists()


@needs_pg
def test_an_error_inside_the_benchmark_still_stops_the_server() -> None:
    seen: list[Path] = []
    with pytest.raises(RuntimeError), bench_common.pg_server(None) as url:
        seen.append(_data_dir(url))
        raise RuntimeError("the benchmark failed")
    assert seen and not seen[0].exists()


def test_a_given_server_is_used_as_it_is() -> None:
    with bench_common.pg_server("postgresql://someone@db.example/x") as url:
        assert url == "postgresql://someone@db.example/x"


@pytest.mark.parametrize("text", ["", "mysql", "sqlite,oracle"])
def test_an_unknown_backend_is_refused(text: str) -> None:
    with pytest.raises(SystemExit):
        bench_common.parse_backends(text)
