"""The library's cut of a lot (Composition.take / divide) is what the contracts accept: every lane of a part
is the floor or the ceiling of its pro-rata share (issue 11 class 1b), and part and rest both stay valid."""

from __future__ import annotations

from hypothesis import given, strategies as st

from ledger import ELEMENTS, Composition

lane = st.one_of(st.integers(0, 60), st.integers(0, 10**9))


@st.composite
def lots(draw):
    total = [draw(lane) for _ in ELEMENTS]
    pre = [draw(st.integers(0, t)) for t in total]
    post = [draw(st.integers(0, t - p)) for t, p in zip(total, pre)]
    mass = sum(total) + draw(st.sampled_from([0, 0, 1, 2, 7, 10**6]))
    return Composition(total=total, pre=pre, post=post), mass


def _valid(c: Composition, mass: int) -> bool:
    return c.element_mass <= mass and all(p + q <= t for t, p, q in zip(c.total, c.pre, c.post))


@given(lots(), st.data())
def test_take_is_pro_rata_lane_by_lane_and_leaves_a_valid_rest(lot, data):
    comp, mass = lot
    if mass < 2:
        return
    m = data.draw(st.integers(1, mass - 1))
    part = comp.take(m, mass)
    assert comp.is_part(part, m, mass)
    assert _valid(part, m) and _valid(comp - part, mass - m)


@given(lots(), st.lists(st.integers(1, 10**6), min_size=2, max_size=6))
def test_divide_cuts_each_part_pro_rata_of_what_is_left(lot, weights):
    comp, mass = lot
    if mass < len(weights):
        return
    masses = [max(1, mass * w // sum(weights)) for w in weights]
    masses[-1] = mass - sum(masses[:-1])
    if masses[-1] <= 0:
        return
    parts = comp.divide(masses, mass)
    left, left_mass = comp, mass
    for part, m in zip(parts[:-1], masses[:-1]):
        assert left.is_part(part, m, left_mass)
        left, left_mass = left - part, left_mass - m
    assert parts[-1] == left


def test_only_the_nickel_of_a_lot_is_not_a_part_of_it():
    niso4 = Composition.of({"Ni": 223_000})
    assert not niso4.is_part(niso4, 223_000, 1_000_000)
    assert niso4.is_part(niso4.take(300_000, 1_000_000), 300_000, 1_000_000)
    assert niso4.take(300_000, 1_000_000).total[1] == 66_900
