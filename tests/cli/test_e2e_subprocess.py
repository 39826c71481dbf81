"""The installed `rinne` as a real subprocess against a real Anvil: a refiner mints and offers, a cathode
maker accepts and transforms, a verifier signs offline, someone submits; --json output matches the chain."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ledger import Ledger, LotState, to_bytes32
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

RINNE = Path(sys.executable).parent / "rinne"


@pytest.fixture
def env(anvil, tmp_path):
    if not RINNE.exists():
        pytest.fail(f"{RINNE} is missing: install the package with `{Path(sys.executable).parent}/pip install -e .`")
    ledger = Ledger.connect(anvil.rpc_url, data_dir=tmp_path)
    snapshot = call(ledger.w3, "evm_snapshot", [])
    latest = int(call(ledger.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    call(ledger.w3, "evm_setTime", [max(int(time.time()), latest + 1)])
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RINNE_", "ETH_RPC_URL"))}
    environ.update(
        RINNE_HOME=str(tmp_path / "home"),
        RINNE_KEYSTORE_DIR=str(tmp_path / "keys"),
        RINNE_SCRYPT_N="1024",
        RINNE_INSECURE_FAST_KEYS="1",
        RINNE_PASSWORD="e2e password",
        ETH_RPC_URL=anvil.rpc_url,
        NO_COLOR="1",
    )
    yield environ
    call(ledger.w3, "evm_revert", [snapshot])


def run(env, *args, code=0, extra_env=None, cwd=None):
    proc = subprocess.run(
        [str(RINNE), *map(str, args)],
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == code, f"rinne {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def data(env, *args, **kwargs):
    return json.loads(run(env, *args, "--json", **kwargs).stdout)


def test_refiner_to_cathode_maker_with_an_offline_attestation(env, tmp_path):
    names = ["admin", "refiner", "cam", "verifier"]
    with ThreadPoolExecutor(4) as pool:
        accounts = dict(zip(names, pool.map(lambda n: data(env, "account", "new", n, "--fund"), names)))
    addr = {n: a["address"] for n, a in accounts.items()}
    assert all(a["funded"] for a in accounts.values())

    deployed = data(env, "deploy", "--account", "admin", "--yes")
    for name, roles in [("refiner", "REFINER"), ("cam", "PRECURSOR_MAKER,CATHODE_MAKER"), ("verifier", "GWP_VERIFIER")]:
        data(env, "party", "register", name, "--roles", roles, "--name", name, "--account", "admin", "--yes")

    minted = data(
        env,
        "lot",
        "mint",
        "R-NI-E2E",
        "--material",
        "NiSO4",
        "--mass",
        "20t",
        "--elements",
        "Ni=22%,Co=0.8%",
        "--recycled-post",
        "Ni=10%",
        "--origin",
        "FI:Harjavalta",
        "--account",
        "refiner",
        "--yes",
    )
    assert minted["created"] is True
    data(env, "transfer", "offer", "R-NI-E2E", "cam", "--account", "refiner", "--yes")
    pending = data(env, "transfer", "pending", "--account", "cam")
    assert [(p["lot_id"], p["from"]) for p in pending] == [(to_bytes32("R-NI-E2E"), addr["refiner"])]
    accepted = data(env, "transfer", "accept", "R-NI-E2E", "--account", "cam", "--yes")
    assert accepted["holder"] == addr["cam"]
    # Accepting twice is a chain error: exit 1, one line, nothing on stdout.
    again = run(env, "transfer", "accept", "R-NI-E2E", "--account", "cam", "--yes", code=1)
    assert again.stdout == "" and again.stderr.strip().count("\n") == 0 and "no current offer" in again.stderr
    data(env, "lot", "transform", "--in", "R-NI-E2E", "--out", "CAM-E2E:CAM-NMC811:15t", "--account", "cam", "--yes")

    # Offline: no node reachable at all while signing.
    att = tmp_path / "cam-e2e.gwp.json"
    signed = data(
        env,
        "gwp",
        "sign",
        "CAM-E2E",
        "--emissions",
        "18.4t",
        "--stage",
        "main-production",
        "--account",
        "verifier",
        "-o",
        att,
        extra_env={"ETH_RPC_URL": "http://127.0.0.1:1"},
    )
    submitted = data(env, "gwp", "submit", att, "--account", "refiner", "--yes")
    assert submitted[0]["recorded"] is True and submitted[0]["uid"] == signed["uid"]

    with ThreadPoolExecutor(4) as pool:
        verified, shown, history, listed = pool.map(
            lambda args: data(env, *args),
            [
                ("gwp", "verify", att, "--on-chain"),
                ("lot", "show", "CAM-E2E"),
                ("lot", "history", "CAM-E2E"),
                ("gwp", "list", "--lot", "CAM-E2E"),
            ],
        )

    chain = Ledger.connect(env["ETH_RPC_URL"], data_dir=Path(env["RINNE_HOME"]))
    assert chain.deployment.ledger == deployed["ledger"]
    cam_lot, ni_lot = chain.lot("CAM-E2E"), chain.lot("R-NI-E2E")
    assert ni_lot.state == LotState.CONSUMED
    assert shown["holder"] == cam_lot.holder == addr["cam"]
    assert shown["mass_g"] == cam_lot.mass == 15_000_000
    assert shown["composition"]["total"] == cam_lot.composition.as_dict() == {"Ni": 4_400_000, "Co": 160_000}
    assert shown["composition"]["post_consumer"] == cam_lot.composition.as_dict("post") == {"Ni": 440_000}
    assert shown["commitment"] == cam_lot.commitment
    assert [e["event"] for e in history] == ["LotCreated", "LotsTransformed", "Attested"]
    assert history[1]["inputs"] == [to_bytes32("R-NI-E2E")] and history[1]["operator"] == addr["cam"]
    record = chain.attestation(signed["uid"])
    assert verified["ok"] is True and verified["recorded"] is True and verified["uid"] == record["uid"]
    assert record["signer"] == addr["verifier"] and record["emissions_grams"] == 18_400_000 and record["valid"]
    assert listed == [{**listed[0], "uid": signed["uid"], "signer": addr["verifier"], "emissions_g": 18_400_000, "revoked": False}]

    # Usage errors exit 2 with one line.
    bad = run(env, "lot", "mint", "X", "--material", "NiSO4", "--mass", "12.5", "--account", "refiner", "--yes", code=2)
    assert bad.stderr.strip().count("\n") == 0 and "needs a unit" in bad.stderr


def test_import_list_export_round_trip(env, tmp_path):
    # A few hundred lots through the installed `rinne`: import, list with filters, export to CSV and back.
    for name in ("admin", "refiner"):
        data(env, "account", "new", name, "--fund")
    data(env, "deploy", "--account", "admin", "--yes")
    data(env, "party", "register", "refiner", "--roles", "REFINER", "--name", "Nordic Refining", "--account", "admin", "--yes")
    origins = ["FI:Harjavalta", "AU:Greenbushes", ""]
    lots = tmp_path / "lots.csv"
    lots.write_text(
        "lot_id,material,mass,Ni,origin\n"
        + "".join(f"RT-{i:04d},{'NiSO4' if i % 2 else 'CoSO4'},{1_000_000 + i},{i % 7}%,{origins[i % 3]}\n" for i in range(300))
    )
    assert data(env, "lot", "import", lots, "--account", "refiner", "--yes")["minted"] == 300

    listed = data(env, "lot", "list")
    assert [r["label"] for r in listed] == [f"RT-{i:04d}" for i in range(300)]
    assert {r["holder_account"] for r in listed} == {"refiner"} and {r["holder_name"] for r in listed} == {"Nordic Refining"}
    finnish = data(env, "lot", "list", "--origin", "FI", "--material", "CoSO4")
    assert [r["label"] for r in finnish] == [f"RT-{i:04d}" for i in range(300) if i % 3 == 0 and i % 2 == 0]
    assert {r["origin_site"] for r in finnish} == {"Harjavalta"}
    table = run(env, "lot", "list", "--holder", "Nordic Refining", "--limit", "2").stdout.splitlines()
    assert len(table) == 3 and "refiner 0x" in table[1] and "FI:Harjavalta" in table[1] and "1 t" in table[1]
    nl = run(env, "lot", "list", "--nl", "--state", "active").stdout.splitlines()
    assert len(nl) == 300 and json.loads(nl[-1])["label"] == "RT-0299"

    out = tmp_path / "export.csv"
    proc = run(env, "lot", "export", "--csv", "-o", out)
    assert proc.stdout == "" and "wrote 300 lots" in proc.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(r["lot_id"], int(r["mass_g"])) for r in rows] == [(to_bytes32(f"RT-{i:04d}"), 1_000_000 + i) for i in range(300)]
    assert [int(r["ni_g"]) for r in rows] == [(1_000_000 + i) * (i % 7) // 100 for i in range(300)]

    # Bad filter values: one Error line, exit 2, no traceback.
    for args in (["--state", "melted"], ["--origin", "Finland"], ["--minted-from", "soon"]):
        bad = run(env, "lot", "list", *args, code=2)
        assert bad.stdout == "" and bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith("Error: ")


def test_no_terminal_and_no_password_is_one_line(env):
    # stdin is /dev/null (no terminal, nothing to read) and no password is configured: one line, no GetPassWarning.
    no_password = {"RINNE_PASSWORD": ""}
    proc = run(env, "account", "new", "nopw", "--no-fund", code=1, extra_env=no_password)
    assert proc.stdout == "" and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("Error: no password for nopw") and "RINNE_PASSWORD" in proc.stderr
    assert "GetPassWarning" not in proc.stderr and "echoed" not in proc.stderr
    data(env, "account", "new", "signer", "--fund")
    data(env, "deploy", "--account", "signer", "--yes")
    proc = run(
        env,
        "lot",
        "mint",
        "NOPW-1",
        "--material",
        "NiSO4",
        "--mass",
        "1t",
        "--account",
        "signer",
        "--yes",
        code=1,
        extra_env=no_password,
    )
    assert proc.stderr.strip().count("\n") == 0 and "no password for signer" in proc.stderr and "GetPassWarning" not in proc.stderr
    # A password piped in (no terminal either) is read without the warning.
    piped = subprocess.run(
        [str(RINNE), "account", "new", "piped", "--no-fund"],
        env={**env, **no_password},
        input="pw\npw\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert piped.returncode == 0 and "GetPassWarning" not in piped.stderr and "pw" not in piped.stdout


def test_verbose_after_the_subcommand(env):
    # Nothing deployed in this data directory: a library error, whose traceback -v shows wherever it stands.
    before = subprocess.run([str(RINNE), "-v", "lot", "show", "X"], env=env, capture_output=True, text=True, timeout=120)
    after = subprocess.run([str(RINNE), "lot", "show", "X", "-v"], env=env, capture_output=True, text=True, timeout=120)
    quiet = subprocess.run([str(RINNE), "lot", "show", "X"], env=env, capture_output=True, text=True, timeout=120)
    assert before.returncode == after.returncode == quiet.returncode == 1
    assert "Traceback" in before.stderr and "Traceback" in after.stderr and "NotDeployed" in after.stderr
    assert quiet.stderr.strip().count("\n") == 0 and quiet.stderr.startswith("Error: ")
    assert after.stderr.strip().splitlines()[-1] == before.stderr.strip().splitlines()[-1]


#: One command of each family of options (a read, a listing, a write, the index readers, a unit, the audit),
#: with the arguments it needs to get as far as the chain.
_FAMILIES = [
    ["lot", "show", "X"],
    ["lot", "list"],
    ["party", "list"],
    ["lot", "mint", "X", "--material", "NiSO4", "--mass", "1t", "--account", "nobody", "--yes"],
    ["transfer", "offer", "X", "0x" + "12" * 20, "--account", "nobody", "--yes"],
    ["trace", "X"],
    ["unit", "show", "X"],
    ["audit"],
    ["gwp", "list"],
]


@pytest.mark.parametrize("args", _FAMILIES, ids=[" ".join(a[:2]) for a in _FAMILIES])
def test_verbose_works_where_each_help_shows_it(env, args):
    # The help lists -v among the command's own options: after the subcommand it must do what it does first.
    shown = subprocess.run([str(RINNE), *args[:2], "--help"], env=env, capture_output=True, text=True, timeout=120).stdout
    assert "-v, --verbose" in shown
    runs = {
        where: subprocess.run([str(RINNE), *argv], env=env, capture_output=True, text=True, timeout=120)
        for where, argv in (("first", ["-v", *args]), ("last", [*args, "-v"]), ("long", [*args, "--verbose"]), ("none", args))
    }
    assert {p.returncode for p in runs.values()} == {1}, {k: p.stderr for k, p in runs.items()}
    for where in ("first", "last", "long"):
        assert "Traceback" in runs[where].stderr, (where, runs[where].stderr)
        assert runs[where].stderr.strip().splitlines()[-1] == runs["none"].stderr.strip(), where
    assert runs["none"].stderr.count("\n") == 1 and runs["none"].stderr.startswith("Error: ")
