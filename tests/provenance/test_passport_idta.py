"""The IDTA-02035 JSON Schemas (parts 1-7) judge the IDTA export of a replayed unit.

The schemas are read at test time from the shared standards folder (as tests/provenance/test_passport_schemas.py
finds it), never copied into the repo. The upstream example payloads fill, as an economic operator's declarations
would, what the ledger does not hold; where an example disagrees with its schema (a multi-language text written as
one object, a set as one scalar; see the standards README) the schema wins and the example is wrapped to conform.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prov_synth import SYNTH_VAULT
from schema_support import standards, strip_held

import ledger
from ledger import errors
from ledger.exports.batterypass import IDTA_SUBMODELS, leaf_paths
from ledger.exports.idta import EXTENSION, FIELD_POINT, REQUIRED, SUBMODELS, idta_passport, point_of
from ledger.exports.passport import battery_passport
from ledger.figures.regulation import Art7Parameters

jsonschema = pytest.importorskip("jsonschema")


STANDARDS = standards("idta-02035")
pytestmark = pytest.mark.skipif(not STANDARDS.is_dir(), reason=f"reference schemas not found at {STANDARDS}")
#: The demo-style bands (Art. 7(2) leaves them to the delegated act): the class is the ledger's, never declared.
ART7_DECLARED = {"cyclesPerYear": 250, "serviceYears": 10, "classBands": [[0.0005, "A"], [1_000.0, "B"]]}
ART7 = Art7Parameters.from_mapping(ART7_DECLARED)
#: What the Battery Pass half of the declarations adds to the footprint entries (IDTA-02035-3 requires it and
#: the performance class, which the ledger gives from the Art. 7 bands and no declaration may).
BP_DECLARED = {"carbonFootprint": {"carbonFootprintStudy": "https://example.com/pcf-study"}, "art7": ART7_DECLARED}
approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


def _load(rel: str) -> Any:
    return json.loads((STANDARDS / rel).read_text(encoding="utf-8"))


def _schema(name: str) -> dict[str, Any]:
    return _load(SUBMODELS[name][2])  # type: ignore[no-any-return]


def _errors(name: str, doc: Any) -> list[str]:
    schema = _schema(name)
    jsonschema.Draft4Validator.check_schema(schema)
    v = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def _resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its $ref and allOf folded in (the samm-cli schemas nest both)."""
    out: dict[str, Any] = {}
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    for part in node.get("allOf", []):
        out |= _resolve(part, schema)
    props = {**out.get("properties", {}), **node.get("properties", {})}
    out |= {k: v for k, v in node.items() if k != "allOf"}
    if props:
        out["properties"] = props
    return out


def _conform(value: Any, node: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The example value as its schema says it is written: a lone object or scalar where a list is due is wrapped."""
    node = _resolve(node, schema)
    if node.get("type") == "array":
        items = value if isinstance(value, list) else [value]
        return [_conform(x, node.get("items", {}), schema) for x in items]
    if node.get("type") == "object" and isinstance(value, dict):
        props = node.get("properties", {})
        return {k: _conform(v, props[k], schema) if k in props else v for k, v in value.items()}
    return value


def _example(name: str) -> Any:
    rel = SUBMODELS[name][2].replace("-schema.json", ".json")
    schema = _schema(name)
    return _conform(_load(rel), schema, schema)


def _declarations(ref_index: Any, unit: str) -> dict[str, Any]:
    held = idta_passport(ref_index, unit, art7=ART7, declarations={**BP_DECLARED, "serialNumber": unit}, soh_openings=SYNTH_VAULT)
    return {**BP_DECLARED, "serialNumber": unit, "idta": {k: strip_held(_example(k), held[k]) for k in SUBMODELS}}


def test_required_members_match_the_schemas() -> None:
    for name in SUBMODELS:
        schema = _schema(name)
        for where, members in REQUIRED[name].items():
            node = _resolve(schema, schema)
            for part in [p for p in where.split(".") if p]:
                node = _resolve(node["properties"][part.removesuffix("[]")], schema)
                if part.endswith("[]"):
                    node = _resolve(node["items"], schema)
            assert tuple(node["required"]) == members, (name, where)


def test_upstream_examples_validate_once_written_as_their_schemas_say() -> None:
    # Sanity of the judge: the README's 32 upstream errors (parts 1, 2, 3, 7) are all of the two kinds the schema
    # settles, so once wrapped every example validates.
    for name in SUBMODELS:
        assert _errors(name, _example(name)) == [], name


@pytest.mark.parametrize("unit", ["ESS1", "PACK1"])
def test_every_submodel_validates_with_zero_errors(ref_index, unit: str) -> None:
    p = idta_passport(ref_index, unit, declarations=_declarations(ref_index, unit), art7=ART7, soh_openings=SYNTH_VAULT)
    json.dumps(p)
    assert set(p) == set(SUBMODELS) | {EXTENSION}
    for name in SUBMODELS:
        assert _errors(name, p[name]) == [], name
    assert p[EXTENSION]["rinne"]["missingRequiredMembers"] == {}


def test_ledger_only_export_misses_only_what_the_ledger_does_not_hold(ref_index) -> None:
    """Without declarations nothing is invented: every schema error is a missing required member, and the export
    lists each one itself."""
    p = idta_passport(ref_index, "ESS1", art7=ART7, soh_openings=SYNTH_VAULT)
    missing = p[EXTENSION]["rinne"]["missingRequiredMembers"]
    for name in SUBMODELS:
        schema = _schema(name)
        for e in jsonschema.Draft4Validator(schema).iter_errors(p[name]):
            assert e.validator == "required", (name, e.message)
            where = ".".join(str(x) if isinstance(x, str) else "[]" for x in e.absolute_path).replace(".[]", "[]")
            member = e.message.split("'")[1]
            assert (f"{where}.{member}" if where else member) in missing[name], (name, where, member)
    assert "SerialNumber" in missing["digital_nameplate"] and "Documents" in missing["handover_documentation"]
    assert "ProductCarbonFootprints[].WebLinkToPublicCarbonFootprintStudy" in missing["carbon_footprint"]


def test_figures_equal_the_battery_pass_export(ref_index) -> None:
    """Known answers: one ledger, one rule per figure; ESS1 is 111 kg CO2e over 70 kWh x 250 cycles x 10 years."""
    bp = battery_passport(ref_index, "ESS1", art7=ART7, soh_openings=SYNTH_VAULT)
    p = idta_passport(ref_index, "ESS1", art7=ART7, soh_openings=SYNTH_VAULT)
    pcfs = p["carbon_footprint"]["ProductCarbonFootprints"]
    piece, total, *stages = pcfs
    assert (piece["ReferenceImpactUnitForCalculation"], piece["PcfCo2eq"]) == ("piece", approx(111))
    assert piece["PcfCo2eq"] == bp["carbonFootprint"]["absoluteCarbonFootprint"]
    assert total["ReferenceImpactUnitForCalculation"] == "kwH" and total["PcfCo2eq"] == bp["carbonFootprint"]["batteryCarbonFootprint"]
    assert total["PcfCo2eq"] == approx(111 / 175_000)
    assert [s["PcfCo2eq"] for s in stages] == [s["carbonFootprint"] for s in bp["carbonFootprint"]["carbonFootprintPerLifecycleStage"]]
    assert [s["LifeCyclePhases"] for s in stages] == [
        ["A1 - raw material supply (and upstream production)"],
        ["A3 - production"],
        ["A4 - transport to final destination"],
        ["C1-C4"],
    ]
    # Element masses: grams in Battery Pass, kilograms in IDTA-02035-6.
    kg = {m["BatteryMaterialName"]: m["BatteryMaterialMass"] for m in p["material_composition"]["BatteryMaterials"]}
    assert kg == {"Nickel": 6.0, "Cobalt": 2.0, "Lithium": 4.0}
    assert {m["batteryMaterialName"]: m["batteryMaterialMass"] / 1000 for m in bp["materialComposition"]["batteryMaterials"]} == kg
    shares = {
        r["RecycledMaterial"]: (r["PreConsumerShare"], r["PostConsumerShare"]) for r in p["circularity"]["RecycledContentInformation"]
    }
    assert shares == {
        r["recycledMaterial"]: (r["preConsumerShare"], r["postConsumerShare"]) for r in bp["circularity"]["recycledContent"]
    }
    cond = p["product_condition"]
    assert cond["StateOfCertifiedEnergy"]["StateOfCertifiedEnergyValue"] == 90.0
    assert cond["EnergyThroughput"]["EnergyThroughputValue"] == 6_000
    g = p["technical_data"]["GeneralInformation"]
    assert (g["BatteryMass"], g["BatteryCategory"]) == (65.0, "stationary")
    assert p["technical_data"]["TechnicalPropertyAreas"]["CapacityEnergyVoltage"]["CertifiedUsableBatteryEnergy"] == 70
    assert p["digital_nameplate"]["LifeCycleStage"] == "repurposed"
    assert p["digital_nameplate"]["URIOfTheProduct"] == bp["generalProductInformation"]["batteryPassportIdentifier"]


def test_without_art7_inputs_only_the_absolute_footprint(ref_index) -> None:
    p = idta_passport(ref_index, "PACK1", soh_openings=SYNTH_VAULT)
    (only,) = p["carbon_footprint"]["ProductCarbonFootprints"]
    assert only["ReferenceImpactUnitForCalculation"] == "piece"
    assert p[EXTENSION]["rinne"]["art7"]["missing"] == ["cyclesPerYear", "serviceYears"]


def test_parties_fill_the_manufacturer_by_ledger_address(ref_index) -> None:
    maker = battery_passport(ref_index, "ESS1", soh_openings=SYNTH_VAULT)["generalProductInformation"]["manufacturerInformation"][
        "identifier"
    ]
    contact = {
        "contactName": "Second Life Oy",
        "postalAddress": {"addressCountry": "FI", "postalCode": "00100", "streetAddress": "Katu 1"},
    }
    p = idta_passport(ref_index, "ESS1", declarations={"parties": {maker: contact}}, soh_openings=SYNTH_VAULT)
    n = p["digital_nameplate"]
    assert n["ManufacturerName"] == [{"und": "Second Life Oy"}] and n["ManufacturerIdentifier"] == maker
    assert n["AddressInformation"] == {"NationalCode": [{"und": "FI"}], "ZipCode": [{"und": "00100"}], "Street": [{"und": "Katu 1"}]}
    assert "AddressInformation.CityTown" in p[EXTENSION]["rinne"]["missingRequiredMembers"]["digital_nameplate"]
    assert p["technical_data"]["GeneralInformation"]["ManufacturerName"] == "Second Life Oy"


# ------------------------------------------------------------------------- think like a cheater


@pytest.mark.parametrize(
    ("declared", "field"),
    [
        ({"idta": {"carbon_footprint": {"ProductCarbonFootprints": []}}}, "ProductCarbonFootprints"),
        (
            {
                "idta": {
                    "circularity": {
                        "RecycledContentInformation": [{"PreConsumerShare": 90, "RecycledMaterial": "Nickel", "PostConsumerShare": 9}]
                    }
                }
            },
            "RecycledContentInformation",
        ),
        ({"idta": {"technical_data": {"GeneralInformation": {"BatteryMass": 1.0}}}}, "BatteryMass"),
        ({"idta": {"material_composition": {"BatteryMaterials": []}}}, "BatteryMaterials"),
        (
            {
                "idta": {
                    "product_condition": {
                        "StateOfCertifiedEnergy": {"StateOfCertifiedEnergyValue": 99, "LastUpdate": "2030-01-01T00:00:00Z"}
                    }
                }
            },
            "StateOfCertifiedEnergy",
        ),
        ({"idta": {"digital_nameplate": {"LifeCycleStage": "original"}}}, "LifeCycleStage"),
        ({"idta": {"digital_nameplate": {"DateOfPuttingIntoService": None}}}, "DateOfPuttingIntoService"),  # even null
        ({"carbonFootprint": {"batteryCarbonFootprint": 0.01}}, "batteryCarbonFootprint"),
        ({"carbonFootprint": {"carbonFootprintPerformanceClass": "A"}}, "carbonFootprintPerformanceClass"),
        ({"materialComposition": {"batteryMaterials": []}}, "batteryMaterials"),
    ],
)
def test_declarations_cannot_overwrite_the_ledger(ref_index, declared: dict[str, Any], field: str) -> None:
    # Not even where the ledger holds nothing to clash with (no Art. 7 figure without its inputs): refused.
    with pytest.raises(errors.InvalidInput, match=f"{field} comes from the ledger"):
        idta_passport(ref_index, "ESS1", declarations=declared, soh_openings=SYNTH_VAULT)


IDTA_ONLY, BOTH = (idta_passport,), (idta_passport, battery_passport)


@pytest.mark.parametrize(
    ("declared", "message", "exports"),
    [
        # A parent declared as anything but an object would stand for the whole member the ledger fills.
        ({"idta": {"product_condition": {"StateOfCertifiedEnergy": None}}}, "StateOfCertifiedEnergy comes from the ledger", IDTA_ONLY),
        ({"idta": {"technical_data": {"GeneralInformation": "Fake AG"}}}, "GeneralInformation must be an object", IDTA_ONLY),
        ({"performanceAndDurability": {"batteryCondition": None}}, "batteryCondition must be an object", BOTH),
        ({"generalProductInformation": {"manufacturerInformation": []}}, "manufacturerInformation must be an object", BOTH),
        # The submodels are one level down, by their names only (one document serves both formats, and both
        # check it): a misspelt one is an error, not ignored.
        ({"idta": {"digital_name_plate": {}}}, "unknown IDTA-02035 submodel declarations.idta.digital_name_plate", BOTH),
        ({"idta": {"circularity": []}}, "declarations.idta.circularity must be an object", BOTH),
        ({"idta": []}, "declarations.idta must be an object", BOTH),
        # At the top level, as before the member existed, a submodel name is an unknown key.
        ({"digital_nameplate": {"Markings": []}}, "unknown declaration key", BOTH),
    ],
)
def test_declarations_are_refused_in_the_wrong_shape(ref_index, declared: dict[str, Any], message: str, exports: Any) -> None:
    for export in exports:
        with pytest.raises(errors.InvalidInput, match=message):
            export(ref_index, "ESS1", declarations=declared)


def test_both_formats_name_the_same_submodels() -> None:
    assert IDTA_SUBMODELS == frozenset(SUBMODELS)


def test_a_declared_text_cannot_contradict_a_party(ref_index) -> None:
    maker = battery_passport(ref_index, "ESS1", soh_openings=SYNTH_VAULT)["generalProductInformation"]["manufacturerInformation"][
        "identifier"
    ]
    with pytest.raises(errors.InvalidInput, match="ManufacturerName comes from the ledger"):
        idta_passport(
            ref_index,
            "ESS1",
            declarations={
                "parties": {maker: {"contactName": "Real Oy"}},
                "idta": {"technical_data": {"GeneralInformation": {"ManufacturerName": "Fake AG"}}},
            },
            soh_openings=SYNTH_VAULT,
        )
    with pytest.raises(errors.InvalidInput, match="does not match the serial hash"):
        idta_passport(ref_index, "ESS1", declarations={"serialNumber": "SN-FORGED"}, soh_openings=SYNTH_VAULT)


# ----------------------------------------------------------------------------- tiers


def test_every_exported_field_has_an_annex_xiii_point(ref_index) -> None:
    p = idta_passport(ref_index, "ESS1", declarations=_declarations(ref_index, "ESS1"), art7=ART7, soh_openings=SYNTH_VAULT)
    for path in leaf_paths(p):
        assert point_of(path) in (1, 2, 3, 4), path
    assert all(k.split(".")[0] in set(SUBMODELS) | {EXTENSION} for k in FIELD_POINT)


def test_public_tier_holds_no_point_2_to_4_field(ref_index) -> None:
    decl = _declarations(ref_index, "ESS1")
    full = idta_passport(ref_index, "ESS1", declarations=decl, art7=ART7, soh_openings=SYNTH_VAULT)
    public = idta_passport(ref_index, "ESS1", declarations=decl, art7=ART7, tier="public", soh_openings=SYNTH_VAULT)
    points = {path: point_of(path) for path in leaf_paths(public) if path != "extensions.rinne.accessTier"}
    assert points and set(points.values()) == {1}
    for gone in (
        "digital_nameplate.LifeCycleStage",
        "digital_nameplate.DateOfPuttingIntoService",
        "digital_nameplate.ResultsOfTestReportsProvingCompliance",
        "handover_documentation.Documents",
        "circularity.SafetyMeasures",
        "circularity.DismantlingAndRemovalInformation",
        "product_condition.StateOfCertifiedEnergy",
    ):
        head, _, last = gone.rpartition(".")
        assert last in full[head] and last not in public.get(head, {}), gone
    assert public["carbon_footprint"] == full["carbon_footprint"] and public["material_composition"] == full["material_composition"]
    assert public[EXTENSION]["rinne"]["accessTier"] == "public"
    li = idta_passport(ref_index, "ESS1", declarations=decl, art7=ART7, tier="legitimate-interest", soh_openings=SYNTH_VAULT)
    assert {point_of(x) for x in leaf_paths(li) if x != "extensions.rinne.accessTier"} == {1, 2, 4}
    with pytest.raises(errors.InvalidInput, match="unknown access tier"):
        idta_passport(ref_index, "ESS1", tier="everyone", soh_openings=SYNTH_VAULT)


# ------------------------------------------------------------------------------- command line


@pytest.mark.skipif("idta_passport" not in ledger.__all__, reason="idta_passport is not yet in ledger/__init__.pyi")
def test_cli_passport_format_idta(ref_index, monkeypatch, tmp_path) -> None:
    """`rinne passport --format idta` writes the seven submodels; the Battery Pass page and QR code are refused."""
    import contextlib
    from types import SimpleNamespace

    from click.testing import CliRunner

    from rinne_cli import provenance
    from rinne_cli._core import Session
    from rinne_cli.main import cli

    ref_index.close = lambda: None  # the fixture closes it
    deployment = SimpleNamespace(chain_id=31337, ledger="0x" + "ab" * 20)
    monkeypatch.setattr(Session, "ledger", lambda self, **kw: SimpleNamespace(deployment=deployment))
    monkeypatch.setattr(provenance, "_index", lambda session, trust=False: contextlib.nullcontext(ref_index))
    monkeypatch.setattr(Session, "vault", lambda self, **kw: SYNTH_VAULT)  # the SOH openings of this data directory
    decl = tmp_path / "declared.json"
    decl.write_text(json.dumps(_declarations(ref_index, "ESS1")))
    out = tmp_path / "ess1-idta.json"
    args = ["passport", "ESS1", "--format", "idta", "--declarations", str(decl), "-o", str(out)]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert set(doc) == set(SUBMODELS) | {EXTENSION} and doc[EXTENSION]["rinne"]["chainId"] == 31337
    for name in SUBMODELS:
        assert _errors(name, doc[name]) == [], name
    r = CliRunner().invoke(cli, ["passport", "ESS1", "--format", "idta", "--tier", "public"])
    assert r.exit_code == 0 and "product_condition" not in json.loads(r.stdout)
    r = CliRunner().invoke(cli, ["passport", "ESS1", "--format", "idta", "--html", str(tmp_path / "p.html")])
    assert r.exit_code != 0 and "--format idta writes the submodels only" in r.output
