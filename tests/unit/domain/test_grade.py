"""Grades derived from element content (issue 19): the thresholds at their edges, materials that do not say
what they are, and element content no pure compound could hold."""

from __future__ import annotations

import pytest

from ledger import ELEMENTS, derive_grade


def _vec(**grams: int) -> tuple[int, ...]:
    return tuple(grams.get(e, 0) for e in ELEMENTS)


def test_nickel_class_1_at_99_80_percent():
    assert derive_grade("Ni", 1_000_000, _vec(Ni=998_000)).grade == "Ni-class1"
    below = derive_grade("Ni-metal", 1_000_000, _vec(Ni=997_999))
    assert below.grade is None and below.candidate == "Ni-class1" and below.purity == pytest.approx(0.997999)


def test_battery_grade_lithium_carbonate_is_99_5_percent_of_stoichiometric_lithium():
    # Pure Li2CO3 is 18.79 % Li by mass: 99.5 % Li2CO3 in 1 t is 0.995 × 187.8 kg Li.
    li_pure = 2 * 6.94 / (2 * 6.94 + 12.011 + 3 * 15.999)
    at = round(1_000_000 * li_pure * 0.995) + 1
    assert derive_grade("Li2CO3", 1_000_000, _vec(Li=at)).grade == "Li2CO3-battery"
    assert derive_grade("li2co3", 1_000_000, _vec(Li=at - 200)).grade is None  # case-insensitive material


def test_more_element_than_the_pure_compound_holds_meets_no_grade():
    assert derive_grade("Li2CO3", 1_000_000, _vec(Li=200_000)).grade is None


def test_nickel_sulphate_threshold_is_marked_as_an_assumption():
    g = derive_grade("NiSO4.6H2O", 1_000_000, _vec(Ni=221_000))
    assert g.grade == "NiSO4-battery" and g.assumption


def test_a_material_that_does_not_say_what_it_is_has_no_derived_grade():
    assert derive_grade("BLACK-MASS", 1_000_000, _vec(Ni=300_000)) is None
