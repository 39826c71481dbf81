"""IDTA-02035 export: a battery passport as the seven submodels of the IDTA "Digital Battery Passport"
templates, in the AAS value-only JSON form their generated JSON Schemas describe.

Parts: IDTA-02035-1 Digital Nameplate for batteries, -2 Handover Documentation, -3 Product Carbon
Footprint, -4 Technical Data, -5 Product Condition, -6 Material Composition, -7 Circularity
(github.com/admin-shell-io/smt-semantic-models, CC BY 4.0; the schemas judge tests/provenance/test_passport_idta.py).
The figures are the Battery Pass export's (:func:`ledger.exports.passport.battery_passport`), translated, so
the two exports can never disagree; the field-by-field mapping is in docs/passport-mapping.md ("IDTA-02035").
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from ledger.domain.disclosure import Disclosure, Openings
from ledger.exports.batterypass import (
    IDTA_MEMBER,
    check_declarations,
    filter_tier,
    merge_declared,
    point_in,
    refuse_ledger_only,
)
from ledger.exports.passport import battery_passport
from ledger.figures.regulation import Art7Parameters
from ledger.figures.source import Source
from ledger.replay.soh import OpeningsSource

#: Submodel name -> (IDTA-02035 part, aspect model URN, schema file under standards/idta-02035/).
SUBMODELS: dict[str, tuple[str, str, str]] = {
    "digital_nameplate": (
        "IDTA-02035-1",
        "urn:samm:io.admin-shell.idta.batterypass.digital_nameplate:1.0.0#BatteryNameplate",
        "io.admin-shell.idta.batterypass.digital_nameplate/1.0.0/gen/NameplateBattery-schema.json",
    ),
    "handover_documentation": (
        "IDTA-02035-2",
        "urn:samm:io.admin-shell.idta.batterypass.handover_documentation:1.0.0#HandoverDocumentation",
        "io.admin-shell.idta.batterypass.handover_documentation/1.0.0/gen/HandoverDocumentationBattery-schema.json",
    ),
    "carbon_footprint": (
        "IDTA-02035-3",
        "urn:samm:io.admin-shell.idta.batterypass.carbon_footprint:1.0.0#CarbonFootprintBattery",
        "io.admin-shell.idta.batterypass.carbon_footprint/1.0.0/gen/CarbonFootprintBattery-schema.json",
    ),
    "technical_data": (
        "IDTA-02035-4",
        "urn:samm:io.admin-shell.idta.batterypass.technical_data:1.0.1#TechnicalData",
        "io.admin-shell.idta.batterypass.technical_data/1.0.1/gen/TechnicalDataBattery-schema.json",
    ),
    "product_condition": (
        "IDTA-02035-5",
        "urn:samm:io.admin-shell.idta.batterypass.product_condition:1.0.1#ProductCondition",
        "io.admin-shell.idta.batterypass.product_condition/1.0.1/gen/ProductConditionBattery-schema.json",
    ),
    "material_composition": (
        "IDTA-02035-6",
        "urn:samm:io.admin-shell.idta.batterypass.material_composition:1.0.1#MaterialComposition",
        "io.admin-shell.idta.batterypass.material_composition/1.0.1/gen/MaterialCompositionBattery-schema.json",
    ),
    "circularity": (
        "IDTA-02035-7",
        "urn:samm:io.admin-shell.idta.batterypass.circularity:1.0.0#Circularity",
        "io.admin-shell.idta.batterypass.circularity/1.0.0/gen/CircularityBattery-schema.json",
    ),
}
#: Required members (transcribed from the schemas; a test checks them) of each submodel ("" is the top level)
#: and of the nested objects the ledger starts; ``[]`` marks the items of a list.
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "digital_nameplate": {
        "": (
            "URIOfTheProduct",
            "ManufacturerName",
            "AddressInformation",
            "SerialNumber",
            "DateOfManufacture",
            "UniqueFacilityIdentifier",
            "LifeCycleStage",
            "ManufacturerIdentifier",
            "Markings",
            "EUDeclarationOfConformity",
            "ResultsOfTestReportsProvingCompliance",
        ),
        "AddressInformation": ("NationalCode", "CityTown", "Street", "ZipCode"),
    },
    "handover_documentation": {"": ("Documents",)},
    "carbon_footprint": {
        "": ("ProductCarbonFootprints",),
        "ProductCarbonFootprints[]": (
            "PcfCalculationMethods",
            "PcfCo2eq",
            "ReferenceImpactUnitForCalculation",
            "QuantityOfMeasureForCalculation",
            "LifeCyclePhases",
            "PerformanceClass",
            "WebLinkToPublicCarbonFootprintStudy",
        ),
    },
    "technical_data": {
        "": ("GeneralInformation", "TechnicalPropertyAreas"),
        "GeneralInformation": ("ManufacturerName", "ManufacturerIdentifier", "WarrantyInformation", "BatteryCategory", "BatteryMass"),
        "TechnicalPropertyAreas": (
            "CapacityEnergyVoltage",
            "RoundTripEnergyEfficiency",
            "Resistance",
            "PowerCapability",
            "Temperature",
            "Lifetime",
        ),
        "TechnicalPropertyAreas.CapacityEnergyVoltage": ("NominalVoltage", "MinVoltage", "MaxVoltage", "RatedCapacity"),
    },
    "product_condition": {"": ("NumberOfFullCycles", "InformationOnAccidents", "TemperatureInformation", "StateOfCharge")},
    "material_composition": {"": ("BatteryChemistry", "BatteryMaterials", "HazardousSubstances")},
    "circularity": {
        "": (
            "DismantlingAndRemovalInformation",
            "SparePartSources",
            "RecycledContentInformation",
            "SafetyMeasures",
            "EndOfLifeInformation",
            "RenewableContent",
        ),
    },
}
#: The one member for Rinne's own data, as in the Battery Pass export.
EXTENSION = "extensions"
#: Fields only the ledger fills, even where it cannot (then they are left out): no declaration stands in for them.
LEDGER_ONLY: frozenset[str] = frozenset(
    {
        "digital_nameplate.URIOfTheProduct",
        "digital_nameplate.SerialNumber",
        "digital_nameplate.DateOfManufacture",
        "digital_nameplate.DateOfPuttingIntoService",
        "digital_nameplate.LifeCycleStage",
        "digital_nameplate.OperatorIdentifier",
        "digital_nameplate.ManufacturerIdentifier",
        "carbon_footprint.ProductCarbonFootprints",
        "technical_data.GeneralInformation.ManufacturerIdentifier",
        "technical_data.GeneralInformation.BatteryCategory",
        "technical_data.GeneralInformation.BatteryMass",
        "technical_data.TechnicalPropertyAreas.CapacityEnergyVoltage.CertifiedUsableBatteryEnergy",
        "product_condition.EnergyThroughput",
        "product_condition.NumberOfFullCycles",
        "product_condition.StateOfCertifiedEnergy",
        "product_condition.RemainingEnergy",
        "material_composition.BatteryMaterials",
        "circularity.RecycledContentInformation",
    }
)
#: Exported field path -> Annex XIII point (longest matching prefix decides), as the Battery Pass tiers do.
FIELD_POINT: dict[str, int] = {
    # Identity, manufacturer, date, declaration of conformity: point 1(a); status and putting into service come
    # from use: point 4; results of test reports: point 3.
    "digital_nameplate": 1,
    "digital_nameplate.LifeCycleStage": 4,
    "digital_nameplate.DateOfPuttingIntoService": 4,
    "digital_nameplate.ResultsOfTestReportsProvingCompliance": 3,
    # Handover documents can be dismantling manuals and test reports: held back to point 2 (the public
    # documents are named by identifier in the nameplate and circularity submodels).
    "handover_documentation": 2,
    "carbon_footprint": 1,  # Art. 7: point 1(c)
    "technical_data": 1,  # Annex VI Part A and the rated values of Annex IV Part A: point 1(a)
    "product_condition": 4,  # state of health and use: point 4(a)-(d)
    "material_composition": 1,  # chemistry, hazardous substances, critical raw materials: point 1(b)
    "circularity": 1,  # recycled and renewable content (Art. 8), end-of-life information: point 1
    "circularity.DismantlingAndRemovalInformation": 2,
    "circularity.SparePartSources": 2,
    "circularity.SafetyMeasures": 2,
    "extensions.rinne": 1,
}
#: Digital nameplate ``LifeCycleStage`` for the Battery Pass ``batteryStatus`` values.
LIFE_CYCLE_STAGE = {
    "Original": "original",
    "Repurposed": "repurposed",
    "Reused": "re-used",
    "Remanufactured": "remanufactured",
    "Waste": "waste",
}
#: IDTA-02023 life cycle phases (EN 15804 modules) of the four Art. 7 stages, keyed by Battery Pass stage.
LIFE_CYCLE_PHASES = {
    "RawMaterialExtraction": ["A1 - raw material supply (and upstream production)"],
    "MainProduction": ["A3 - production"],
    "Distribution": ["A4 - transport to final destination"],
    "Recycling": ["C1-C4"],
}
#: All four Art. 7 stages: the product stage (A1-A3), distribution (A4) and end of life (C1-C4).
ALL_PHASES = ["A1-A3", "A4 - transport to final destination", "C1-C4"]
#: How the ledger computes every carbon footprint it exports (docs/methodology.md).
PCF_METHOD = "Regulation (EU) 2023/1542 Art. 7; draft delegated act on the carbon footprint of EV batteries (April 2024)"
#: Language tag of texts that reach a multi-language field from a declaration without one: BCP 47 "und"
#: (undetermined), because a contact name or street carries no language and none is guessed.
UNDETERMINED = "und"


def _text(value: Any) -> list[dict[str, str]]:
    return [{UNDETERMINED: str(value)}]


def point_of(path: str) -> int:
    """Return the Annex XIII point of an IDTA field path (longest matching prefix in :data:`FIELD_POINT`)."""
    return point_in(FIELD_POINT, path)


def split_declarations(declarations: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a declarations document into its Battery Pass part and its IDTA submodel members (its ``idta``
    member, keyed by submodel name, each in the submodel's value-only shape); the document's shape is checked
    as the Battery Pass export checks it, and a declared ledger-only IDTA field is refused."""
    check_declarations(declarations)  # one document for both formats: the same judge of its shape
    rest = copy.deepcopy(dict(declarations or {}))
    idta: dict[str, Any] = rest.pop(IDTA_MEMBER, None) or {}
    refuse_ledger_only(idta, LEDGER_ONLY, f"declarations.{IDTA_MEMBER}.")
    return rest, idta


def _missing(payload: Any, required: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Required members left out, as dotted paths (``[]`` for list items), for the objects the export holds."""

    def nodes(node: Any, path: str) -> Iterator[Any]:
        head, _, tail = path.partition(".")
        if not head:
            yield node
            return
        key, items = (head[:-2], True) if head.endswith("[]") else (head, False)
        child = node.get(key) if isinstance(node, dict) else None
        for c in child if items and isinstance(child, list) else [child] if child is not None else []:
            yield from nodes(c, tail)

    out: list[str] = []
    for where, members in required.items():
        for node in nodes(payload, where):
            out += [
                f"{where}.{m}" if where else m
                for m in members
                if isinstance(node, dict) and m not in node and f"{where}.{m}" not in out
            ]
    return out


def idta_passport(
    source: Source,
    unit_id: str | bytes,
    *,
    at: int | None = None,
    chain_id: int | None = None,
    ledger_address: str | None = None,
    declarations: Mapping[str, Any] | None = None,
    art7: Art7Parameters | None = None,
    tier: str = "authority",
    identity: Disclosure | Openings | None = None,
    soh_openings: OpeningsSource | None = None,
) -> dict[str, dict[str, Any]]:
    """Export a battery unit's passport as the seven IDTA-02035 submodels (AAS value-only JSON): submodel name
    (:data:`SUBMODELS`: ``digital_nameplate`` IDTA-02035-1, ``handover_documentation`` -2, ``carbon_footprint`` -3,
    ``technical_data`` -4, ``product_condition`` -5, ``material_composition`` -6, ``circularity`` -7) -> payload,
    and Rinne's own data under ``extensions.rinne``.

    Every figure is the Battery Pass export's (same ledger, same rules): the Art. 7 footprint per kWh of lifetime
    energy and per stage, the absolute footprint, the Art. 8 recycled shares, element masses (in kg here), SOH.
    `declarations` is the Battery Pass export's document (parties, serialNumber, art7, ...); its ``idta`` member,
    keyed by submodel name, adds in each submodel's shape what only the economic operator can declare, and may
    never overwrite a ledger field. A field neither holds is left out; ``extensions.rinne.missingRequiredMembers``
    lists the schema-required members so left out. `tier` keeps only what that tier may see (Annex XIII).
    `identity` checks the declared serial and `soh_openings` opens the SOH records as
    :func:`ledger.exports.passport.battery_passport` does."""
    bp_decl, idta_decl = split_declarations(declarations)
    bp = battery_passport(
        source,
        unit_id,
        at=at,
        chain_id=chain_id,
        ledger_address=ledger_address,
        declarations=bp_decl,
        art7=art7,
        identity=identity,
        soh_openings=soh_openings,
    )
    g, cf, rinne = bp["generalProductInformation"], bp["carbonFootprint"], bp[EXTENSION]["rinne"]
    maker, operator = g["manufacturerInformation"], g["operatorInformation"]
    nameplate: dict[str, Any] = {"URIOfTheProduct": g["batteryPassportIdentifier"]}
    if "contactName" in maker:
        nameplate["ManufacturerName"] = _text(maker["contactName"])
    address = maker.get("postalAddress") or {}
    held_address: dict[str, Any] = {
        k: _text(address[a])
        for k, a in (("NationalCode", "addressCountry"), ("ZipCode", "postalCode"), ("Street", "streetAddress"))
        if a in address
    }
    if "emailAddress" in maker:
        held_address["Email"] = {"EmailAddress": maker["emailAddress"]}
    if "webAddress" in maker:
        held_address["AddressOfAdditionalLink"] = maker["webAddress"]
    if held_address:
        nameplate["AddressInformation"] = held_address
    serial = bp_decl.get("serialNumber")
    if serial is not None:  # battery_passport has checked it against the unit's on-chain serial hash
        nameplate["SerialNumber"] = str(serial)
    nameplate["DateOfManufacture"] = g["manufacturingDate"][:10]
    if "puttingIntoService" in g:
        nameplate["DateOfPuttingIntoService"] = g["puttingIntoService"][:10]
    nameplate["LifeCycleStage"] = LIFE_CYCLE_STAGE[g["batteryStatus"]]
    nameplate["OperatorIdentifier"] = operator["identifier"]
    nameplate["ManufacturerIdentifier"] = maker["identifier"]

    def pcf(co2e: float, unit: str, phases: list[str]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "PcfCalculationMethods": [PCF_METHOD],
            "PcfCo2eq": co2e,
            "ReferenceImpactUnitForCalculation": unit,
            "QuantityOfMeasureForCalculation": 1.0,
            "LifeCyclePhases": phases,
        }
        if "carbonFootprintPerformanceClass" in cf:
            entry["PerformanceClass"] = cf["carbonFootprintPerformanceClass"]
        if "carbonFootprintStudy" in cf:
            entry["WebLinkToPublicCarbonFootprintStudy"] = [cf["carbonFootprintStudy"]]
        return entry

    # The whole battery (one piece), then the Art. 7 figure per kWh of lifetime energy and its four stages.
    footprints = [pcf(cf["absoluteCarbonFootprint"], "piece", ALL_PHASES)]
    if "batteryCarbonFootprint" in cf:
        footprints.append(pcf(cf["batteryCarbonFootprint"], "kwH", ALL_PHASES))
        footprints += [
            pcf(s["carbonFootprint"], "kwH", LIFE_CYCLE_PHASES[s["lifecycleStage"]]) for s in cf["carbonFootprintPerLifecycleStage"]
        ]
    general: dict[str, Any] = {}
    if "contactName" in maker:
        general["ManufacturerName"] = str(maker["contactName"])
    general |= {
        "ManufacturerIdentifier": maker["identifier"],
        "BatteryCategory": g["batteryCategory"],
        "BatteryMass": g["batteryMass"],
    }
    rated = bp["performanceAndDurability"]["batteryTechicalProperties"]["ratedEnergy"]  # kWh in both models
    condition = bp["performanceAndDurability"].get("batteryCondition", {})
    product_condition = {
        idta: {f"{idta}Value": condition[key][f"{key}Value"], "LastUpdate": condition[key]["lastUpdate"]}
        for key, idta in (
            ("energyThroughput", "EnergyThroughput"),
            ("numberOfFullCycles", "NumberOfFullCycles"),
            ("stateOfCertifiedEnergy", "StateOfCertifiedEnergy"),
            ("remainingEnergy", "RemainingEnergy"),
        )
        if key in condition
    }
    materials = [
        {
            "BatteryMaterialLocation": {
                "ComponentName": m["batteryMaterialLocation"]["componentName"],
                "ComponentId": m["batteryMaterialLocation"]["componentId"],
            },
            "BatteryMaterialIdentifier": m["batteryMaterialIdentifier"],
            "BatteryMaterialName": m["batteryMaterialName"],
            "BatteryMaterialMass": m["batteryMaterialMass"] / 1000,  # kg here (WeightInKilogram); grams in Battery Pass
            "IsCriticalRawMaterial": m["isCriticalRawMaterial"],
        }
        for m in bp["materialComposition"]["batteryMaterials"]
    ]
    recycled = [
        {
            "PreConsumerShare": r["preConsumerShare"],
            "RecycledMaterial": r["recycledMaterial"],
            "PostConsumerShare": r["postConsumerShare"],
        }
        for r in bp["circularity"]["recycledContent"]
    ]
    held: dict[str, dict[str, Any]] = {
        "digital_nameplate": nameplate,
        "handover_documentation": {},
        "carbon_footprint": {"ProductCarbonFootprints": footprints},
        "technical_data": {
            "GeneralInformation": general,
            "TechnicalPropertyAreas": {"CapacityEnergyVoltage": {"CertifiedUsableBatteryEnergy": rated}},
        },
        "product_condition": product_condition,
        "material_composition": {"BatteryMaterials": materials},
        "circularity": {"RecycledContentInformation": recycled},
    }
    doc: dict[str, dict[str, Any]] = {k: merge_declared(held[k], idta_decl.get(k), k) for k in SUBMODELS}
    missing = {k: m for k in SUBMODELS if (m := _missing(doc[k], REQUIRED[k]))}
    doc[EXTENSION] = {
        "rinne": {
            **{k: rinne[k] for k in ("chainId", "ledger", "unitId", "label", "serialHash", "assurance", "footprintJudgedAt")},
            "batteryPassportIdentifier": g["batteryPassportIdentifier"],
            "submodels": {k: {"part": part, "semanticId": urn} for k, (part, urn, _) in SUBMODELS.items()},
            # Required members neither the ledger nor a declaration supplied: left out, never invented.
            "missingRequiredMembers": missing,
            "art7": {k: rinne["art7"][k] for k in ("lifetimeEnergyKwh", "cyclesPerYear", "serviceYears", "missing")},
        }
    }
    return filter_tier(doc, tier, point_of)
