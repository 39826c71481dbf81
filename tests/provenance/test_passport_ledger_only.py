"""No declaration can stand in for a ledger figure, in either export format.

``LEDGER_ONLY`` (Battery Pass and IDTA-02035) lists the fields only the ledger may fill. The claim it rests on is
checked here rather than trusted: every leaf the ledger fills lies under one of its paths, for units with and
without a diagnosis, an Art. 7 figure or class bands, so a field the ledger fills only sometimes is never filled
by a form the rest of the time; and the attack itself, declaring any of them in any shape, is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prov_synth import SYNTH_VAULT, Synth, account

from ledger import errors
from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, Role
from ledger.domain.ids import origin_code
from ledger.exports import batterypass, idta
from ledger.exports.batterypass import ASPECTS, leaf_paths
from ledger.exports.idta import SUBMODELS, idta_passport
from ledger.exports.passport import battery_passport
from ledger.figures.regulation import Art7Parameters
from ledger.index.store import EventIndex

#: Class bands in kg CO2e per kWh of lifetime energy (Art. 7(2) leaves them to the delegated act).
BANDS = ((1e-4, "A"), (1e-3, "B"), (1_000.0, "C"))
WITH_CLASS = Art7Parameters(cycles_per_year=250, service_years=10, class_bands=BANDS)
#: The ways a form could try to put a value where the ledger fills one (null too: it would stand where the
#: ledger has none).
FORGED: tuple[Any, ...] = (None, 0, 99.0, "A", {}, [], {"value": 1})


@pytest.fixture(scope="module")
def new_pack() -> Iterator[EventIndex]:
    """A pack just built: no diagnosis (no condition, no putting into service), one verified attestation."""
    s = Synth()
    maker, verifier = account(21), account(22)
    s.register(maker, Role.CELL_MAKER | Role.PACK_ASSEMBLER)
    s.register(verifier, Role.GWP_VERIFIER)
    cells = Composition.of({"Li": 5_000, "Ni": 40_000, "Co": 5_000})
    s.mint(maker, "CELLS-N", "CELL-NMC811", 100_000, cells, origin_code("FI", "Kokkola"))
    s.attest("CELLS-N", 300, 1, verifier)
    s.op(OpKind.BUILD, maker, [("CELLS-N", 0)], [("PACK-N", "PACK-50KWH", 100_000, cells)], unit=(50_000, []))
    index = s.ingest()
    yield index
    index.close()


def _under(path: str, paths: frozenset[str]) -> str | None:
    """The ledger-only path `path` lies under, if any."""
    return next((p for p in paths if path == p or path.startswith(p + ".")), None)


def _filled(doc: dict[str, Any], members: Any) -> list[str]:
    """Every leaf of the export's members (an aspect the ledger fills nothing of is no leaf)."""
    return [p for m in members for p in leaf_paths(doc[m], m) if p != m]


def _cases(ref_index: EventIndex, new_pack: EventIndex) -> list[tuple[EventIndex, str, Art7Parameters | None]]:
    return [
        (ref_index, "PACK1", WITH_CLASS),  # diagnosed, reused, with an Art. 7 figure and its class
        (ref_index, "PACK1", None),  # no Art. 7 inputs: no figure, no stages, no class
        (ref_index, "ESS1", WITH_CLASS),  # repurposed from two packs
        (new_pack, "PACK-N", WITH_CLASS),  # never diagnosed
    ]


def test_every_leaf_the_ledger_fills_is_ledger_only(ref_index: EventIndex, new_pack: EventIndex) -> None:
    covered: dict[str, set[str]] = {"batterypass": set(), "idta": set()}
    for index, unit, art7 in _cases(ref_index, new_pack):
        # The serial is the ledger's too: it is accepted only when it hashes to the unit's on-chain commitment.
        only_ledger = {"serialNumber": unit}
        bp = battery_passport(index, unit, art7=art7, declarations=only_ledger, soh_openings=SYNTH_VAULT)
        for path in _filled(bp, ASPECTS):
            owner = _under(path, batterypass.LEDGER_ONLY)
            assert owner is not None, f"{unit}: the ledger fills {path}, which a declaration could fill where it does not"
            covered["batterypass"].add(owner)
        aas = idta_passport(index, unit, art7=art7, declarations=only_ledger, soh_openings=SYNTH_VAULT)
        for path in _filled(aas, SUBMODELS):
            owner = _under(path, idta.LEDGER_ONLY)
            assert owner is not None, f"{unit}: the ledger fills {path}, which a declaration could fill where it does not"
            covered["idta"].add(owner)
    # And no ledger-only path is a stale name guarding nothing: each is filled by the ledger somewhere above.
    assert covered["batterypass"] == set(batterypass.LEDGER_ONLY)
    assert covered["idta"] == set(idta.LEDGER_ONLY)


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return dict(out)


@pytest.mark.parametrize("forged", FORGED, ids=repr)
def test_no_ledger_only_field_can_be_declared(ref_index: EventIndex, new_pack: EventIndex, forged: Any) -> None:
    # Where the ledger fills the field (PACK1 with its class) and where it cannot (a new pack, no Art. 7 inputs):
    # refused alike, so a form never fills the gap the ledger leaves.
    for index, unit, art7 in ((ref_index, "PACK1", WITH_CLASS), (new_pack, "PACK-N", None)):
        for path in sorted(batterypass.LEDGER_ONLY):
            for export in (battery_passport, idta_passport):
                with pytest.raises(errors.InvalidInput, match="comes from the ledger"):
                    export(index, unit, art7=art7, declarations=_nested(path, forged))
        for path in sorted(idta.LEDGER_ONLY):
            with pytest.raises(errors.InvalidInput, match="comes from the ledger"):
                idta_passport(index, unit, art7=art7, declarations={"idta": _nested(path, forged)}, soh_openings=SYNTH_VAULT)


# ------------------------------------------------------------------------- performance class


def test_the_performance_class_is_the_ledgers_band(ref_index: EventIndex) -> None:
    """Art. 7(2): the class is the band the ledger's figure falls in, by hand here; no bands, no class; a declared
    class is refused with bands and without, so no form can name a better one."""
    p = battery_passport(ref_index, "PACK1", art7=WITH_CLASS, soh_openings=SYNTH_VAULT)
    cf = p["carbonFootprint"]
    # No usable energy declared: the rated 60 kWh stands in, x 250 cycles a year x 10 years of service.
    per_kwh = cf["absoluteCarbonFootprint"] / (60 * 250 * 10)
    assert cf["batteryCarbonFootprint"] == pytest.approx(per_kwh)
    assert 1e-4 < per_kwh <= 1e-3 and cf["carbonFootprintPerformanceClass"] == "B"
    # The bands may come from the declarations' art7 member: the same class, computed, not declared.
    bands = {"cyclesPerYear": 250, "serviceYears": 10, "classBands": [list(b) for b in BANDS]}
    assert battery_passport(ref_index, "PACK1", declarations={"art7": bands}, soh_openings=SYNTH_VAULT)["carbonFootprint"] == cf
    # Every IDTA-02035-3 footprint entry carries the same class.
    aas = idta_passport(ref_index, "PACK1", art7=WITH_CLASS, soh_openings=SYNTH_VAULT)
    assert {e["PerformanceClass"] for e in aas["carbon_footprint"]["ProductCarbonFootprints"]} == {"B"}
    # Without bands, or without the figure the class is of: no class at all, and none declared instead.
    for art7 in (Art7Parameters(cycles_per_year=250, service_years=10), Art7Parameters(class_bands=BANDS)):
        cf = battery_passport(ref_index, "PACK1", art7=art7, soh_openings=SYNTH_VAULT)["carbonFootprint"]
        assert "carbonFootprintPerformanceClass" not in cf
        for export in (battery_passport, idta_passport):
            with pytest.raises(errors.InvalidInput, match="carbonFootprintPerformanceClass comes from the ledger"):
                export(ref_index, "PACK1", art7=art7, declarations={"carbonFootprint": {"carbonFootprintPerformanceClass": "A"}})
    aas = idta_passport(ref_index, "PACK1", art7=Art7Parameters(cycles_per_year=250, service_years=10), soh_openings=SYNTH_VAULT)
    assert all("PerformanceClass" not in e for e in aas["carbon_footprint"]["ProductCarbonFootprints"])
    with pytest.raises(errors.InvalidInput, match="ProductCarbonFootprints comes from the ledger"):
        idta_passport(
            ref_index,
            "PACK1",
            art7=WITH_CLASS,
            declarations={"idta": {"carbon_footprint": {"ProductCarbonFootprints": [{"PerformanceClass": "A"}]}}},
            soh_openings=SYNTH_VAULT,
        )
