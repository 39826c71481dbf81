"""Composition arithmetic: packing, validation and pro-rata parts that the contracts will accept."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from ledger import ELEMENTS, Composition, LotSpec, label_of, to_bytes32
from ledger.domain.composition import LANE_LIMIT


def test_packing_puts_element_i_in_lane_i():
    c = Composition.of({"Li": 1, "Ni": 2, "Co": 3, "Al": 8})
    (t0, t1), _, _ = c.words()
    assert t0 == 1 | 2 << 64 | 3 << 128
    assert t1 == 8 << 192
    assert Composition.from_words(c.words()) == c


def test_recycled_above_total_fails_naming_the_element():
    with pytest.raises(ValidationError, match="Co: recycled"):
        Composition.of({"Co": 10}, pre={"Co": 6}, post={"Co": 5})


def test_lane_limit_and_unknown_elements_are_refused():
    with pytest.raises(ValidationError, match="out of range"):
        Composition.of({"Ni": LANE_LIMIT})
    with pytest.raises(ValidationError, match="unknown element"):
        Composition.of({"Xx": 1})


def test_lot_spec_names_the_field_that_is_wrong():
    with pytest.raises(ValidationError, match="mass"):
        LotSpec(lot_id="A", material="NiSO4", mass=0)
    with pytest.raises(ValidationError, match="more than the lot's mass"):
        LotSpec(lot_id="A", material="NiSO4", mass=5, composition=Composition.of({"Ni": 6}))


def test_labels_round_trip_and_long_labels_hash():
    assert label_of(to_bytes32("LF001")) == "LF001"
    long = "x" * 40
    assert to_bytes32(long) != to_bytes32("x" * 41) and label_of(to_bytes32(long)).startswith("0x")
    with pytest.raises(ValueError):
        to_bytes32("0x1234")


def _valid(c: Composition, mass: int) -> bool:
    return c.element_mass <= mass and all(p + q <= t for t, p, q in zip(c.total, c.pre, c.post))


lane = st.integers(0, 10**6)


@st.composite
def filled(draw):
    total = [draw(lane) for _ in ELEMENTS]
    pre = [draw(st.integers(0, t)) for t in total]
    post = [draw(st.integers(0, t - p)) for t, p in zip(total, pre)]
    extra = draw(st.integers(0, 3))  # often the elements fill the whole mass: the hard case
    return Composition(total=total, pre=pre, post=post), sum(total) + extra


@given(filled(), st.data())
def test_take_keeps_part_and_rest_valid(comp_mass, data):
    comp, mass = comp_mass
    if mass == 0:
        return
    m = data.draw(st.integers(1, mass))
    part = comp.take(m, mass)
    rest = comp - part
    assert _valid(part, m)
    assert _valid(rest, mass - m)
    assert part + rest == comp


@given(filled(), st.lists(st.integers(1, 1000), min_size=1, max_size=6))
def test_divide_conserves_and_every_part_is_valid(comp_mass, weights):
    comp, mass = comp_mass
    if mass < len(weights):
        return
    masses = [max(1, mass * w // sum(weights)) for w in weights]
    masses[-1] += mass - sum(masses)
    if masses[-1] <= 0:
        return
    parts = comp.divide(masses, mass)
    assert sum(parts, Composition()) == comp
    assert all(_valid(p, m) for p, m in zip(parts, masses))
