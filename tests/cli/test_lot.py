"""`rinne lot`: mint, show, history, split, merge, transform, freeze, import; checked against the chain."""

from __future__ import annotations

import json

import pytest
from cli_support import mint
from eth_utils import keccak

from ledger import LotState, disclose, evidence_vault_id, local_vault, lot_record_id, to_bytes32, verify_evidence, verify_origin

pytestmark = pytest.mark.chain


def test_mint_with_units_shares_recycled_origin_and_evidence(rinne, tmp_path):
    assay = tmp_path / "assay.pdf"
    assay.write_bytes(b"%PDF assay certificate")
    out = mint(
        rinne,
        "R-NI-001",
        mass="12.5t",
        elements="Ni=22%,Co=125kg",
        extra=("--recycled-pre", "Ni=10%", "--recycled-post", "Co=20kg", "--origin", "FI:Harjavalta", "--evidence", str(assay)),
    )
    assert out["created"] is True and out["lot_id"] == to_bytes32("R-NI-001")
    lot = rinne.ledger().lot("R-NI-001")
    assert lot.holder == rinne.addr("refiner") and lot.mass == 12_500_000 and lot.material_label == "NiSO4"
    assert lot.composition.as_dict("total") == {"Ni": 2_750_000, "Co": 125_000}
    assert lot.composition.as_dict("pre") == {"Ni": 275_000} and lot.composition.as_dict("post") == {"Co": 20_000}
    logs = rinne.json("lot", "history", "R-NI-001")
    created = logs[0]
    assert created["event"] == "LotCreated"
    # The country in clear (the public origin mix), the site salted: not the plain keccak(site) of before.
    assert created["origin"][:6] == "0x" + b"FI".hex() and created["origin"][6:] != keccak(b"Harjavalta")[:30].hex()
    opening = local_vault(rinne.home, create=False).openings(lot_record_id("R-NI-001"))
    fields = verify_origin(created["origin"], disclose(opening, ["site"]), "R-NI-001")
    assert fields == {"site": "Harjavalta"}
    # The assay's hash salted too (a known certificate does not confirm by hashing), its opening in the vault.
    document = "0x" + keccak(assay.read_bytes()).hex()
    assert created["evidence"] != document
    word_opening = local_vault(rinne.home, create=False).openings(evidence_vault_id(created["evidence"]))
    assert verify_evidence(created["evidence"], disclose(word_opening, ["document"]), "lot", "R-NI-001") == {"document": document}
    # In the human history: who by name, and the site this machine minted it with (the chain has its hash).
    human = rinne.run("lot", "history", "R-NI-001").stdout.splitlines()[0]
    assert f"by refiner {rinne.addr('refiner')}: NiSO4, 12.5 t" in human and human.endswith("origin FI:Harjavalta")


def test_show_json_matches_the_chain(rinne):
    mint(rinne, "R-SHOW", mass="2t", elements="Ni=400kg")
    shown = rinne.json("lot", "show", "R-SHOW")
    lot = rinne.ledger().lot("R-SHOW")
    assert shown["lot_id"] == lot.lot_id and shown["label"] == "R-SHOW"
    assert shown["holder"] == lot.holder and shown["state"] == "active" and shown["kind"] == "material"
    assert shown["mass_g"] == lot.mass == 2_000_000
    assert shown["composition"] == {"total": {"Ni": 400_000}, "pre_consumer": {}, "post_consumer": {}}
    assert shown["commitment"] == lot.commitment and shown["offer"] is None
    human = rinne.run("lot", "show", "R-SHOW").stdout
    assert "2 t" in human and "Ni=400 kg" in human and lot.holder in human
    # Who holds it, by the names this machine knows: the local account and the name registered from here.
    assert shown["holder_account"] == "refiner" and shown["holder_name"] == "Refiner"
    assert f"held by refiner {lot.holder}" in human


def test_mint_is_idempotent_but_never_overwrites(rinne):
    mint(rinne, "R-IDEM", mass="1t", elements="Ni=200kg")
    again = mint(rinne, "R-IDEM", mass="1t", elements="Ni=200kg")
    assert again["created"] is False and "tx_hash" not in again
    line = rinne.fail("lot", "mint", "R-IDEM", "--material", "NiSO4", "--mass", "2t", "--account", "refiner", "--yes")
    assert "exists already" in line
    assert rinne.ledger().lot("R-IDEM").mass == 1_000_000


def test_mint_usage_errors_send_nothing(rinne):
    seq = rinne.ledger().ledger_head()[0]
    for args, fragment in [
        (("--mass", "12.5"), "needs a unit"),
        (("--mass", "1t", "--elements", "Ni=2t"), "more than the lot's mass"),
        (("--mass", "1t", "--elements", "Uu=1kg"), "unknown element"),
        (("--mass", "1t", "--origin", "Finland"), "COUNTRY:SITE"),
        (("--mass", "1t", "--evidence", "no-such-file.pdf"), "neither a file"),
        (("--mass", "0"), "more than zero"),
    ]:
        line = rinne.fail("lot", "mint", "BAD", "--material", "NiSO4", *args, "--account", "refiner", "--yes", code=2)
        assert fragment in line, (args, line)
    assert rinne.ledger().ledger_head()[0] == seq


def test_mint_needs_a_minting_role(rinne):
    line = rinne.fail("lot", "mint", "X-CAM", "--material", "NiSO4", "--mass", "1t", "--account", "cam", "--yes")
    assert "MINER or REFINER" in line
    assert rinne.ledger().lot("X-CAM").state == LotState.NONE


def test_split_conserves_and_keeps_the_rest(rinne):
    mint(rinne, "R-SPLIT", mass="10t", elements="Ni=2t,Co=100kg")
    out = rinne.write("lot", "split", "R-SPLIT", "R-SPLIT-A=5t", "R-SPLIT-B=2.5t", account="refiner")
    assert out["outputs"] == [to_bytes32("R-SPLIT-A"), to_bytes32("R-SPLIT-B")]
    ledger = rinne.ledger()
    a, b, rest = ledger.lot("R-SPLIT-A"), ledger.lot("R-SPLIT-B"), ledger.lot("R-SPLIT")
    assert (a.mass, b.mass, rest.mass) == (5_000_000, 2_500_000, 2_500_000)
    for e in ("Ni", "Co"):
        assert sum(x.composition.as_dict().get(e, 0) for x in (a, b, rest)) == {"Ni": 2_000_000, "Co": 100_000}[e]
    assert "NEW_ID=MASS" in rinne.fail("lot", "split", "R-SPLIT", "R-SPLIT-C", "--account", "refiner", "--yes", code=2)
    assert "holds 2500000 g" in rinne.fail("lot", "split", "R-SPLIT", "R-SPLIT-C=3t", "--account", "refiner", "--yes")


def test_merge(rinne):
    mint(rinne, "R-M1", mass="1t", elements="Ni=200kg")
    mint(rinne, "R-M2", mass="3t", elements="Ni=600kg,Co=30kg")
    rinne.write("lot", "merge", "R-M1", "R-M2", "--into", "R-M12", account="refiner")
    ledger = rinne.ledger()
    merged = ledger.lot("R-M12")
    assert merged.mass == 4_000_000 and merged.composition.as_dict() == {"Ni": 800_000, "Co": 30_000}
    assert ledger.lot("R-M1").state == LotState.CONSUMED and ledger.lot("R-M2").state == LotState.CONSUMED
    mint(rinne, "R-OTHER", material="CoSO4", mass="1t", elements="Co=200kg")
    assert "one material" in rinne.fail("lot", "merge", "R-M12", "R-OTHER", "--into", "R-BAD", "--account", "refiner", "--yes")


def _handover(rinne, lot_id, to="cam", frm="refiner"):
    rinne.write("transfer", "offer", lot_id, to, account=frm)
    rinne.write("transfer", "accept", lot_id, account=to)


def test_transform_single_output_inherits_everything_including_recycled(rinne):
    mint(rinne, "R-T1", mass="10t", elements="Ni=2t,Co=100kg", extra=("--recycled-post", "Ni=25%"))
    mint(rinne, "R-T2", material="CoSO4", mass="2t", elements="Co=400kg")
    _handover(rinne, "R-T1")
    _handover(rinne, "R-T2")
    out = rinne.write("lot", "transform", "--in", "R-T1", "--in", "R-T2=500kg", "--out", "PRE-T:PRE-NMC811:6t", account="cam")
    assert out["outputs"] == [to_bytes32("PRE-T")]
    ledger = rinne.ledger()
    pre = ledger.lot("PRE-T")
    assert pre.holder == rinne.addr("cam") and pre.mass == 6_000_000
    assert pre.composition.as_dict() == {"Ni": 2_000_000, "Co": 200_000}
    assert pre.composition.as_dict("post") == {"Ni": 500_000}
    assert ledger.lot("R-T1").state == LotState.CONSUMED
    assert ledger.lot("R-T2").mass == 1_500_000 and ledger.lot("R-T2").composition.as_dict() == {"Co": 300_000}
    history = rinne.json("lot", "history", "R-T2")
    assert [e["event"] for e in history][-2:] == ["LotUpdated", "LotsTransformed"]
    assert history[-1]["role"] == "input" and history[-1]["kind"] == "transform"


def test_transform_several_outputs_with_elements_and_loss(rinne, tmp_path):
    mint(rinne, "R-T3", mass="10t", elements="Ni=2t")
    _handover(rinne, "R-T3")
    rinne.write(
        "lot",
        "transform",
        "--in",
        "R-T3",
        "--out",
        "P-A:PRE-NMC811:5t:Ni=1.2t",
        "--out",
        "P-B:SLAG:4t:Ni=0.7t",
        "--loss",
        "Ni=100kg",
        account="cam",
    )
    ledger = rinne.ledger()
    assert ledger.lot("P-A").composition.as_dict() == {"Ni": 1_200_000}
    assert ledger.lot("P-B").material_label == "SLAG"
    hist = rinne.json("lot", "history", "P-B")
    assert hist[-1]["loss_g"] == {"Ni": 100_000} and hist[-1]["role"] == "output"
    # Outputs from a file, in the import format.
    mint(rinne, "R-T4", mass="1t", elements="Ni=200kg")
    _handover(rinne, "R-T4")
    outputs = tmp_path / "outs.json"
    outputs.write_text(json.dumps([{"lot_id": "P-C", "material": "PRE-NMC811", "mass": "900kg", "elements": {"Ni": "190kg"}}]))
    rinne.write("lot", "transform", "--in", "R-T4", "--outputs", str(outputs), account="cam")
    assert rinne.ledger().lot("P-C").composition.as_dict() == {"Ni": 190_000}


def test_transform_errors(rinne):
    mint(rinne, "R-T5", mass="1t", elements="Ni=200kg")
    _handover(rinne, "R-T5")
    line = rinne.fail("lot", "transform", "--in", "R-T5", "--out", "P-X:PRE:1t:Ni=300kg", "--account", "cam", "--yes")
    assert "100000 g more Ni" in line
    line = rinne.fail(
        "lot", "transform", "--in", "R-T5", "--out", "P-X:PRE:1t", "--out", "P-Y:PRE:1t", "--account", "cam", "--yes", code=2
    )
    assert "give its elements" in line
    assert "no lot NOPE" in rinne.fail("lot", "transform", "--in", "NOPE", "--out", "P-X:PRE:1t", "--account", "cam", "--yes")
    assert "does not hold" in rinne.fail("lot", "transform", "--in", "R-T5", "--out", "P-X:PRE:1t", "--account", "refiner", "--yes")
    assert rinne.ledger().lot("P-X").state == LotState.NONE


def test_freeze_and_unfreeze(rinne):
    mint(rinne, "R-FZ", mass="1t")
    assert "AUDITOR" in rinne.fail("lot", "freeze", "R-FZ", "--account", "refiner", "--yes")
    rinne.write("lot", "freeze", "R-FZ", "--reason", "assay dispute", account="auditor")
    assert rinne.json("lot", "show", "R-FZ")["state"] == "frozen"
    assert "frozen" in rinne.fail("transfer", "offer", "R-FZ", "cam", "--account", "refiner", "--yes")
    rinne.write("lot", "unfreeze", "R-FZ", account="auditor")
    assert rinne.ledger().lot("R-FZ").state == LotState.ACTIVE
    events = [e["event"] for e in rinne.json("lot", "history", "R-FZ")]
    assert events == ["LotCreated", "LotFrozen", "LotUnfrozen"]


def test_freeze_lineage_catches_the_lots_split_off_just_before(rinne):
    # Issue 11 class 9: the holder splits the lot under investigation just before the auditor's freeze.
    mint(rinne, "R-LN", mass="1t", elements="Ni=220kg")
    rinne.write("lot", "split", "R-LN", "R-LN-A=400kg", "R-LN-B=600kg", account="refiner")
    rinne.write("lot", "split", "R-LN-A", "R-LN-A1=100kg", account="refiner")  # part of a part
    out = rinne.write("lot", "freeze", "R-LN", "--lineage", "--reason", "assay dispute", account="auditor")
    assert sorted(out["frozen"]) == sorted(to_bytes32(x) for x in ("R-LN-A", "R-LN-B", "R-LN-A1"))
    ledger = rinne.ledger()
    assert ledger.lot("R-LN").state == LotState.CONSUMED  # the consumed parent is skipped, not an error
    assert all(ledger.lot(x).state == LotState.FROZEN for x in ("R-LN-A", "R-LN-B", "R-LN-A1"))
    assert "AUDITOR" in rinne.fail("lot", "freeze", "R-LN-B", "--lineage", "--account", "refiner", "--yes")


def test_history_human_form(rinne):
    mint(rinne, "R-H", mass="1t", elements="Ni=100kg")
    _handover(rinne, "R-H")
    text = rinne.run("lot", "history", "R-H").stdout.splitlines()
    assert len(text) == 3
    assert "LotCreated" in text[0] and "OfferMade" in text[1] and "OfferAccepted" in text[2]
    assert "no events" in rinne.fail("lot", "history", "NEVER")


def test_import_csv_with_element_columns(rinne, tmp_path):
    csv = tmp_path / "lots.csv"
    csv.write_text(
        "lot_id,material,mass,Ni,Co,origin,recycled_post\n"
        + "".join(f"IMP-{i:03d},NiSO4,{i}t,22%,1%,FI:Harjavalta,Ni=5%\n" for i in range(1, 201))
    )
    out = rinne.write("lot", "import", str(csv), account="refiner")
    # One transaction: a chunk is half the block's gas (30M on Anvil), about 270 batched mints at 55k a lot.
    assert out == {"minted": 200, "skipped": 0, "transactions": 1, "gas_used": out["gas_used"]}
    ledger = rinne.ledger()
    lot = ledger.lot("IMP-150")
    assert lot.mass == 150_000_000 and lot.composition.as_dict() == {"Ni": 33_000_000, "Co": 1_500_000}
    assert lot.composition.as_dict("post") == {"Ni": 1_650_000} and lot.holder == rinne.addr("refiner")
    # A rerun (say after a crash) skips what is there and doubles nothing.
    again = rinne.write("lot", "import", str(csv), account="refiner")
    assert again["minted"] == 0 and again["skipped"] == 200 and again["transactions"] == 0


def test_import_json_and_jsonl(rinne, tmp_path):
    data = tmp_path / "lots.json"
    data.write_text(
        json.dumps(
            {
                "lots": [
                    {"lot_id": "J-1", "material": "Li2CO3", "mass": 2_000_000, "elements": {"Li": "18.8%"}},
                    {"id": "J-2", "material": "Li2CO3", "mass": "1.5t", "elements": "Li=282kg", "evidence": "0x" + "ab" * 32},
                ]
            }
        )
    )
    assert rinne.write("lot", "import", str(data), account="refiner")["minted"] == 2
    lines = tmp_path / "lots.ndjson"
    lines.write_text(
        '{"lot_id": "J-3", "material": "Li2CO3", "mass": "1t"}\n\n{"lot_id": "J-4", "material": "Li2CO3", "mass": "1t"}\n'
    )
    assert rinne.write("lot", "import", str(lines), account="refiner")["minted"] == 2
    piped = rinne.run(
        "lot",
        "import",
        "-",
        "--format",
        "jsonl",
        "--account",
        "refiner",
        "--yes",
        "--json",
        input='{"lot_id": "J-5", "material": "Li2CO3", "mass": "2t", "Li": "376kg"}\n',
    )
    assert json.loads(piped.stdout)["minted"] == 1
    ledger = rinne.ledger()
    assert ledger.lot("J-1").composition.as_dict() == {"Li": 376_000} and ledger.lot("J-4").mass == 1_000_000
    assert ledger.lot("J-5").composition.as_dict() == {"Li": 376_000}


def test_import_checks_the_whole_file_before_sending(rinne, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("lot_id,material,mass,elements\nB-1,NiSO4,1t,Ni=10%\nB-2,NiSO4,2.5,Ni=10%\n")
    line = rinne.fail("lot", "import", str(bad), "--account", "refiner", "--yes", code=2)
    assert "bad.csv: line 3" in line and "needs a unit" in line
    assert rinne.ledger().lot("B-1").state == LotState.NONE
    unknown = tmp_path / "cols.csv"
    unknown.write_text("lot_id,material,mass,colour\nB-3,NiSO4,1t,green\n")
    assert "unknown column 'colour'" in rinne.fail("lot", "import", str(unknown), "--account", "refiner", "--yes", code=2)
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([{"lot_id": "D", "material": "M", "mass": 1}, {"lot_id": "D", "material": "M", "mass": 1}]))
    line = rinne.fail("lot", "import", str(dup), "--account", "refiner", "--yes", code=2)
    assert "item 2: the same lot id twice: D is also item 1" in line
    (tmp_path / "x.txt").write_text("lot_id,material,mass\nT-1,NiSO4,1t\n")
    assert "--format" in rinne.fail("lot", "import", str(tmp_path / "x.txt"), "--account", "refiner", "--yes", code=2)
    assert rinne.write("lot", "import", str(tmp_path / "x.txt"), "--format", "csv", account="refiner")["minted"] == 1
