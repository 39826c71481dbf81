"""docs/json.md against real output: every command of the CLI that takes --json has a section, and the
keys each section documents are exactly the keys the command prints on a real Anvil, both ways (none
documented but missing, none printed but undocumented).

The commands run on an Anvil of this module's own (not the session's chain), so the lots and the party
made here cannot change what other tests count.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from cli_support import Rinne, make_world, mint
from test_import import _rows  # the same rows the import tests use

from ledger import start_node, stop_node
from rinne_cli.main import cli

pytestmark = pytest.mark.chain

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
_HEADING = re.compile(r"^## `rinne ([^`]+)`\s*$", re.MULTILINE)
_KEYS = re.compile(r"^```keys\n(.*?)^```", re.MULTILINE | re.DOTALL)

#: Commands whose section exists but whose keys the lead has still to write (issue 14's module work).
#: The test fails once they are documented, so that this set is emptied then.
PENDING: set[str] = set()

#: Outputs in an external standard's own keys (the Battery Pass data model), outside this file's style.
EXTERNAL = {"passport"}


def documented() -> dict[str, dict[str, list[str]]]:
    """Command → variant ("" or a label such as "--dry-run") → keys, from the ```keys blocks of docs/json.md.

    A block's first line may be ``[variant]``; a line ``[]`` before the keys marks a list of such objects.
    """
    out: dict[str, dict[str, list[str]]] = {}
    text = DOC.read_text()
    headings = list(_HEADING.finditer(text))
    for i, m in enumerate(headings):
        body = text[m.end() : headings[i + 1].start() if i + 1 < len(headings) else len(text)]
        variants: dict[str, list[str]] = {}
        for block in _KEYS.findall(body):
            words = block.split()
            variant = ""
            if words and words[0].startswith("[") and words[0] != "[]":
                head, rest = block.split("]", 1)
                variant, words = head.strip("[ \n"), rest.split()
            assert variant not in variants, f"rinne {m.group(1)}: two keys blocks for variant {variant!r}"
            variants[variant] = words
        assert m.group(1) not in out, f"two sections for rinne {m.group(1)}"
        out[m.group(1)] = variants
    return out


def json_commands() -> list[str]:
    """Every command of the click tree that takes --json (new commands must be documented too)."""
    found: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        elif any("--json" in getattr(p, "opts", ()) for p in command.params):
            found.append(" ".join(path))

    walk(cli, [])
    return found


def keys_of(value: Any) -> list[str]:
    """The documented form of an output: its keys, or ``[]`` and the union of its items' keys."""
    if isinstance(value, list):
        union: list[str] = []
        for item in value:
            union += [k for k in item if k not in union]
        return ["[]", *union]
    return list(value)


def test_every_json_command_has_a_section_and_no_section_is_stale():
    doc = documented()
    commands = json_commands()
    assert len(commands) > 40  # the walk found the tree, not an empty group
    missing = [c for c in commands if c not in doc]
    assert not missing, f"docs/json.md has no section for: {', '.join(missing)}"
    unknown = [c for c in doc if c not in commands]
    assert not unknown, f"docs/json.md documents commands that do not exist or take no --json: {unknown}"
    unkeyed = sorted(c for c in commands if not doc[c] and c not in PENDING)
    assert not unkeyed, f"docs/json.md sections without a keys block: {unkeyed}"
    assert not [c for c in PENDING if doc.get(c)], "a pending command is documented now: remove it from PENDING"


def test_documented_style():
    # One JSON style: snake_case keys; masses, energies and times carry their unit in the key.
    for command, variants in documented().items():
        if command in EXTERNAL:
            continue
        for variant, keys in variants.items():
            for key in keys:
                if key == "[]":
                    continue
                assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\[\])?", key), f"rinne {command} {variant}: {key!r}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rinne]:
    """A world of this module's own: its own Anvil, keystores, deployment and registry."""
    data_dir = tmp_path_factory.mktemp("json-doc-anvil")
    info = start_node(data_dir, persist=False)
    world = None
    try:
        world = make_world(info.rpc_url, tmp_path_factory.mktemp("json-doc-home"))
        yield world
    finally:
        if world is not None:  # the managed node `outputs` starts, should it have failed before stopping it
            world.run("node", "stop", rpc=False, code=None)
        stop_node(data_dir)


@pytest.fixture(scope="module")
def outputs(world: Rinne, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Any]:
    """Run each command for real and keep its parsed JSON, by (command, variant)."""
    rinne = world
    tmp = tmp_path_factory.mktemp("json-doc")
    out: dict[tuple[str, str], Any] = {}

    def w(command: str, *args: str, account: str, variant: str = "") -> Any:
        out[(command, variant)] = rinne.write(*command.split(), *args, account=account)
        return out[(command, variant)]

    def r(command: str, *args: str, variant: str = "", **kw: Any) -> Any:
        out[(command, variant)] = rinne.json(*command.split(), *args, **kw)
        return out[(command, variant)]

    r("account new", "doc-person", "--fund")
    r("account address", "doc-person", rpc=False)
    r("account list")
    w("party register", "doc-person", "--roles", "MINER", "--name", "Doc", account="admin")
    w("party grant", "doc-person", "REFINER", account="admin")
    w("party revoke", "doc-person", "REFINER", account="admin")
    w("party suspend", "doc-person", account="admin")
    w("party reinstate", "doc-person", account="admin")
    r("party show", "refiner")
    r("party list")
    out[("lot mint", "")] = mint(rinne, "DOC-1", extra=("--origin", "FI:Harjavalta"))
    mint(rinne, "DOC-2")
    mint(rinne, "DOC-3")
    r("lot show", "DOC-1")
    w("lot split", "DOC-1", "DOC-1a=2t", "DOC-1b=3t", account="refiner")
    w("lot merge", "DOC-1a", "DOC-1b", "--into", "DOC-M", account="refiner")
    w("lot freeze", "DOC-3", account="auditor")
    w("lot unfreeze", "DOC-3", account="auditor")
    lots = tmp / "lots.csv"
    lots.write_text(_rows(3, "DOC-I"))
    r("lot import", str(lots), "--dry-run", variant="--dry-run")
    w("lot import", str(lots), account="refiner")
    w("transfer offer", "DOC-2", "cam", account="refiner")
    r("transfer pending", "--account", "cam")
    w("transfer reject", "DOC-2", account="cam")
    w("transfer offer", "DOC-2", "cam", account="refiner")
    w("transfer cancel", "DOC-2", account="refiner")
    w("transfer offer", "DOC-2", "cam", account="refiner")
    w("transfer accept", "DOC-2", account="cam")
    # `verify` needs the footprint of every input: DOC-2's own attestation.
    # Issued at the chain's time, not the wall clock's: the contract refuses a validity period starting after the
    # block's time, and an audit flags one starting before the verifier's accreditation.
    issued = f"@{rinne.ledger().chain_time()}"
    upstream = tmp / "doc-2.gwp.json"
    rinne.json(
        "gwp",
        "sign",
        "DOC-2",
        "--emissions",
        "2t",
        "--stage",
        "main-production",
        "--issued-at",
        issued,
        "--account",
        "verifier",
        "-o",
        str(upstream),
    )
    rinne.write("gwp", "submit", str(upstream), account="refiner")
    w("lot transform", "--in", "DOC-2", "--out", "DOC-CAM:CAM-NMC811:9t", account="cam")
    r("lot history", "DOC-CAM")
    r("lot list")
    r("lot export")
    att = tmp / "doc.gwp.json"
    r(
        "gwp sign",
        "DOC-CAM",
        "--emissions",
        "1.25t",
        "--stage",
        "main-production",
        "--issued-at",
        issued,
        "--account",
        "verifier",
        "-o",
        str(att),
    )
    w("gwp submit", str(att), account="cam")
    r("gwp verify", str(att), "--on-chain", variant="--on-chain")
    r("gwp verify", str(att))
    r("gwp verify", out[("gwp sign", "")]["uid"], variant="uid")
    inv = tmp / "doc.inv.json"
    r(
        "gwp inventory sign",
        "DOC-CAM",
        "--energy",
        "1.2MWh",
        "--renewable",
        "35%",
        "--issued-at",
        issued,
        "--account",
        "verifier",
        "-o",
        str(inv),
    )
    w("gwp inventory submit", str(inv), account="cam")
    r("gwp list")
    r("trace", "DOC-CAM")
    r("verify", "DOC-CAM")
    r("audit")
    r("account fund", "doc-person")
    # Units: cells into a pack, its SOH, its end of life, and a repurposed one from a second pack.
    start = f"@{int(time.time()) - 3600}"
    for n in (1, 2, 3):
        mint(rinne, f"DOC-CELLS-{n}", material="CELL-NMC811", mass="500kg", elements="Ni=40kg,Co=5kg,Li=7kg")
        rinne.write("transfer", "offer", f"DOC-CELLS-{n}", "pack", account="refiner")
        rinne.write("transfer", "accept", f"DOC-CELLS-{n}", account="pack")
        pack = ("--material", "PACK-75KWH", "--mass", "450kg", "--serial", f"SN-DOC-P{n}", "--rated", "75kWh")
        w("unit build", f"DOC-P{n}", "--cells", f"DOC-CELLS-{n}", *pack, account="pack")
    r("unit show", "DOC-P1")
    r("passport", "DOC-P1")
    disclosed = tmp / "doc-p1-serial.json"
    r("disclose", "unit:DOC-P1", "--field", "serialNumber", "--out", str(disclosed), rpc=False)
    r("disclose", "--show-key", variant="--show-key", rpc=False)
    w("account publish-vault-key", account="doc-person")  # this home's vault key, made by --show-key
    r("verify-disclosure", str(disclosed))
    w("unit authorise", "DOC-P1", "diag", account="pack")
    w("unit soh", "DOC-P1", "--soh", "91.5%", "--capacity", "68.6kWh", "--cycles", "1", "--throughput", "100kWh", account="diag")
    w("unit status", "DOC-P1", "waste", account="pack")
    rinne.write("transfer", "offer", "DOC-P1", "recycler", account="pack")
    rinne.write("transfer", "accept", "DOC-P1", account="recycler")
    w("unit recycle", "DOC-P1", "--out", "DOC-BM:BLACK-MASS:300kg:Ni=38kg,Co=4.5kg,Li=6kg", account="recycler")
    r("report recycling", "--recycler", "recycler", "--from", start)
    rinne.write("transfer", "offer", "DOC-P2", "second", account="pack")
    rinne.write("transfer", "accept", "DOC-P2", account="second")
    rinne.write("unit", "status", "DOC-P2", "reused", account="second")
    ess = ("--material", "ESS-150KWH", "--mass", "400kg", "--serial", "DOC-ESS", "--rated", "60kWh")
    w("unit repurpose", "DOC-ESS", "--from", "DOC-P2", *ess, account="second")
    # Modules: the third pack taken apart, and a pack remanufactured from its modules.
    mods = ("--module", "DOC-M1:220kg:37.5kWh", "--module", "DOC-M2:220kg:37.5kWh")
    w("unit dismantle", "DOC-P3", "--material", "MODULE-NMC811", *mods, account="pack")
    rmf = ("--material", "PACK-75KWH", "--mass", "440kg", "--serial", "SN-DOC-R", "--rated", "75kWh")
    w("unit remanufacture", "DOC-R", "--from", "DOC-M1", "--from", "DOC-M2", *rmf, account="pack")
    w("gwp revoke", str(att), account="verifier")
    key = tmp / "doc.key"
    key.write_text("0x" + "7d" * 32 + "\n")
    r("account import", "doc-imported", "--key-file", str(key))
    w("deploy", "--force", account="admin")  # last: a second deployment, recorded over the first
    # The managed node of this world's data directory, stopped and running.
    r("node status", rpc=False, variant="stopped")
    r("node start", rpc=False)
    r("node status", rpc=False)
    r("node stop", rpc=False)
    if os.environ.get("RINNE_JSON_DOC_DUMP"):
        Path(os.environ["RINNE_JSON_DOC_DUMP"]).write_text(json.dumps({f"{c}|{v}": o for (c, v), o in out.items()}, indent=1))
    return out


def test_documented_keys_are_exactly_the_real_keys(outputs):
    doc = documented()
    problems = []
    for (command, variant), value in outputs.items():
        documented_keys = doc.get(command, {}).get(variant)
        if documented_keys is None:
            problems.append(f"rinne {command} {variant}: not documented")
            continue
        real = keys_of(value)
        if extra := [k for k in real if k not in documented_keys]:
            problems.append(f"rinne {command} {variant}: undocumented keys {extra}")
        if missing := [k for k in documented_keys if k not in real]:
            problems.append(f"rinne {command} {variant}: documented keys missing from the output {missing}")
    assert not problems, "\n".join(problems)


def test_every_documented_variant_was_run(outputs):
    # Otherwise its keys could drift unchecked: each keys block of docs/json.md was compared with real output
    # (a newly documented command adds its run to `outputs`).
    unchecked = [f"{c} {v}".strip() for c, variants in documented().items() for v in variants if (c, v) not in outputs]
    assert not unchecked, f"documented but never run here: {unchecked}"


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON value, at any depth (a list's items under the list's key)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _leaves(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?")


#: Keys that hold a time (beside any key ending in ``_at``).
_TIME_KEYS = {"since", "time", "at", "start", "end", "valid_until", "deadline"}
#: Keys that name an amount without its unit: the unit goes in the key (mass_g, loss_g, rated_wh).
_UNITLESS = {"mass", "masses", "used_masses", "loss", "energy", "capacity", "emissions"}
#: Keys whose values are names of a state or kind, written in lower case everywhere.
_ENUM_KEYS = {"kind", "state", "status"}


def test_real_values_follow_the_style(outputs):
    # Checksummed addresses, ISO 8601 UTC times, units in the keys and lower-case states, at any depth
    # of what the commands really print: a new lowercase address, Unix time or unitless mass fails here.
    from ledger import checksum_address

    problems = []
    for (command, variant), value in outputs.items():
        if command in EXTERNAL:
            continue
        for key, v in _leaves(value):
            if isinstance(v, str) and _ADDRESS.fullmatch(v) and v != checksum_address(v):
                problems.append(f"rinne {command} {variant}: {key} = {v} is not checksummed")
            if key in _UNITLESS:
                problems.append(f"rinne {command} {variant}: {key} carries no unit in its name")
            if key in _ENUM_KEYS and isinstance(v, str) and v != v.lower():
                problems.append(f"rinne {command} {variant}: {key} = {v!r} is not lower case")
            if (key.endswith("_at") or key in _TIME_KEYS) and v is not None:
                if not (isinstance(v, str) and _ISO_UTC.fullmatch(v)):
                    problems.append(f"rinne {command} {variant}: {key} = {v!r} is not an ISO 8601 UTC time")
    assert not problems, "\n".join(problems)
