"""`rinne lot list` and `rinne lot export`: a few hundred lots imported, then listed with every filter and
exported; the answers are checked against the chain and against what was imported."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cli_support import mint

from ledger import Ledger, to_bytes32
from ledger.chain.rpc import call

pytestmark = pytest.mark.chain

N = 240
ORIGINS = ["FI:Harjavalta", "AU:Greenbushes", "CL:Atacama", ""]
MATERIALS = ["NiSO4", "CoSO4", "Li2CO3"]


def _mass_g(i: int) -> int:
    return 1_000_000 + 1_000 * i  # 1 t + i kg: every lot a different mass


def _import(rinne, tmp_path, prefix: str, count: int, start: int = 0):
    path = tmp_path / f"{prefix}.csv"
    lines = ["lot_id,material,mass,Ni,origin"]
    for i in range(start, start + count):
        lines.append(f"{prefix}-{i:04d},{MATERIALS[i % 3]},{_mass_g(i)},10%,{ORIGINS[i % 4]}")
    path.write_text("\n".join(lines) + "\n")
    out = rinne.write("lot", "import", str(path), account="refiner")
    assert out["minted"] == count
    return path


@pytest.fixture
def world(rinne, tmp_path):
    """240 lots by the refiner; later 12 more a month on; two handed to the cathode maker, one frozen,
    one consumed by a transform (whose output has no origin), one battery unit."""
    _import(rinne, tmp_path, "L", N)
    w3 = Ledger.connect(rinne.rpc_url, data_dir=rinne.home).w3
    call(w3, "evm_increaseTime", [31 * 86_400])
    call(w3, "evm_mine", [])
    _import(rinne, tmp_path, "M", 12)
    for lot in ("L-0001", "L-0004"):
        rinne.write("transfer", "offer", lot, "cam", account="refiner")
        rinne.write("transfer", "accept", lot, account="cam")
    rinne.write("lot", "freeze", "L-0002", "--reason", "assay dispute", account="auditor")
    rinne.write("lot", "transform", "--in", "L-0004", "--out", "PRE-1:PRE-NMC811:900kg", account="cam")
    mint(rinne, "CELLS-L", material="CELL-NMC811", mass="500kg", elements="Ni=40kg")
    rinne.write("transfer", "offer", "CELLS-L", "pack", account="refiner")
    rinne.write("transfer", "accept", "CELLS-L", account="pack")
    rinne.write(
        "unit",
        "build",
        "PACK-L",
        "--cells",
        "CELLS-L=400kg",
        "--material",
        "PACK-75KWH",
        "--mass",
        "450kg",
        "--serial",
        "SN-PACK-L",
        "--rated",
        "75kWh",
        account="pack",
    )
    return rinne


def _ids(rows):
    return [r["label"] for r in rows]


def test_list_filters(world):
    rinne = world
    everything = rinne.json("lot", "list")
    assert len(everything) == N + 12 + 3  # + PRE-1, CELLS-L, PACK-L
    assert _ids(everything)[:3] == ["L-0000", "L-0001", "L-0002"]  # oldest first
    first = everything[0]
    assert first == {
        "lot_id": to_bytes32("L-0000"),
        "label": "L-0000",
        "kind": "material",
        "state": "active",
        "material": to_bytes32("NiSO4"),
        "material_label": "NiSO4",
        "mass_g": 1_000_000,
        "holder": rinne.addr("refiner"),
        "holder_account": "refiner",
        "holder_name": "Refiner",
        "origin_country": "FI",
        "origin_site": "Harjavalta",
        "minted_at": first["minted_at"],
        "minted_block": first["minted_block"],
    }
    assert first["minted_at"].endswith("Z") and first["minted_at"][10] == "T"

    held = rinne.json("lot", "list", "--holder", "cam")
    assert _ids(held) == ["L-0001", "L-0004", "PRE-1"]
    assert _ids(rinne.json("lot", "list", "--holder", rinne.addr("cam").lower())) == _ids(held)
    assert rinne.json("lot", "list", "--holder", "Cam") == held  # the display name registered from here

    assert _ids(rinne.json("lot", "list", "--state", "frozen")) == ["L-0002"]
    assert _ids(rinne.json("lot", "list", "--state", "CONSUMED")) == ["L-0004"]
    assert len(rinne.json("lot", "list", "--state", "active")) == len(everything) - 2
    assert _ids(rinne.json("lot", "list", "--kind", "unit")) == ["PACK-L"]
    assert len(rinne.json("lot", "list", "--kind", "material")) == len(everything) - 1

    cobalt = rinne.json("lot", "list", "--material", "CoSO4")
    assert _ids(cobalt) == [f"L-{i:04d}" for i in range(N) if i % 3 == 1] + [f"M-{i:04d}" for i in range(12) if i % 3 == 1]
    finnish = rinne.json("lot", "list", "--origin", "fi")
    assert {r["origin_site"] for r in finnish} == {"Harjavalta"} and len(finnish) == N // 4 + 3
    assert rinne.json("lot", "list", "--origin", "FI:Harjavalta") == finnish
    assert rinne.json("lot", "list", "--origin", "FI:Elsewhere") == []
    both = rinne.json("lot", "list", "--origin", "AU", "--material", "Li2CO3", "--holder", "refiner")
    assert _ids(both) == [f"L-{i:04d}" for i in range(N) if i % 4 == 1 and i % 3 == 2] + ["M-0005"]

    # The second batch was minted a month later: the date filters split the two.
    later = rinne.json("lot", "list", "--minted-from", everything[N]["minted_at"])
    assert _ids(later)[:12] == [f"M-{i:04d}" for i in range(12)]
    day = everything[0]["minted_at"][:10]
    earlier = rinne.json("lot", "list", "--minted-to", day)
    assert _ids(earlier) == [f"L-{i:04d}" for i in range(N)]
    assert rinne.json("lot", "list", "--minted-from", day, "--minted-to", day) == earlier
    assert len(rinne.json("lot", "list", "--limit", "5")) == 5


def test_table_csv_and_nl(world):
    rinne = world
    table = rinne.run("lot", "list", "--holder", "cam").stdout.splitlines()
    assert table[0].split() == ["LOT", "KIND", "STATE", "MATERIAL", "MASS", "HOLDER", "ORIGIN", "MINTED"]
    row = next(line for line in table if line.startswith("L-0001 "))
    assert "1.001 t" in row and f"cam {rinne.addr('cam')}" in row and "AU:Greenbushes" in row and "active" in row
    consumed = next(line for line in table if line.startswith("L-0004 "))
    assert "consumed" in consumed and "FI:Harjavalta" in consumed and "NiSO4" not in consumed  # i = 4: CoSO4
    pre = next(line for line in table if line.startswith("PRE-1 "))
    assert "900 kg" in pre and pre.split()[-2] == "-"  # made by a transform: no origin
    empty = rinne.run("lot", "list", "--holder", "oem")
    assert empty.stdout == "" and "no lots match" in empty.stderr

    rows = list(csv.DictReader(io.StringIO(rinne.run("lot", "list", "--state", "frozen", "--csv").stdout)))
    assert [(r["label"], r["mass_g"], r["holder_account"]) for r in rows] == [("L-0002", "1002000", "refiner")]
    header = rinne.run("lot", "list", "--holder", "oem", "--csv").stdout
    assert header.startswith("lot_id,label,kind,state,") and header.count("\n") == 1

    lines = rinne.run("lot", "list", "--material", "PACK-75KWH", "--nl").stdout.splitlines()
    assert [json.loads(line)["label"] for line in lines] == ["PACK-L"]


def test_export_round_trip(world, tmp_path):
    rinne = world
    out = tmp_path / "lots.csv"
    result = rinne.run("lot", "export", "-o", out)
    assert result.stdout == "" and "wrote" in result.stderr
    rows = list(csv.DictReader(out.open()))
    chain = rinne.ledger()
    listed = rinne.json("lot", "list")
    assert [r["lot_id"] for r in rows] == [r["lot_id"] for r in listed]
    assert [int(r["mass_g"]) for r in rows] == [r["mass_g"] for r in listed]
    imported = {f"L-{i:04d}": _mass_g(i) for i in range(N)}
    exported = {r["label"]: int(r["mass_g"]) for r in rows if r["label"].startswith("L-")}
    assert {k: v for k, v in exported.items() if k != "L-0004"} == {k: v for k, v in imported.items() if k != "L-0004"}
    assert exported["L-0004"] == 0 or exported["L-0004"] == imported["L-0004"]
    for r in rows[:5] + rows[-3:]:
        lot = chain.lot(r["lot_id"])
        assert int(r["mass_g"]) == lot.mass and r["holder"] == lot.holder
        assert int(r["ni_g"]) == lot.composition.as_dict().get("Ni", 0)
    assert rows[0]["ni_g"] == "100000" and rows[0]["ni_pre_g"] == "0" and rows[0]["origin"].startswith("0x4649")

    # Stdout, other formats, the same filters.
    assert rinne.run("lot", "export", "--state", "frozen").stdout.startswith("lot_id,label,")
    as_json = rinne.json("lot", "export", "--state", "frozen")
    assert as_json[0]["label"] == "L-0002" and as_json[0]["minted_mass_g"] == 1_002_000 and "co_post_g" in as_json[0]
    nl = tmp_path / "frozen.jsonl"
    rinne.run("lot", "export", "--state", "frozen", "-o", nl)
    assert [json.loads(line)["label"] for line in nl.read_text().splitlines()] == ["L-0002"]


def test_bad_filters_are_one_line_usage_errors(rinne):
    for args, words in [
        (("--state", "melted"), "'melted' is not one of"),
        (("--kind", "pallet"), "'pallet' is not one of"),
        (("--origin", "Finland"), "ISO 3166"),
        (("--minted-from", "yesterday"), "give a date"),
        (("--minted-from", "2027-02-01", "--minted-to", "2027-01-01"), "after --minted-to"),
        (("--holder", "nobody-here"), "neither an address"),
        (("--limit", "0"), "--limit"),
        (("--csv", "--json"), "one output format"),
    ]:
        line = rinne.fail("lot", "list", *args, code=2)
        assert words in line, (args, line)
    assert "lot list" in rinne.fail("lot", "export", "--table", code=2)


def test_party_list_shows_names_in_every_format(rinne):
    listed = rinne.json("party", "list", "--role", "refiner")
    assert listed == [
        {
            "address": rinne.addr("refiner"),
            "account": "refiner",
            "name": "Refiner",
            "state": "active",
            "registered": True,
            "suspended": False,
            "roles": ["REFINER"],
            "since": listed[0]["since"],
        }
    ]
    assert listed[0]["since"].endswith("Z")
    table = rinne.run("party", "list").stdout.splitlines()
    assert table[0].split() == ["ADDRESS", "ACCOUNT", "NAME", "STATE", "ROLES", "SINCE"] and len(table) == 11
    assert any(line.split()[:3] == [rinne.addr("cam"), "cam", "Cam"] for line in table)
    rows = list(csv.DictReader(io.StringIO(rinne.run("party", "list", "--csv").stdout)))
    assert {r["account"]: r["roles"] for r in rows}["cam"] == '["PRECURSOR_MAKER","CATHODE_MAKER"]'
    assert len(rinne.run("party", "list", "--nl").stdout.splitlines()) == 10
    shown = rinne.json("party", "show", "verifier")
    assert shown["name"] == "Verifier" and shown["account"] == "verifier"


def test_a_minted_origin_shows_its_site(rinne):
    mint(rinne, "SITE-1", extra=("--origin", "au: Mt Cattlin"))
    mint(rinne, "SITE-2", extra=("--origin", "AU:Greenbushes"))
    rows = rinne.json("lot", "list", "--origin", "AU")
    assert [(r["label"], r["origin_country"], r["origin_site"]) for r in rows] == [
        ("SITE-1", "AU", "Mt Cattlin"),
        ("SITE-2", "AU", "Greenbushes"),
    ]
    assert _ids(rinne.json("lot", "list", "--origin", "AU:Mt Cattlin")) == ["SITE-1"]
    assert "AU:Mt Cattlin" in rinne.run("lot", "list", "--origin", "au").stdout
