"""Passport and PACT exports of the reference graph: every number traced to a known answer."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from ledger import errors
from ledger.models import to_bytes32
from ledger.passport import battery_passport, pact_footprint, passport_html, pcf_id

approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


def test_battery_passport_groups(ref_index) -> None:
    p = battery_passport(ref_index, "ESS1")
    json.dumps(p)  # JSON-ready
    assert set(p) == {
        "generalProductInformation", "carbonFootprint", "circularity", "performanceAndDurability", "supplyChainDueDiligence", "extensions",
    }
    g = p["generalProductInformation"]
    assert re.fullmatch(r"urn:[a-z0-9]+:[a-z0-9]+", g["batteryPassportIdentifier"])
    assert g["batteryStatus"] == "Repurposed" and g["batteryCategory"] == "stationary" and g["batteryMass"] == 65.0
    cf = p["carbonFootprint"]
    assert cf["absoluteCarbonFootprint"] == approx(111) and cf["batteryCarbonFootprint"] == approx(111 / 70)
    stages = {s["lifecycleStage"]: s["carbonFootprint"] for s in cf["carbonFootprintPerLifecycleStage"]}
    assert list(stages) == ["RawMaterialExtraction", "MainProduction", "Distribution", "Recycling"]
    assert sum(stages.values()) == approx(111 / 70)
    # PACK1's 2 kg of distribution, all inherited: 2 / 70 kWh.
    assert stages["Distribution"] == approx(2 / 70)
    rc = {r["recycledMaterial"]: r for r in p["circularity"]["recycledContent"]}
    assert set(rc) == {"Nickel", "Cobalt", "Lithium"} and rc["Nickel"]["postConsumerShare"] == 0
    cond = p["performanceAndDurability"]["batteryCondition"]
    assert cond["stateOfCertifiedEnergy"]["stateOfCertifiedEnergyValue"] == 90.0
    assert cond["stateOfCertifiedEnergy"]["lastUpdate"].endswith("Z") and cond["energyThroughput"] == 6_000
    assert p["performanceAndDurability"]["batteryTechicalProperties"]["ratedEnergy"] == 70
    origin = {o["element"]: o["countryShares"] for o in p["supplyChainDueDiligence"]["originOfMaterials"]}
    assert origin["Ni"] == {"AU": approx(0.7), "FI": approx(0.3)}
    rinne = p["extensions"]["rinne"]
    assert rinne["parentPassports"] == ["urn:rinne:" + to_bytes32(x)[2:] for x in ("PACK1", "PACK2")]
    assert rinne["lifetimeCarbon"]["deliveredKwh"] == approx(24_000)
    assert rinne["assurance"] == "verified"


def test_original_pack_passport(ref_index) -> None:
    p = battery_passport(ref_index, "PACK1")
    assert p["generalProductInformation"]["batteryCategory"] == "ev"
    assert p["generalProductInformation"]["batteryStatus"] == "Repurposed"  # consumed whole by the ESS
    assert [h["to"] for h in p["extensions"]["rinne"]["statusHistory"]] == ["Reused", "Repurposed"]
    assert len(p["extensions"]["rinne"]["stateOfHealthHistory"]) == 2
    with pytest.raises(errors.InvalidInput):
        battery_passport(ref_index, "CAM")


def test_pact_footprint(ref_index) -> None:
    d = pact_footprint(ref_index, "CAM", company_name="Refiner Oy")
    json.dumps(d)
    assert uuid.UUID(d["id"]).version == 5 and d["specVersion"] == "2.2.0"
    pcf = d["pcf"]
    assert pcf["declaredUnit"] == "kilogram" and pcf["unitaryProductAmount"] == 50.0
    assert pcf["pCfExcludingBiogenic"] == approx(76 / 50)
    assert pcf["crossSectoralStandardsUsed"] == ["ISO14067:2018"]
    assert pcf["assurance"]["assurance"] is True and "verified" in pcf["assurance"]["comments"]
    # The inputs whose footprint CAM includes, by their own PCF ids.
    assert d["precedingPfIds"] == [pcf_id(0, "0x" + "00" * 20, bytes.fromhex(to_bytes32(x)[2:])) for x in ("NISO4-M", "ORE-CO", "LI-BRINE")]
    ore = pact_footprint(ref_index, "ORE-NI")
    assert ore["pcf"]["geographyCountry"] == "AU" and "precedingPfIds" not in ore
    rec = pact_footprint(ref_index, "REC-NI")
    assert "precedingPfIds" not in rec  # recycled input cut off: PACK2's footprint is not included
    cam3 = pact_footprint(ref_index, "CAM3")
    assert cam3["pcf"]["assurance"]["assurance"] is False and "self-declared" in cam3["pcf"]["assurance"]["comments"]
    assert cam3["pcf"]["primaryDataShare"] == approx(100 * 34 / 41)


def test_passport_html_is_self_contained(ref_index) -> None:
    html = passport_html(battery_passport(ref_index, "ESS1"))
    assert html.startswith("<!DOCTYPE html>") and "1.586 kg CO2e/kWh" in html
    assert not re.search(r"(src|href)=\"https?:", html)
