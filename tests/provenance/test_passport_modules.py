"""Module passports: a pack dismantled into modules, an ESS repurposed from modules of two packs, a pack
remanufactured from modules, and a module recycled into material that feeds a new pack.

Each module is a battery unit whose only parent is its pack; the passports link along that lineage both ways
(Art. 77(6)(b)) whatever the operation's kind, and never through material: a pack made from recycled material
is a new battery, not the old one's successor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from prov_synth import Synth, account

from ledger import errors
from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, PassportStatus, Role
from ledger.domain.ids import id_bytes, origin_code
from ledger.exports.passport import battery_passport, passport_urn
from ledger.exports.passport_page import passport_html
from ledger.index.store import EventIndex

MAKER, OEM, SECOND_LIFE, RECYCLER, VERIFIER = (account(i) for i in range(31, 36))
#: Every unit of the story that still has a passport (B-M3 has been recycled: Art. 77(8)).
PASSPORTS = ("PACK-A", "PACK-B", "A-M1", "A-M2", "A-M3", "B-M1", "B-M2", "ESS-X", "PACK-R", "PACK-NEW")


def _story() -> Synth:
    s = Synth()
    s.register(MAKER, Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(OEM, Role.OEM | Role.DIAGNOSTICIAN)
    s.register(SECOND_LIFE, Role.SECOND_LIFE | Role.PACK_ASSEMBLER | Role.DIAGNOSTICIAN)
    s.register(RECYCLER, Role.RECYCLER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    cells = Composition.of({"Li": 6_000, "Ni": 48_000, "Co": 6_000})
    for pack, origin in (("A", "FI"), ("B", "AU")):
        s.mint(MAKER, f"CELLS-{pack}", "CELL-NMC811", 300_000, cells, origin_code(origin, "site"))
        s.attest(f"CELLS-{pack}", 500, 1, VERIFIER)
        s.op(OpKind.BUILD, MAKER, [(f"CELLS-{pack}", 0)], [(f"PACK-{pack}", "PACK-60KWH", 300_000, cells)], unit=(60_000, []))
        s.transfer(f"PACK-{pack}", OEM)
        s.soh(f"PACK-{pack}", OEM, 30_000_000, soce_bp=7_600)
        s.transfer(f"PACK-{pack}", SECOND_LIFE)
        # Taken apart into three 90 kg modules (30 kg of housing carry no tracked element), 20 kWh each.
        s.dismantle(SECOND_LIFE, f"PACK-{pack}", [(f"{pack}-M{k}", "MODULE-NMC811", 90_000, 20_000) for k in (1, 2, 3)])
    # An ESS from modules of both packs; a remanufactured pack from the rest of one of each.
    ess = Composition()
    for m in ("A-M1", "A-M2", "B-M1"):
        ess = ess + s.lots[id_bytes(m)]["comp"]
    s.op(OpKind.REPURPOSE, SECOND_LIFE, [("A-M1", 0), ("A-M2", 0), ("B-M1", 0)], [("ESS-X", "ESS-60KWH", 280_000, ess)],
         unit=(55_000, ["A-M1", "A-M2", "B-M1"]))  # fmt: skip
    reman = s.lots[id_bytes("A-M3")]["comp"] + s.lots[id_bytes("B-M2")]["comp"]
    s.op(OpKind.REMANUFACTURE, SECOND_LIFE, [("A-M3", 0), ("B-M2", 0)], [("PACK-R", "PACK-40KWH", 190_000, reman)],
         unit=(38_000, ["A-M3", "B-M2"]))  # fmt: skip
    # The last module is waste: recycled into nickel sulphate, which makes the cells of a new pack.
    s.status("B-M3", PassportStatus.WASTE)
    s.transfer("B-M3", RECYCLER)
    rec = s.lots[id_bytes("B-M3")]["comp"]
    ni = rec.total[1]
    s.op(OpKind.RECYCLE, RECYCLER, [("B-M3", 0)], [("REC-NI", "NiSO4", 40_000, Composition.of({"Ni": ni}, post={"Ni": ni}))])
    s.transfer("REC-NI", MAKER)
    s.op(OpKind.TRANSFORM, MAKER, [("REC-NI", 0)], [("CELLS-NEW", "CELL-NMC811", 40_000, Composition.of({"Ni": ni}, post={"Ni": ni}))])
    s.op(OpKind.BUILD, MAKER, [("CELLS-NEW", 0)], [("PACK-NEW", "PACK-10KWH", 40_000, Composition.of({"Ni": ni}, post={"Ni": ni}))],
         unit=(10_000, []))  # fmt: skip
    return s


@pytest.fixture(scope="module")
def modules_index() -> Iterator[EventIndex]:
    index = _story().ingest()
    yield index
    index.close()


def _links(p: dict[str, Any]) -> dict[str, list[str]]:
    links = p["extensions"]["rinne"].get("passportLinks", {})
    return {k: [e["label"] for e in v] for k, v in links.items()}


def test_the_story_is_one_the_contracts_accept(modules_index: EventIndex) -> None:
    st = modules_index.state()
    assert st.issues == []
    assert len(st.units) == 11 and {OpKind(o.kind) for o in st.ops} >= {OpKind.DISMANTLE, OpKind.REMANUFACTURE}


def test_a_module_links_to_its_pack_and_the_ess_to_its_modules(modules_index: EventIndex) -> None:
    links = {u: _links(battery_passport(modules_index, u)) for u in PASSPORTS}
    # A pack's passport names the modules it was taken apart into (and the one since recycled: what became of it).
    assert links["PACK-A"] == {"madeFrom": [], "madeInto": ["A-M1", "A-M2", "A-M3"]}
    assert links["PACK-B"] == {"madeFrom": [], "madeInto": ["B-M1", "B-M2", "B-M3"]}
    # Each module names its pack and what it went into.
    assert links["A-M1"] == {"madeFrom": ["PACK-A"], "madeInto": ["ESS-X"]}
    assert links["B-M1"] == {"madeFrom": ["PACK-B"], "madeInto": ["ESS-X"]}
    assert links["A-M3"] == {"madeFrom": ["PACK-A"], "madeInto": ["PACK-R"]}
    # The ESS and the remanufactured pack name their modules, not the packs behind them.
    assert links["ESS-X"] == {"madeFrom": ["A-M1", "A-M2", "B-M1"], "madeInto": []}
    assert links["PACK-R"] == {"madeFrom": ["A-M3", "B-M2"], "madeInto": []}
    # Both ends of every link agree: a child names its parent exactly when the parent names the child.
    pairs = {(u, c) for u, lk in links.items() for c in lk["madeInto"] if c in links}
    assert pairs == {(c, u) for u, lk in links.items() for c in lk["madeFrom"]}
    p = battery_passport(modules_index, "A-M1")
    entry = p["extensions"]["rinne"]["passportLinks"]["madeFrom"][0]
    assert entry == {
        "unitId": "0x" + id_bytes("PACK-A").hex(),
        "label": "PACK-A",
        "batteryPassportIdentifier": passport_urn(id_bytes("PACK-A")),
    }
    assert p["extensions"]["rinne"]["parentPassports"] == [passport_urn(id_bytes("PACK-A"))]


def test_recycled_material_never_links_passports(modules_index: EventIndex) -> None:
    linked = {
        e["label"]
        for u in PASSPORTS
        for member in battery_passport(modules_index, u)["extensions"]["rinne"]["passportLinks"].values()
        for e in member
    }
    # The new pack is made of B-M3's nickel, yet no passport names it and it names none: material is not lineage.
    assert _links(battery_passport(modules_index, "PACK-NEW")) == {"madeFrom": [], "madeInto": []}
    assert "PACK-NEW" not in linked and not linked & {"REC-NI", "CELLS-NEW", "CELLS-A", "CELLS-B"}
    with pytest.raises(errors.InvalidInput, match="ceased to exist"):
        battery_passport(modules_index, "B-M3")


def test_category_and_status_follow_the_operation(modules_index: EventIndex) -> None:
    def general(unit: str) -> tuple[str, str]:
        g = battery_passport(modules_index, unit)["generalProductInformation"]
        return g["batteryCategory"], g["batteryStatus"]

    # A module is its EV pack in smaller parts: same category, same status (dismantling is no status move).
    assert general("PACK-A") == ("ev", "Original") and general("A-M2") == ("ev", "Repurposed")
    assert general("A-M3") == ("ev", "Remanufactured") and general("B-M2") == ("ev", "Remanufactured")
    # Only repurposing puts a battery to another use; remanufacturing restores the original one.
    assert general("ESS-X") == ("stationary", "Repurposed")
    assert general("PACK-R") == ("ev", "Remanufactured")
    assert general("PACK-NEW") == ("ev", "Original")


def test_links_by_tier_and_on_the_page(modules_index: EventIndex) -> None:
    # What a battery was made from is its identity (point 1); what was made from it, its history (point 4).
    public = battery_passport(modules_index, "A-M1", tier="public")["extensions"]["rinne"]["passportLinks"]
    assert [e["label"] for e in public["madeFrom"]] == ["PACK-A"] and "madeInto" not in public
    html = passport_html(battery_passport(modules_index, "A-M1"), link="{label}-passport.html")
    rels = re.findall(r'<li class="passport-link" data-rel="(\w+)" data-unit="(0x[0-9a-f]+)" data-urn="([^"]+)">(.*?)</li>', html)
    assert [(rel, unit) for rel, unit, _, _ in rels] == [
        ("parent", "0x" + id_bytes("PACK-A").hex()),
        ("child", "0x" + id_bytes("ESS-X").hex()),
    ]
    assert '<a class="passport-href" href="PACK-A-passport.html"><b>PACK-A</b></a>' in html
    html = passport_html(battery_passport(modules_index, "A-M1", tier="public"))
    assert (
        'data-rel="parent"' in html
        and 'data-rel="child"' not in html
        and re.search(r'<h3>Made into</h3><p class="note" id="madeInto-none">Not shown at this access tier.</p>', html)
    )
    assert 'class="passport-href"' not in html  # no link where the caller gave no place for passports
