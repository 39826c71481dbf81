"""Every group and command has a manual page with an example (no chain)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from rinne_cli.main import cli


def _paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        out.append(prefix + (name,))
        if isinstance(cmd, click.Group):
            out += _paths(cmd, prefix + (name,))
    return out


ALL = _paths(cli)


def test_the_expected_commands_exist():
    names = {" ".join(p) for p in ALL}
    expected = {
        "node start", "node stop", "node status", "deploy", "account new", "account import", "account list",
        "party register", "party grant", "party revoke", "party list", "party show",
        "lot mint", "lot show", "lot history", "lot split", "lot merge", "lot transform", "lot freeze", "lot import",
        "transfer offer", "transfer accept", "transfer reject", "transfer cancel", "transfer pending",
        "gwp sign", "gwp submit", "gwp verify", "gwp revoke", "gwp list",
        "unit build", "unit show", "unit soh", "unit status", "unit repurpose", "unit recycle",
    }
    assert expected <= names, expected - names


def test_top_level_manual_page():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for words in ("--rpc-url", "ETH_RPC_URL", "--account", "--json", "Exit", "Example", "12.5t", "Ni=52%"):
        assert words in result.stdout
    # Commands listed in the manual's order, not alphabetically.
    listed = [line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed[:4] == ["node", "deploy", "account", "party"]


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) for p in ALL])
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert result.stderr == ""


def test_short_help_flag_and_version():
    assert CliRunner().invoke(cli, ["lot", "-h"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "rinne" in result.stdout


def test_chain_commands_share_the_connection_options():
    for path in (("lot", "mint"), ("lot", "show"), ("party", "list"), ("transfer", "pending"), ("gwp", "submit"), ("unit", "show")):
        text = CliRunner().invoke(cli, [*path, "--help"]).stdout
        for option in ("--rpc-url", "--chain-id", "--json", "--verbose"):
            assert option in text, (path, option)
    for path in (("lot", "mint"), ("transfer", "offer"), ("unit", "soh")):
        text = CliRunner().invoke(cli, [*path, "--help"]).stdout
        for option in ("--account", "--keystore-dir", "--password-file", "--confirmations", "--yes"):
            assert option in text, (path, option)


def test_unknown_command_is_a_one_line_usage_error():
    result = CliRunner().invoke(cli, ["lot", "frobnicate"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "rinne lot --help" in lines[0]
