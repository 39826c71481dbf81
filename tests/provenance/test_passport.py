"""Passport and PACT exports of the reference graph: every number traced to a known answer."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from prov_synth import SYNTH_VAULT, Synth, account

from ledger import errors
from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, Role
from ledger.domain.ids import to_bytes32
from ledger.exports.pact import conformance_errors, decimal_string, standards_of
from ledger.exports.passport import battery_passport, passport_qr
from ledger.exports.passport_id import passport_url, unique_identifier
from ledger.exports.passport_page import passport_html
from ledger.exports.pcf import pact_footprint, pact_footprint_v3, pcf_id
from ledger.figures.recycled import recycled_content
from ledger.figures.regulation import DEFAULT_CYCLES_PER_YEAR, Art7Parameters

approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


ASPECT_MEMBERS = {
    "generalProductInformation",
    "carbonFootprint",
    "circularity",
    "materialComposition",
    "labels",
    "performanceAndDurability",
    "supplyChainDueDiligence",
}


def test_battery_passport_groups(ref_index) -> None:
    p = battery_passport(ref_index, "ESS1", art7=Art7Parameters(cycles_per_year=250, service_years=10), soh_openings=SYNTH_VAULT)
    json.dumps(p)  # JSON-ready
    assert set(p) == ASPECT_MEMBERS | {"extensions"}
    g = p["generalProductInformation"]
    assert re.fullmatch(r"urn:[a-z0-9]+:[a-z0-9]+", g["batteryPassportIdentifier"])
    assert g["batteryStatus"] == "Repurposed" and g["batteryCategory"] == "stationary" and g["batteryMass"] == 65.0
    assert g["productIdentifier"] == "ESS1"  # the ledger label, not the serial hash
    cf = p["carbonFootprint"]
    rinne = p["extensions"]["rinne"]
    # Art. 7: 111 kg over 70 kWh x 250 cycles x 10 years; the per-rated-kWh figure keeps its own name.
    assert cf["absoluteCarbonFootprint"] == approx(111) and cf["batteryCarbonFootprint"] == approx(111 / 175_000)
    assert rinne["cradleToGateKgCo2ePerRatedKwh"] == approx(111 / 70)
    stages = {s["lifecycleStage"]: s["carbonFootprint"] for s in cf["carbonFootprintPerLifecycleStage"]}
    assert list(stages) == ["RawMaterialExtraction", "MainProduction", "Distribution", "Recycling"]
    assert sum(stages.values()) == approx(111 / 175_000)
    # PACK1's 2 kg of distribution, all inherited.
    assert stages["Distribution"] == approx(2 / 175_000) and rinne["cradleToGateStagesKgCo2ePerRatedKwh"]["distribution"] == approx(
        2 / 70
    )
    rc = {r["recycledMaterial"]: r for r in p["circularity"]["recycledContent"]}
    assert set(rc) == {"Nickel", "Cobalt", "Lithium"} and rc["Nickel"]["postConsumerShare"] == 0
    mats = {m["batteryMaterialName"]: m for m in p["materialComposition"]["batteryMaterials"]}
    assert {n: (m["batteryMaterialIdentifier"], m["batteryMaterialMass"], m["isCriticalRawMaterial"]) for n, m in mats.items()} == {
        "Nickel": ("7440-02-0", 6000.0, True),
        "Cobalt": ("7440-48-4", 2000.0, True),
        "Lithium": ("7439-93-2", 4000.0, True),
    }
    cond = p["performanceAndDurability"]["batteryCondition"]
    assert cond["stateOfCertifiedEnergy"]["stateOfCertifiedEnergyValue"] == 90.0
    assert cond["stateOfCertifiedEnergy"]["lastUpdate"].endswith("Z") and cond["energyThroughput"]["energyThroughputValue"] == 6_000
    assert p["performanceAndDurability"]["batteryTechicalProperties"]["ratedEnergy"] == 70
    origin = {o["element"]: o["countrySharesPercent"] for o in rinne["originOfMaterials"]}
    assert origin["Ni"] == {"AU": approx(70), "FI": approx(30)}
    assert rinne["parentPassports"] == ["urn:rinne:" + to_bytes32(x)[2:] for x in ("PACK1", "PACK2")]
    assert rinne["lifetimeCarbon"]["deliveredKwh"] == approx(24_000)
    assert rinne["assurance"] == "verified"
    # Active materials of the ESS: PACK1's cathode inputs (the cell maker made CAM itself) and half of CELL2.
    assert [(x["label"], x["fractionReachingUnit"]) for x in rinne["activeMaterials"]["lots"]] == [
        ("ORE-CO", approx(0.2)),
        ("LI-BRINE", 1.0),
        ("NISO4-M", 1.0),
        ("CELL2", 0.5),
    ]


def test_art7_figure_needs_its_inputs(ref_index) -> None:
    """Without cycles per year and years of service there is no Art. 7 figure: left out, never guessed."""
    p = battery_passport(ref_index, "PACK1", soh_openings=SYNTH_VAULT)
    assert "batteryCarbonFootprint" not in p["carbonFootprint"]
    assert p["extensions"]["rinne"]["art7"]["missing"] == ["cyclesPerYear", "serviceYears"]
    # Vehicle category M1 gives the draft act's 60 cycles a year; 8 years of warranty; usable energy declared.
    a = Art7Parameters(vehicle_category="M1", service_years=8, usable_energy_kwh=55, class_bands=((0.001, "A"), (0.005, "B")))
    cf = battery_passport(ref_index, "PACK1", art7=a, soh_openings=SYNTH_VAULT)["carbonFootprint"]
    fp = cf["absoluteCarbonFootprint"]
    assert cf["batteryCarbonFootprint"] == approx(fp / (55 * 60 * 8)) and cf["carbonFootprintPerformanceClass"] == "B"
    with pytest.raises(errors.InvalidInput, match="no default cycles"):
        battery_passport(ref_index, "PACK1", art7=Art7Parameters(vehicle_category="Z9", service_years=8), soh_openings=SYNTH_VAULT)
    assert DEFAULT_CYCLES_PER_YEAR == {"M1": 60, "N1": 60, "L": 20, "M2": 250, "M3": 250, "N2": 250, "N3": 250}


def _cell_graph() -> Synth:
    """A cell maker's transform fed by a cathode active material with recycled Ni and Co, an electrolyte with
    virgin Li and a nickel-plated casing; the pack is built from those cells. Worked by hand in the test."""
    s = Synth()
    cam_maker, cell_maker, packer, verifier = account(11), account(12), account(13), account(14)
    s.register(cam_maker, Role.CATHODE_MAKER)
    s.register(cell_maker, Role.CELL_MAKER)
    s.register(packer, Role.PACK_ASSEMBLER)
    s.register(verifier, Role.GWP_VERIFIER)
    s.mint(
        cam_maker,
        "CAM-R",
        "CAM-NMC811",
        100_000,
        Composition.of({"Li": 7_000, "Ni": 48_000, "Co": 6_000}, pre={"Co": 1_500}, post={"Ni": 12_000, "Co": 1_500}),
    )
    s.mint(cam_maker, "ELYTE", "LIPF6-ELECTROLYTE", 10_000, Composition.of({"Li": 1_000}))
    s.mint(cam_maker, "CASING", "NI-PLATED-STEEL", 30_000, Composition.of({"Ni": 2_000, "Fe": 20_000}))
    s.mint(cam_maker, "GRAPHITE", "ANODE-GRAPHITE", 40_000, Composition.of({"C": 30_000}))
    s.attest("CAM-R", 400, 0, verifier)
    for lot in ("CAM-R", "ELYTE", "CASING", "GRAPHITE"):
        s.transfer(lot, cell_maker)
    cells = Composition.of(
        {"Li": 8_000, "Ni": 50_000, "Co": 6_000, "Fe": 20_000, "C": 30_000}, pre={"Co": 1_500}, post={"Ni": 12_000, "Co": 1_500}
    )
    s.op(
        OpKind.TRANSFORM,
        cell_maker,
        [("CAM-R", 0), ("ELYTE", 0), ("CASING", 0), ("GRAPHITE", 0)],
        [("CELLS-K", "CELL-NMC811", 180_000, cells)],
    )
    s.attest("CELLS-K", 100, 1, verifier)
    s.transfer("CELLS-K", packer)
    s.op(OpKind.BUILD, packer, [("CELLS-K", 0)], [("PACK-K", "PACK-50KWH", 180_000, cells)], unit=(50_000, []))
    s.attest("PACK-K", 20, 1, verifier)
    s.attest("PACK-K", 5, 2, verifier)
    return s


def test_known_answers_art7_and_art8_active_materials() -> None:
    """By hand: footprint 400 + 100 + 20 + 5 = 525 kg CO2e. Art. 7 (M1, 60 cycles a year; 8 years; 45 kWh usable):
    E_total = 45 x 60 x 8 = 21 600 kWh, so 525 / 21 600 kg CO2e/kWh; stages 400, 120, 5, 0 over the same.
    The per-rated-kWh cradle-to-gate figure is 525 / 50. Art. 8: the active material is CAM-R alone (lithium with
    a cathode metal); the electrolyte's Li and the casing's Ni are not in it. Ni: 12 000 / 48 000 = 25 %
    post-consumer (not 12 000 / 50 000 = 24 % of all the pack's Ni); Co: 1 500 / 6 000 = 25 % pre and 25 % post;
    Li: 0 of 7 000 (not of 8 000)."""
    index = _cell_graph().ingest()
    try:
        a = Art7Parameters(vehicle_category="M1", service_years=8, usable_energy_kwh=45)
        p = battery_passport(index, "PACK-K", art7=a, soh_openings=SYNTH_VAULT)
        cf = p["carbonFootprint"]
        assert cf["absoluteCarbonFootprint"] == approx(525)
        assert cf["batteryCarbonFootprint"] == approx(525 / 21_600)
        assert [s["carbonFootprint"] for s in cf["carbonFootprintPerLifecycleStage"]] == [
            approx(400 / 21_600),
            approx(120 / 21_600),
            approx(5 / 21_600),
            approx(0),
        ]
        rinne = p["extensions"]["rinne"]
        assert rinne["art7"]["lifetimeEnergyKwh"] == approx(21_600) and rinne["art7"]["cyclesPerYear"] == 60
        assert rinne["cradleToGateKgCo2ePerRatedKwh"] == approx(525 / 50)
        rc = {r["recycledMaterial"]: (r["preConsumerShare"], r["postConsumerShare"]) for r in p["circularity"]["recycledContent"]}
        assert rc == {"Nickel": (approx(0), approx(25)), "Cobalt": (approx(25), approx(25)), "Lithium": (approx(0), approx(0))}
        assert [x["label"] for x in rinne["activeMaterials"]["lots"]] == ["CAM-R"]
        assert rinne["activeMaterials"]["elementsG"]["Ni"] == {"total": 48_000, "preConsumer": 0, "postConsumer": 12_000}
        targets = {(t["element"], t["year"]): t for t in rinne["art8Targets"]}
        assert targets[("Ni", 2036)]["sharePercent"] == approx(25) and targets[("Ni", 2036)]["met"] is True
        assert targets[("Li", 2031)]["met"] is False and targets[("Co", 2036)]["met"] is True  # Co 50 % >= 26 %
        # The whole-unit figure (all of the element) differs: 24 % Ni; the passport does not use it.
        whole = recycled_content(index, "PACK-K")
        assert {e.element: e.post_consumer_share for e in whole.elements}["Ni"] == approx(0.24)
        # The material list is every tracked element the pack holds except carbon (natural vs synthetic graphite unknown).
        listed = p["materialComposition"]["batteryMaterials"]
        mats = {m["batteryMaterialName"]: (m["batteryMaterialMass"], m["isCriticalRawMaterial"]) for m in listed}
        assert mats == {"Lithium": (8_000, True), "Nickel": (50_000, True), "Cobalt": (6_000, True), "Iron": (20_000, False)}
    finally:
        index.close()


def test_original_pack_passport(ref_index) -> None:
    p = battery_passport(ref_index, "PACK1", soh_openings=SYNTH_VAULT)
    assert p["generalProductInformation"]["batteryCategory"] == "ev"
    assert p["generalProductInformation"]["batteryStatus"] == "Repurposed"  # consumed whole by the ESS
    assert [h["to"] for h in p["extensions"]["rinne"]["statusHistory"]] == ["Reused", "Repurposed"]
    assert len(p["extensions"]["rinne"]["stateOfHealthHistory"]) == 2
    with pytest.raises(errors.InvalidInput):
        battery_passport(ref_index, "CAM", soh_openings=SYNTH_VAULT)


def test_pact_footprint_v2(ref_index) -> None:
    """The 2.2.0 export stays until ledger.audit reads 3.0 documents (it reads pCfExcludingBiogenic)."""
    d = pact_footprint(ref_index, "CAM", company_name="Refiner Oy")
    assert d["specVersion"] == "2.2.0" and d["pcf"]["pCfExcludingBiogenic"] == approx(76 / 50)
    assert d["precedingPfIds"] == [
        pcf_id(0, "0x" + "00" * 20, bytes.fromhex(to_bytes32(x)[2:])) for x in ("NISO4-M", "ORE-CO", "LI-BRINE")
    ]
    assert conformance_errors(d)  # and it is not a 3.0 document


def test_pact_footprint_v3(ref_index) -> None:
    d = pact_footprint_v3(ref_index, "CAM", company_name="Refiner Oy")
    json.dumps(d)
    assert conformance_errors(d) == []
    assert uuid.UUID(d["id"]).version == 5 and d["specVersion"] == "3.0.0" and "version" not in d
    pcf = d["pcf"]
    # Per declared unit: one kilogram of CAM (76 kg CO2e over 50 kg), decimals as strings.
    assert (pcf["declaredUnitOfMeasurement"], pcf["declaredUnitAmount"], pcf["productMassPerDeclaredUnit"]) == ("kilogram", "1", "1")
    assert pcf["pcfExcludingBiogenicUptake"] == pcf["pcfIncludingBiogenicUptake"] == "1.52" and pcf["fossilGhgEmissions"] == "1.52"
    assert pcf["crossSectoralStandards"] == ["ISO14067", "ISO14040-44"]
    assert pcf["verification"]["coverage"] == "product level" and "assurance" not in pcf
    # The inputs whose footprint CAM includes, by their own PCF ids, in the extension (3.0 precedingPfIds = earlier versions).
    data = d["extensions"][0]["data"]
    assert "precedingPfIds" not in d
    assert data["inputPfIds"] == [
        pcf_id(0, "0x" + "00" * 20, bytes.fromhex(to_bytes32(x)[2:])) for x in ("NISO4-M", "ORE-CO", "LI-BRINE")
    ]
    ore = pact_footprint_v3(ref_index, "ORE-NI")
    assert ore["pcf"]["geographyCountry"] == "AU" and ore["extensions"][0]["data"]["inputPfIds"] == []
    rec = pact_footprint_v3(ref_index, "REC-NI")
    assert rec["extensions"][0]["data"]["inputPfIds"] == []  # recycled input cut off: PACK2's footprint is not included
    cam3 = pact_footprint_v3(ref_index, "CAM3")
    assert "verification" not in cam3["pcf"] and cam3["extensions"][0]["data"]["assuranceLevel"] == "self-declared"
    assert float(cam3["pcf"]["primaryDataShare"]) == pytest.approx(100 * 34 / 41, abs=1e-9)
    # A battery unit is declared per piece, with its mass.
    pack = pact_footprint_v3(ref_index, "PACK1")
    assert conformance_errors(pack) == [] and pack["pcf"]["declaredUnitOfMeasurement"] == "piece"
    assert pack["pcf"]["productMassPerDeclaredUnit"] == "50"


def test_pact_conformance_checks_catch_2x_and_bad_values(ref_index) -> None:
    d = pact_footprint_v3(ref_index, "CAM")
    old = json.loads(json.dumps(d))
    old["specVersion"] = "2.2.0"
    old["version"] = 0
    old["pcf"]["pCfExcludingBiogenic"] = 1.52
    old["pcf"]["declaredUnitAmount"] = 1
    old["pcf"]["crossSectoralStandards"] = ["ISO Standard 14067"]
    old["pcf"]["packagingGhgEmissions"] = "0"
    old["pcf"]["geographyRegionOrSubregion"] = "Europe"
    old["pcf"]["geographyCountry"] = "FI"
    del old["pcf"]["fossilCarbonContent"]
    errs = conformance_errors(old)
    for needle in (
        "not a 3.x version",
        "version and updated were removed",
        "pCfExcludingBiogenic is a 2.x property",
        "declaredUnitAmount must be a decimal string",
        "crossSectoralStandards",
        "packagingGhgEmissions must be undefined",
        "only one geography",
        "missing mandatory property fossilCarbonContent",
    ):
        assert any(needle in e for e in errs), needle
    assert decimal_string(1e-9) == "0.000000001" and decimal_string(2.0) == "2" and decimal_string(-0.0) == "0"
    assert standards_of(["ISO14067:2018", "EU-BCF-2024"]) == (["ISO14067"], ["EU-BCF-2024"])


def test_passport_html_is_self_contained(ref_index) -> None:
    html = passport_html(battery_passport(ref_index, "ESS1", soh_openings=SYNTH_VAULT))
    assert html.startswith("<!DOCTYPE html>") and "1.586 kg CO2e/kWh rated" in html
    assert "Art. 7 figure not computed: cyclesPerYear, serviceYears not given" in html
    public = passport_html(battery_passport(ref_index, "ESS1", tier="public", soh_openings=SYNTH_VAULT))
    assert "not shown at this access tier" in public and "stateOfHealthHistory" not in public
    assert not re.search(r"(src|href)=\"https?:", html)


def test_iso15459_identifier_and_passport_url(ref_index) -> None:
    decl = {
        "serialNumber": "PACK1",
        "uniqueIdentifier": {"issuingAgencyCode": "UN", "companyIdentifier": "043325711"},
        "passportBaseUrl": "https://passport.example.com/b/",
    }
    p = battery_passport(ref_index, "PACK1", declarations=decl, soh_openings=SYNTH_VAULT)
    assert p["generalProductInformation"]["productIdentifier"] == "UN043325711PACK1"
    rinne = p["extensions"]["rinne"]
    assert rinne["uniqueIdentifier"]["symbolData"] == "25SUN043325711PACK1"
    assert rinne["passportUrl"] == "https://passport.example.com/b/UN043325711PACK1"
    assert battery_passport(ref_index, "PACK1", declarations=decl, tier="public", soh_openings=SYNTH_VAULT)["extensions"]["rinne"][
        "passportUrl"
    ]
    with pytest.raises(errors.InvalidInput, match="needs the serialNumber"):
        battery_passport(ref_index, "PACK1", declarations={"uniqueIdentifier": decl["uniqueIdentifier"]}, soh_openings=SYNTH_VAULT)
    with pytest.raises(errors.InvalidInput, match="issuing agency code"):
        unique_identifier("TOOLONG", "1", "A")
    with pytest.raises(errors.InvalidInput, match="longer than 50"):
        unique_identifier("UN", "1" * 30, "S" * 20)
    with pytest.raises(errors.InvalidInput, match="https"):
        passport_url("http://x", unique_identifier("UN", "1", "A"))


def test_cli_passport_offers_tiers_and_declarations() -> None:
    from click.testing import CliRunner

    from rinne_cli.provenance import passport

    out = CliRunner().invoke(passport, ["--help"]).output
    assert "--tier [public|legitimate-interest|authority]" in out and "--declarations" in out and "--pact-version [2.2|3.0]" in out


def test_qr_code_encodes_the_passport_url_and_shows_on_the_page(ref_index) -> None:
    import segno

    decl = {
        "serialNumber": "PACK1",
        "uniqueIdentifier": {"issuingAgencyCode": "UN", "companyIdentifier": "043325711"},
        "passportBaseUrl": "https://passport.example.com/b/",
    }
    p = battery_passport(ref_index, "PACK1", declarations=decl, soh_openings=SYNTH_VAULT)
    url = p["extensions"]["rinne"]["passportUrl"]
    png = passport_qr(p, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # The same symbol as segno makes for the URL alone (no decoder here: the modules are compared).
    svg = passport_qr(p, "svg").decode()
    expected = segno.make(url, error="m", micro=False)
    assert expected.designator.endswith("-M") and expected.matrix
    import io

    buf = io.BytesIO()
    expected.save(buf, kind="svg", scale=4, border=4, xmldecl=False, svgns=True)
    assert svg == buf.getvalue().decode()
    html = passport_html(p)
    assert f'<svg id="qr" data-url="{url}"' in html and f'<div id="passport-url">{url}</div>' in html
    with pytest.raises(errors.InvalidInput, match="no URL to encode"):
        passport_qr(battery_passport(ref_index, "PACK1", soh_openings=SYNTH_VAULT))


def test_pact_of_a_remainder_is_per_kg_of_what_it_holds(ref_index) -> None:
    """NISO4 holds 200 of its 400 kg and carries 60 kg CO2e of its 120: 0.3 kg/kg in both PACT versions
    (dividing the remainder's figure by the minted mass would halve it)."""
    v2, v3 = pact_footprint(ref_index, "NISO4"), pact_footprint_v3(ref_index, "NISO4")
    assert v2["pcf"]["unitaryProductAmount"] == 200 and v2["pcf"]["pCfExcludingBiogenic"] == approx(0.3)
    assert float(v3["pcf"]["pcfExcludingBiogenicUptake"]) == approx(0.3)
