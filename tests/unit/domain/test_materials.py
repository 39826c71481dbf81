"""The material taxonomy of issue 19 (ledger/domain/materials.py): what a code recovers, at the edges of its
stoichiometric window, which codes are intermediates, and which outputs are by-products."""

from __future__ import annotations

import pytest

from ledger import ELEMENTS
from ledger.domain import materials
from ledger.domain.grade import rule_for


def _vec(**grams: int) -> tuple[int, ...]:
    return tuple(grams.get(e, 0) for e in ELEMENTS)


def test_a_sulphate_is_recovered_between_95_percent_of_its_leanest_form_and_its_richest():
    hepta = materials.recovered_material("NiSO4.7H2O")
    assert hepta is not None
    lean = hepta.fractions["Ni"][0]
    at = round(1_000_000 * lean * 0.95) + 1
    assert materials.recovers("NiSO4", 1_000_000, _vec(Ni=at)) == {"Ni"}
    assert materials.recovers("NiSO4", 1_000_000, _vec(Ni=at - 200)) == frozenset()
    # The anhydrous salt is 37.93 % Ni; 0.5 % above it is rounding, 1 % is not nickel sulphate.
    assert materials.recovers("nIsO4", 1_000_000, _vec(Ni=381_000)) == {"Ni"}
    assert materials.recovers("NiSO4", 1_000_000, _vec(Ni=384_000)) == frozenset()
    assert materials.recovers("NiSO4", 0, _vec()) == frozenset()


def test_cathode_material_recovers_its_metals_only_in_proportion():
    cam = _vec(Li=1_000, Ni=8_000, Co=1_000, Mn=940)
    assert materials.recovers("CAM-NMC811", 16_000, cam) == {"Li", "Ni", "Co", "Mn"}
    # The same metals as NMC111 are not in its proportions.
    assert materials.recovers("CAM-NMC111", 16_000, cam) == frozenset()
    assert materials.recovers("CAM-NMC811", 16_000, _vec(Li=1_000)) == frozenset()


def test_codes_the_taxonomy_does_not_know_recover_nothing():
    for code in ("BLACK-MASS", "LEACH-RESIDUE", "SLAG", "NI-STUFF", "PACK"):
        assert materials.recovers(code, 1_000, _vec(Ni=500)) == frozenset(), code


@pytest.mark.parametrize(
    ("code", "intermediate"),
    [("BLACK-MASS", True), ("black-mass-nmc", True), ("MHP", True), ("ALLOY-CO-NI", True), ("BLACKMASS", False), ("NiSO4", False)],
)
def test_intermediates_by_prefix(code: str, intermediate: bool):
    assert materials.is_intermediate(code) is intermediate


@pytest.mark.parametrize(
    ("code", "mass", "grams", "by_product"),
    [
        ("LEACH-RESIDUE", 5_000, {"Ni": 500}, True),
        ("kiln dust", 2_000, {"Li": 300}, True),
        ("AL-SCRAP", 100_000, {}, True),
        ("FILTER-CAKE-2", 100, {"Ni": 1}, True),
        ("NiSO4.6H2O", 5_000, {"Ni": 500}, True),  # a compound its content contradicts
        ("NiSO4.6H2O", 4_478, {"Ni": 1_000}, False),
        ("BLACK-MASS", 30_000, {"Ni": 10_000}, False),
        ("NI-STUFF", 5_000, {"Ni": 500}, False),  # a code Rinne does not know: counted as the product it says it is
        ("DUSTIN-ALLOY", 1_000, {"Ni": 500}, False),  # a residue word only as a whole part of the code
    ],
)
def test_by_products(code: str, mass: int, grams: dict[str, int], by_product: bool):
    assert materials.is_by_product(code, mass, _vec(**grams)) is by_product


def test_grades_and_recovered_materials_share_their_codes():
    # One place for the codes: every code a grade rule names is a recovered material of the grade's element.
    for code in ("Ni", "Nickel", "Li2CO3", "Lithium carbonate", "NiSO4.6H2O", "NiSO4·6H2O"):
        rule = rule_for(code)
        m = materials.recovered_material(code)
        assert rule is not None and m is not None and rule.element in m.fractions, code
