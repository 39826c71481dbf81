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
        "node start",
        "node stop",
        "node status",
        "deploy",
        "account new",
        "account import",
        "account list",
        "party register",
        "party grant",
        "party revoke",
        "party list",
        "party show",
        "lot mint",
        "lot show",
        "lot history",
        "lot split",
        "lot merge",
        "lot transform",
        "lot freeze",
        "lot import",
        "lot list",
        "lot export",
        "transfer offer",
        "transfer accept",
        "transfer reject",
        "transfer cancel",
        "transfer pending",
        "gwp sign",
        "gwp submit",
        "gwp verify",
        "gwp revoke",
        "gwp list",
        "unit build",
        "unit show",
        "unit soh",
        "unit status",
        "unit repurpose",
        "unit recycle",
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


def _leaves(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _leaves(cmd, prefix + (name,))
        else:
            out.append((prefix + (name,), cmd))
    return out


LEAVES = _leaves()

#: Options every listed command stores in the invocation's Session, and the field each fills.
_SESSION_OPTIONS = {
    "--verbose": ("verbose", True),
    "-v": ("verbose", True),
    "--json": ("json", True),
    "--yes": ("yes", True),
    "--data-dir": ("data_dir", "/tmp/x"),
    "--account": ("account", "someone"),
}


def _parse_after(path: tuple[str, ...], args: list[str]) -> click.Context:
    """Parse `rinne PATH ARGS` the way click does, options after the last subcommand, without running it;
    return the root context."""
    root = cli.make_context("rinne", [], resilient_parsing=True)
    ctx, group = root, cli
    for i, name in enumerate(path):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        ctx = cmd.make_context(name, args if i == len(path) - 1 else [], parent=ctx, resilient_parsing=True)
        group = cmd  # type: ignore[assignment]
    return root


@pytest.mark.parametrize("path,cmd", LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_session_option_in_a_commands_help_works_after_the_subcommand(path, cmd):
    # `rinne lot show X -v` must do what `rinne -v lot show X` does: the option fills the one Session the
    # error boundary and every command read, on the root context.
    from rinne_cli._core import Session

    text = CliRunner().invoke(cli, [*path, "--help"]).stdout
    shown = [o for o in _SESSION_OPTIONS if f" {o}" in text or f"{o}," in text or f"{o} " in text]
    assert "-v" in shown and "--verbose" in shown, path
    # Only the options that fill the Session (a command's own --account, say, is its parameter).
    stored = {o for p in cmd.params if not p.expose_value for o in getattr(p, "opts", [])}
    shown = [o for o in shown if o in stored]
    for option in shown:
        field, value = _SESSION_OPTIONS[option]
        args = [option] if value is True else [option, str(value)]
        session = _parse_after(path, args).find_object(Session)
        assert session is not None and str(getattr(session, field)) == str(value), (path, option)


def test_verbose_after_the_subcommand_shows_the_traceback(monkeypatch):
    from ledger.errors import ConnectionFailed
    from rinne_cli._core import Session

    def unreachable(self, *, deployed=True):
        raise ConnectionFailed("cannot reach http://127.0.0.1:1: ConnectionError")

    # The node's failure without its retries' delay: the point is where -v stands, not the network.
    monkeypatch.setattr(Session, "ledger", unreachable)
    monkeypatch.setattr(Session, "reader", lambda self: unreachable(self))  # `lot show` reads without a Ledger
    env = {"RINNE_HOME": "/nonexistent-rinne-home", "ETH_RPC_URL": "http://127.0.0.1:1", "NO_COLOR": "1"}
    for args in (["-v", "lot", "show", "X"], ["lot", "show", "X", "-v"], ["lot", "list", "--verbose"], ["party", "list", "-v"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" in result.stderr and "ConnectionFailed" in result.stderr, args
        assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot reach"), args
    quiet = CliRunner().invoke(cli, ["lot", "show", "X"], env=env)
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.strip().splitlines()) == 1
