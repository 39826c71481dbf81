"""`rinne lot import`: every bad row reported with its line, exit 2 with nothing sent, --dry-run, a fast
re-run, Ctrl-C as exit 130 saying what was done; and a 5,000-lot import → list → export round trip
through the installed `rinne` as real subprocesses."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import mint
from test_e2e_subprocess import RINNE, data, env, run  # noqa: F401  (env is a fixture)

import ledger
from ledger import LotState

pytestmark = pytest.mark.chain


def _rows(n: int, prefix: str = "I") -> str:
    return "lot_id,material,mass,Ni,Co\n" + "".join(f"{prefix}-{i:05d},NiSO4,{i}t,22%,1%\n" for i in range(1, n + 1))


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_sent(rinne, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "lot_id,material,mass,Ni\n"
        "G-1,NiSO4,1t,10%\n"  # line 2: fine
        "G-2,NiSO4,-5kg,10%\n"  # line 3
        "G-3,NiSO4,1e40g,10%\n"  # line 4
        "G-4,NiSO4,1t,200%\n"  # line 5
        "G-1,NiSO4,1t,10%\n"  # line 6: the id of line 2 again
    )
    result = rinne.run("lot", "import", str(bad), "--account", "refiner", "--yes", code=2)
    err = result.stderr
    assert result.stdout == "" and "Traceback" not in err
    assert "bad.csv: line 3: " in err and "must be positive" in err
    assert "bad.csv: line 4: " in err and "too large" in err
    assert "bad.csv: line 5: " in err
    assert "bad.csv: line 6: the same lot id twice: G-1 is also line 2" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "bad.csv: 4 bad row(s) of 5 (listed above): nothing was sent" in last
    assert rinne.ledger().lot("G-1").state == LotState.NONE


def test_many_bad_rows_are_listed_up_to_a_limit_then_counted(rinne, tmp_path):
    bad = tmp_path / "many.csv"
    bad.write_text("lot_id,material,mass\n" + "".join(f"M-{i},NiSO4,{i}.5\n" for i in range(50)))
    err = rinne.run("lot", "import", str(bad), "--account", "refiner", "--yes", code=2).stderr
    listed = [line for line in err.splitlines() if "many.csv: line " in line]
    assert len(listed) == 20 and "many.csv: … and 30 more" in err
    assert "many.csv: 50 bad row(s) of 50" in err.strip().splitlines()[-1]


def test_a_41_digit_mass_in_json_says_too_large(rinne, tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps([{"lot_id": "B-1", "material": "NiSO4", "mass": 10**40}]))
    line = rinne.fail("lot", "import", str(big), "--account", "refiner", "--yes", code=2)
    assert "item 1: mass" in line and "too large" in line and "pydantic" not in line.lower()


def test_dry_run_checks_the_chain_and_sends_nothing(rinne, tmp_path):
    mint(rinne, "I-00002", mass="2t", elements="Ni=22%,Co=1%")
    lots = tmp_path / "lots.csv"
    lots.write_text(_rows(3))
    block = rinne.ledger().w3.eth.block_number
    # No account needed to look.
    out = rinne.json("lot", "import", str(lots), "--dry-run")
    assert out == {"dry_run": True, "lots": 3, "to_mint": 2, "skipped": 1, "to_mint_mass_g": 4_000_000}
    human = rinne.run("lot", "import", str(lots), "--dry-run").stdout
    assert "would mint 2 lots (4 t) and skip 1" in human and "nothing was sent" in human
    assert rinne.ledger().w3.eth.block_number == block and rinne.ledger().lot("I-00001").state == LotState.NONE


def test_lots_on_chain_with_other_content_are_all_named(rinne, tmp_path):
    mint(rinne, "I-00001", mass="5t")
    mint(rinne, "I-00003", mass="5t")
    lots = tmp_path / "lots.csv"
    lots.write_text(_rows(3))
    err = rinne.run("lot", "import", str(lots), "--account", "refiner", "--yes", code=1).stderr
    assert "lots.csv: line 2: lot I-00001 exists already with other content" in err
    assert "lots.csv: line 4: lot I-00003 exists already with other content" in err
    assert rinne.ledger().lot("I-00002").state == LotState.NONE


def test_a_rerun_with_a_changed_mass_is_reported_not_skipped(rinne, tmp_path):
    # Element grams given as masses (not shares): a row with another lot mass has the same composition, so the
    # same commitment; only the stored mass tells the rows apart. A competitor's re-run (or a typo) that changes
    # the mass of a lot on the ledger must be named, not silently taken for the lot that is there.
    lots = tmp_path / "lots.csv"
    lots.write_text("lot_id,material,mass,Ni,Co\n" + "".join(f"W-{i},NiSO4,10t,2t,100kg\n" for i in range(1, 6)))
    assert rinne.write("lot", "import", str(lots), account="refiner")["minted"] == 5
    lots.write_text(
        "lot_id,material,mass,Ni,Co\n" + "".join(f"W-{i},NiSO4,{'11t' if i == 4 else '10t'},2t,100kg\n" for i in range(1, 7))
    )
    err = rinne.run("lot", "import", str(lots), "--account", "refiner", "--yes", code=1).stderr
    assert "lots.csv: line 5: lot W-4 exists already with other content" in err and "line 4:" not in err
    assert "nothing was sent" in err.strip().splitlines()[-1]
    assert rinne.ledger().lot("W-4").mass == 10_000_000 and rinne.ledger().lot("W-6").state == LotState.NONE
    # The same with the library's bulk mint: its skip path compares the mass too.
    changed = ledger.LotSpec(
        lot_id="W-4", material="NiSO4", mass=11_000_000, composition=ledger.Composition.of({"Ni": 2_000_000, "Co": 100_000})
    )
    with pytest.raises(ledger.errors.InvalidInput, match="W-4 already exists with other content"):
        rinne.ledger().mint_many([changed])


def test_a_rerun_that_skips_everything_signs_nothing(rinne, tmp_path):
    lots = tmp_path / "lots.csv"
    lots.write_text(_rows(300))
    assert rinne.write("lot", "import", str(lots), account="refiner")["minted"] == 300
    # No password at all: a re-run with nothing to mint unlocks nothing and asks nothing.
    again = rinne.json("lot", "import", str(lots), "--account", "refiner", env={"RINNE_PASSWORD": None})
    assert again == {"minted": 0, "skipped": 300, "transactions": 0, "gas_used": 0}


def test_a_lot_minted_by_another_writer_after_the_check_fails_its_transaction_and_a_rerun_skips_it(rinne, tmp_path, monkeypatch):
    # With --yes the import does not read which lots exist a second time (issue 16): a lot that another writer
    # mints between the check and the send makes its transaction revert; nothing is doubled, and a re-run finishes.
    lots = tmp_path / "lots.csv"
    lots.write_text(_rows(4, "RACE"))
    mint(rinne, "RACE-00003", mass="3t")  # by another process, after the import read the chain
    real = ledger.Ledger.lots_on_chain
    monkeypatch.setattr(ledger.Ledger, "lots_on_chain", lambda self, ids: {})  # the check saw none of them
    err = rinne.run("lot", "import", str(lots), "--account", "refiner", "--yes", code=1).stderr
    assert "lot RACE-00003 exists already" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert "run the same command again; lots already on the ledger are skipped" in err
    monkeypatch.setattr(ledger.Ledger, "lots_on_chain", real)
    again = rinne.json("lot", "import", str(lots), "--account", "refiner", "--yes")
    assert again["minted"] + again["skipped"] == 4 and again["skipped"] >= 1
    assert all(rinne.ledger().lot(f"RACE-{i:05d}").state == LotState.ACTIVE for i in range(1, 5))


def test_ctrl_c_during_the_import_exits_130_saying_what_was_done(rinne, tmp_path, monkeypatch):
    def interrupted(self, specs, *, progress=None, batch_size=None, checked=False):
        progress(len(specs) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger.Ledger, "mint_many", interrupted)
    lots = tmp_path / "lots.csv"
    lots.write_text(_rows(10))
    line = rinne.fail("lot", "import", str(lots), "--account", "refiner", "--yes", code=130)
    assert "interrupted: 5 of 10 lots minted so far" in line and "run the same command again" in line


def test_ctrl_c_elsewhere_exits_130_with_one_line(rinne, monkeypatch):
    def interrupted(self, lot_id, **kwargs):
        raise KeyboardInterrupt

    # `lot show` reads through the web3-free LedgerReader, the other lot commands through Ledger.
    monkeypatch.setattr(ledger.Ledger, "lot", interrupted)
    monkeypatch.setattr(ledger.LedgerReader, "lot", interrupted)
    line = rinne.fail("lot", "show", "X", code=130)
    assert line.startswith("Error: interrupted (Ctrl-C)")


def test_unknown_lot_in_trace_does_not_ask_to_sync(rinne):
    line = rinne.fail("trace", "NOPE")
    assert "sync it first" not in line and "no lot NOPE" in line and "rinne lot list" in line


def _wait_reading_stdin(pid: int, timeout: float = 60.0) -> None:
    """Wait until process `pid` blocks in read(2) on its stdin, where the test means Ctrl-C to land.

    A fixed sleep was not enough on a loaded machine: the signal came while the CLI still started up,
    and the test then closed stdin, which the command rightly reports as "nothing on stdin"."""
    syscall = Path(f"/proc/{pid}/syscall")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fields = syscall.read_text().split()
        except OSError:  # no /proc here, or not allowed to read it: fall back to a generous sleep
            time.sleep(5.0)
            return
        if len(fields) > 1 and fields[0] == "0" and int(fields[1], 16) == 0:  # x86-64 read(0, ...)
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never read its stdin within {timeout:.0f} s")


def test_sigint_to_the_installed_rinne_exits_130(env, tmp_path):  # noqa: F811
    data(env, "account", "new", "waiter")
    # Without a password the command waits on stdin: Ctrl-C there must be exit 130 and one line.
    environ = {k: v for k, v in env.items() if k != "RINNE_PASSWORD"}
    proc = subprocess.Popen(
        [str(RINNE), "account", "new", "second-waiter"],
        env=environ,
        # Ctrl-C as a terminal delivers it: a test run started in the background of a non-interactive shell
        # inherits SIGINT ignored, and Python then keeps it ignored in the child.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_reading_stdin(proc.pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("Error: interrupted"), err


def test_5000_lots_import_list_export_round_trip(env, tmp_path):  # noqa: F811
    data(env, "account", "new", "admin", "--fund")
    data(env, "account", "new", "refiner", "--fund")
    data(env, "deploy", "--account", "admin", "--yes")
    data(env, "party", "register", "refiner", "--roles", "REFINER", "--name", "Refiner", "--account", "admin", "--yes")
    n = 5_000
    rows = [
        {"lot_id": f"RT-{i:05d}", "material": ("NiSO4", "CoSO4", "Li2CO3")[i % 3], "mass": 1_000_000 + i, "Ni": 1000 + i, "Co": i % 97}
        for i in range(n)
    ]
    src = tmp_path / "lots.csv"
    with src.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert data(env, "lot", "import", src, "--dry-run") == {
        "dry_run": True,
        "lots": n,
        "to_mint": n,
        "skipped": 0,
        "to_mint_mass_g": sum(r["mass"] for r in rows),
    }
    imported = data(env, "lot", "import", src, "--account", "refiner", "--yes")
    assert imported["minted"] == n and imported["skipped"] == 0
    # The re-run sends nothing (its speed is scripts/bench_import.py's to measure, not a test's).
    again = data(env, "lot", "import", src, "--account", "refiner", "--yes")
    assert again == {"minted": 0, "skipped": n, "transactions": 0, "gas_used": 0}

    listed = run(env, "lot", "list", "--nl").stdout.splitlines()
    assert len(listed) == n
    exported = tmp_path / "export.csv"
    run(env, "lot", "export", "-o", exported)
    with exported.open(newline="") as fh:
        back = {
            r["label"]: {
                "lot_id": r["label"],
                "material": r["material_label"],
                "mass": int(r["mass_g"]),
                "Ni": int(r["ni_g"]),
                "Co": int(r["co_g"]),
            }
            for r in csv.DictReader(fh)
        }
    assert back == {r["lot_id"]: r for r in rows}
