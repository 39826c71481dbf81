"""Quantities as people write them (no chain)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from rinne_cli import _units as u


@pytest.mark.parametrize(
    "text, grams",
    [
        ("12.5t", 12_500_000),
        ("500kg", 500_000),
        ("250g", 250),
        ("250", 250),
        ("0.5 t", 500_000),
        ("1_000kg", 1_000_000),
        ("2T", 2_000_000),
        ("0.001kg", 1),
        (".5kg", 500),
    ],
)
def test_mass_units(text, grams):
    assert u.parse_mass(text) == grams


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("12.5", "needs a unit"),
        ("3lb", "unknown unit"),
        ("0.0001kg", "whole number of g"),
        ("kg", "not a number"),
        ("-5kg", "must be positive"),
        ("1e40g", "too large"),
        ("1" * 41, "too large"),
        ("", "not a number"),
    ],
)
def test_mass_errors_say_what_to_write(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        u.parse_mass(text)


def test_elements_in_mass_and_shares():
    assert u.parse_elements("Ni=5200kg,Co=640kg") == {"Ni": 5_200_000, "Co": 640_000}
    assert u.parse_elements("ni=52%, co=6.4%", 10_000_000) == {"Ni": 5_200_000, "Co": 640_000}
    # A share rounds down to whole grams, so shares never add up to more than the lot.
    assert u.parse_elements("Li=33.3333%", 1_000) == {"Li": 333}


@pytest.mark.parametrize(
    "text, mass, fragment",
    [
        ("Xx=1kg", None, "unknown element 'Xx'"),
        ("Ni=52%", None, "needs the lot's mass"),
        ("Ni", None, "ELEMENT=AMOUNT"),
        ("Ni=1kg,ni=2kg", None, "given twice"),
        ("Ni=120%", 1000, "outside 0-100"),
        ("Ni=1.5", None, "needs a unit"),
    ],
)
def test_element_errors(text, mass, fragment):
    with pytest.raises(ValueError, match=fragment):
        u.parse_elements(text, mass)


def test_recycled_shares_are_of_the_element():
    assert u.parse_recycled("Co=16%", {"Co": 1_000_000}) == {"Co": 160_000}
    with pytest.raises(ValueError, match="exceeds the lot's Ni"):
        u.parse_recycled("Ni=2t", {"Ni": 1_000_000})


def test_energy_percent_duration_time():
    assert u.parse_energy("75kWh") == 75_000 and u.parse_energy("1.2MWh") == 1_200_000 and u.parse_energy("500") == 500
    assert u.parse_percent_bp("87.5%") == 8_750 and u.parse_percent_bp("90") == 9_000 and u.parse_percent_bp("8750bp") == 8_750
    with pytest.raises(ValueError):
        u.parse_percent_bp("101%")
    assert u.parse_duration("30d") == 30 * 86_400 and u.parse_duration("1y") == 365 * 86_400 and u.parse_duration("90min") == 5_400
    midnight = int(datetime(2027, 6, 30, tzinfo=timezone.utc).timestamp())
    assert u.parse_time("2027-06-30") == midnight
    assert u.parse_time("2027-06-30T12:00:00Z") == midnight + 12 * 3600
    assert u.parse_time("2027-06-30T14:00:00+02:00") == midnight + 12 * 3600
    assert u.parse_time(f"@{midnight}") == midnight
    with pytest.raises(ValueError, match="give a date"):
        u.parse_time("next tuesday")
    assert u.parse_emissions("1250kgCO2e") == 1_250_000 and u.parse_emissions("3.2 t CO2e") == 3_200_000


def test_uses_and_outputs():
    assert u.parse_use("R-001") == ("R-001", None)
    assert u.parse_use("R-001=3t") == ("R-001", 3_000_000)
    assert u.parse_output("CAM-1:CAM-NMC811:10t:Ni=4.8t,Co=0.6t") == ("CAM-1", "CAM-NMC811", 10_000_000, "Ni=4.8t,Co=0.6t")
    assert u.parse_output("BM:BLACK-MASS:300kg") == ("BM", "BLACK-MASS", 300_000, None)
    with pytest.raises(ValueError, match="ID:MATERIAL:MASS"):
        u.parse_output("CAM-1:10t")
    assert u.parse_origin("au:Greenbushes") == ("AU", "Greenbushes")
    with pytest.raises(ValueError, match="COUNTRY:SITE"):
        u.parse_origin("Australia")


@given(st.integers(min_value=0, max_value=2**56))
def test_formatted_mass_parses_back(grams):
    text = u.format_mass(grams).replace(" ", "")
    assert u.parse_mass(text) == grams
