"""The demo's passports: the operators' declarations of a pack (what the passport needs that the ledger does
not hold) and the files written from them. Split out of ``demo.py`` so the passport data reads on its own.

Every company, address, link and rated value here is fictional demo data: the example.com links lead nowhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger import EventIndex, Ledger, battery_passport, passport_html, unit_record_id

#: A pack's rated energy in Wh (the ledger holds it; the declarations derive the rated capacity from it).
PACK_WH = 75_000


class DemoLike(Protocol):
    """What the passport writers need of the demo: its output folder, its ledger and the parties' addresses."""

    base: Ledger
    out: Path

    def addr(self, name: str) -> str:
        """The address of the demo party `name`."""
        ...


def serial_of(pack: str) -> str:
    """The serial a pack is built with (its hash is on the ledger; the passport declares the serial itself)."""
    return f"SN-{pack}-2026"


#: The units whose passports the demo writes (a recycled unit has none: Art. 77(8)).
PASSPORT_UNITS = ("LF005",)
#: The demo also writes the IDTA-02035 submodels of each passport unit (:func:`write_idta_passport`), from the
#: same declarations: what only IDTA-02035 asks of an operator (the nameplate's city and facility, markings,
#: handover documents, ...) is their ``idta`` member (:func:`idta_declarations`).
IDTA_EXPORT = True
#: The pack model (Annex VI Part A(1)). Battery Pass 1.2.0 has no model attribute and the declarations
#: document no key for it, so it appears only in the declared part numbers and document names.
PACK_MODEL = "LF-NMC811-75"
#: Nominal pack voltage (a 96s NMC811 pack): with the ledger's rated energy it gives the rated capacity in Ah.
NOMINAL_V = 355.0
#: Art. 7 functional-unit inputs: usable energy at beginning of life, the passenger-car category (the draft
#: delegated act's 60 full cycles a year) and the 8-year commercial warranty as the years of service.
#: The performance-class bands are the demo's own, in kg CO2e per kWh of lifetime energy, until the
#: delegated act fixes them (Art. 7(2)); the last band is a catch-all so every pack gets a class.
ART7 = {
    "usableEnergyKwh": 72.0,
    "vehicleCategory": "M1",
    "serviceYears": 8,
    "classBands": [[0.12, "A"], [0.16, "B"], [0.20, "C"], [0.25, "D"], [1_000.0, "E"]],
}
#: Contact entities of the parties, by demo name (the ledger holds their accounts, not their names). All
#: fictional. No emailAddress: Battery Pass 1.2.0's pattern for it lost its backslashes upstream
#: (``^[w.-]+@...``) and rejects every real address, so the contact is the web address.
COMPANIES: dict[str, dict[str, Any]] = {
    "packs": {
        "contactName": "Pack Assembly Plant GmbH (fictional)",
        "postalAddress": {"addressCountry": "DE", "postalCode": "01099", "streetAddress": "Beispielweg 7, Dresden"},
        "webAddress": "https://pack-assembly.example.com/contact",
    },
    "oem": {
        "contactName": "EV Maker AG (fictional)",
        "postalAddress": {"addressCountry": "DE", "postalCode": "80331", "streetAddress": "Musterstrasse 1, Munich"},
        "webAddress": "https://ev-maker.example.com/contact",
    },
    "cathode": {
        "contactName": "Cathode Materials Co Oy (fictional)",
        "postalAddress": {"addressCountry": "FI", "postalCode": "67100", "streetAddress": "Esimerkkikatu 3, Kokkola"},
        "webAddress": "https://cathode-materials.example.com/contact",
    },
}
_DOCS = "https://docs.pack-assembly.example.com"
#: Where the pack assembler's document identifiers are unique (IDTA-02035-2 ``DocumentDomainId``).
_DOC_DOMAIN = "pack-assembly.example.com"
#: The pack assembler's plant 2 (the manufacturing place) as a GS1 Global Location Number: 13 digits, the
#: last a check digit, under a company prefix no one holds (IDTA-02035-1 ``UniqueFacilityIdentifier``).
FACILITY_GLN = "4099999000029"
#: The city of the pack assembler's address. Battery Pass 1.2.0's postal address has no city member (the
#: declarations write it into ``streetAddress``); the IDTA-02035-1 nameplate requires ``CityTown``.
MAKER_CITY = "Dresden"
#: Fictional: initial internal resistance of one cell and of one 12s module (ohm; the pack's is in
#: ``operator_declarations``). 96 cells in series, two in parallel: 96 x 1.7 mOhm / 2 plus the busbars.
CELL_OHM, MODULE_OHM = 0.0017, 0.0105


@dataclass(frozen=True)
class Document:
    """One of the operator's documents, written once: the Battery Pass export links to its file, IDTA-02035 names
    it by identifier and lists it, classified after VDI 2770 Blatt 1:2020, in the handover documentation."""

    identifier: str
    vdi2770_class: tuple[str, str]  # class id, class name
    title: str
    file: str
    mime: str = "application/pdf"


def _doc(name: str, vdi2770_class: tuple[str, str], title: str, mime: str = "application/pdf") -> Document:
    ext = {"application/pdf": "pdf", "text/csv": "csv"}[mime]
    return Document(f"{PACK_MODEL}-{name.upper()}", vdi2770_class, title, f"{_DOCS}/{PACK_MODEL}/{name}.{ext}", mime)


_CERTIFICATES = ("02-04", "Certificates, certifications, attestations")
_DISASSEMBLY = ("03-01", "Assembly, disassembly")
_DECOMMISSIONING = ("03-04", "Commissioning, decommissioning")
DOCUMENTS: dict[str, Document] = {
    "conformity": _doc("eu-doc-2026-001", _CERTIFICATES, "EU declaration of conformity"),
    "test_report": _doc("test-report-2026-001", _CERTIFICATES, "Results of test reports proving compliance"),
    "lifetime_test": _doc("lifetime-test-iec62660-1", _CERTIFICATES, "Cycle-life test (IEC 62660-1)"),
    "dismantling": _doc("dismantling", _DISASSEMBLY, "Dismantling manual"),
    "bill_of_material": _doc("bom", ("02-03", "Components"), "Bill of material", "text/csv"),
    "safety": _doc("safety-instructions", ("03-03", "General safety"), "Safety instructions"),
    "waste_prevention": _doc("end-of-life-waste-prevention", _DECOMMISSIONING, "End of life: waste prevention"),
    "separate_collection": _doc("end-of-life-separate-collection", _DECOMMISSIONING, "End of life: separate collection"),
    "take_back": _doc("end-of-life-take-back", _DECOMMISSIONING, "End of life: collection and take-back"),
}


def _bms_readout(condition: dict[str, Any]) -> dict[str, Any]:
    """The rest of the battery condition, as the battery management system reports it at the same diagnosis
    the ledger recorded (same time, consistent with its SOCE, cycles and throughput). Fictional values."""
    t = condition["stateOfCertifiedEnergy"]["lastUpdate"]
    soce = condition["stateOfCertifiedEnergy"]["stateOfCertifiedEnergyValue"]
    return {
        "capacityThroughput": {
            "capacityThroughputValue": condition["energyThroughput"]["energyThroughputValue"] * 1000 / NOMINAL_V,
            "lastUpdate": t,
        },
        "capacityFade": {"capacityFadeValue": round(100 - soce, 2), "lastUpdate": t},
        # The model gives remaining capacity in kWh; at nominal voltage that is the remaining energy.
        "remainingCapacity": {"remainingCapacityValue": condition["remainingEnergy"]["remainingEnergyValue"], "lastUpdate": t},
        "negativeEvents": [],  # no accident or deep discharge logged
        "temperatureInformation": {
            "timeExtremeHighTemp": 0.0,
            "timeExtremeLowTemp": 95.0,  # minutes below -20 C: one winter morning
            "timeExtremeHighTempCharging": 0.0,
            "timeExtremeLowTempCharging": 0.0,
            "lastUpdate": t,
        },
        "remainingPowerCapability": {
            "remainingPowerCapabilityValue": {"atSoC": 80.0, "powerCapabilityAt": 99.2, "rPCLastUpdated": t},
            "lastUpdate": t,
        },
        "evolutionOfSelfDischarge": {"evolutionOfSelfDischargeValue": 0.5, "lastUpdate": t},
        "currentSelfDischargingRate": {"currentSelfDischargingRateValue": 2.01, "lastUpdate": t},
        "internalResistanceIncrease": [{"internalResistanceIncreaseValue": 1.1, "lastUpdate": t, "batteryComponent": "pack"}],
        "remainingRoundTripEnergyEfficiency": {"remainingRoundTripEnergyEfficiencyValue": 94.7, "lastUpdate": t},
        "stateOfCharge": {"stateOfChargeValue": 64.0, "lastUpdate": t},
    }


def operator_declarations(demo: DemoLike, held: dict[str, Any]) -> dict[str, Any]:
    """The declarations of a pack's economic operators: what the passport needs that the ledger does not hold
    (Annex VI Part A, Annex XIII, Art. 7), given the pack's ledger-only export `held`.

    Nothing here stands in for a ledger figure (the export refuses that): the identity checks against the
    on-chain serial hash, and the condition values only complete the diagnosis the ledger recorded."""
    unit = held["extensions"]["rinne"]["label"]
    perf: dict[str, Any] = {
        # Rated values of the model (Annex IV Part A); rated energy itself is the ledger's.
        "batteryTechicalProperties": {
            "originalPowerCapability": [{"atSoC": 80.0, "powerCapabilityAt": 100.0}, {"atSoC": 20.0, "powerCapabilityAt": 100.0}],
            "ratedMaximumPower": 150.0,  # kW
            "powerCapabilityRatio": 200.0,  # 150 kW over 75 kWh, in the model's percent
            "expectedNumberOfCycles": 2_000,
            "initialSelfDischarge": 2.0,  # percent a month
            "roundtripEfficiency": 95.0,
            "ratedCapacity": round(PACK_WH / NOMINAL_V, 1),  # Ah
            "initialInternalResistance": [{"ohmicResistance": 0.085, "batteryComponent": "pack"}],
            "expectedLifetime": 12,  # years
            "nominalVoltage": NOMINAL_V,
            "minimumVoltage": 260.0,
            "maximumVoltage": 403.0,
            "capacityThresholdForExhaustion": 70.0,  # percent SOCE
            "lifetimeReferenceTest": DOCUMENTS["lifetime_test"].file,
            "cRateLifeCycleTest": 0.33,
            "temperatureRangeIdleState": {"minimum": -30.0, "maximum": 60.0},
            "roundTripEfficiencyat50PerCentCycleLife": 93.0,
            "roundTripEfficiencyFade": 2.0,
            "powerFade": 0.0,
        },
    }
    condition = held["performanceAndDurability"].get("batteryCondition")
    if condition:  # no diagnosis on the ledger: nothing for the read-out to complete
        perf["batteryCondition"] = _bms_readout(condition)
    decl: dict[str, Any] = {
        "serialNumber": serial_of(unit),
        # ISO/IEC 15459: "UN" is the D-U-N-S agency; 999999999 stands for a company number (not a real one).
        "uniqueIdentifier": {"issuingAgencyCode": "UN", "companyIdentifier": "999999999"},
        "passportBaseUrl": "https://passport.pack-assembly.example.com/b",
        "parties": {demo.addr(name): contact for name, contact in COMPANIES.items()},
        "art7": ART7,
        "generalProductInformation": {
            "manufacturingPlace": {
                "addressCountry": "DE",
                "postalCode": "01109",
                "streetAddress": "Werkstrasse 12, Dresden (plant 2)",
            },
            # The model types the warranty as an xsd:gMonth (--MM); --08 stands for the 8 years of ART7.
            "warrentyPeriod": "--08",
        },
        "carbonFootprint": {"carbonFootprintStudy": f"{_DOCS}/{PACK_MODEL}/carbon-footprint-study-2026.pdf"},
        "circularity": {
            "dismantlingAndRemovalInformation": [
                {"documentType": kind, "mimeType": DOCUMENTS[doc].mime, "documentURL": DOCUMENTS[doc].file}
                for kind, doc in (("DismantlingManual", "dismantling"), ("BillOfMaterial", "bill_of_material"))
            ],
            "sparePartSources": [
                {
                    "nameOfSupplier": COMPANIES["packs"]["contactName"],
                    "addressOfSupplier": COMPANIES["packs"]["postalAddress"],
                    "emailAddressOfSupplier": "spares@pack-assembly.example.com",
                    "supplierWebAddress": "https://pack-assembly.example.com/spares",
                    "components": [
                        {"partName": "Battery module 12s", "partNumber": f"{PACK_MODEL}-M12"},
                        {"partName": "Battery management system", "partNumber": f"{PACK_MODEL}-BMS"},
                    ],
                }
            ],
            "safetyMeasures": {
                "safetyInstructions": DOCUMENTS["safety"].file,
                "extinguishingAgent": ["Water (large quantities, for cooling)"],
            },
            "endOfLifeInformation": {
                "wastePrevention": DOCUMENTS["waste_prevention"].file,
                "separateCollection": DOCUMENTS["separate_collection"].file,
                "informationOnCollection": DOCUMENTS["take_back"].file,
            },
            "renewableContent": 0.0,  # percent: no bio-based material in the pack
        },
        "materialComposition": {
            "batteryChemistry": {"shortName": "NMC811", "clearName": "Lithium nickel manganese cobalt oxide (8:1:1) / graphite"},
            "hazardousSubstances": [
                {
                    "hazardousSubstanceClass": "AcuteToxicity",
                    "hazardousSubstanceName": "Lithium hexafluorophosphate",
                    "hazardousSubstanceConcentration": 1.2,  # percent of the pack mass
                    "hazardousSubstanceImpact": ["H301 Toxic if swallowed", "H314 Causes severe skin burns and eye damage"],
                    "hazardousSubstanceLocation": {"componentName": "Electrolyte", "componentId": f"{PACK_MODEL}-M12"},
                    "hazardousSubstanceIdentifier": "21324-40-3",
                }
            ],
        },
        "labels": {
            "declarationOfConformity": DOCUMENTS["conformity"].file,
            "resultOfTestReport": DOCUMENTS["test_report"].file,
            "labels": [
                {
                    "labelingSubject": "SeparateCollection",
                    "labelingSymbol": f"{_DOCS}/symbols/crossed-out-wheeled-bin.svg",
                    "labelingMeaning": {"en": "Collect separately from other waste (Art. 13, Annex VI Part A)"},
                },
                {
                    "labelingSubject": "CarbonFootPrint",
                    "labelingSymbol": f"{_DOCS}/symbols/carbon-footprint-class.svg",
                    "labelingMeaning": {"en": "Carbon footprint performance class (Art. 7(2))"},
                },
            ],
        },
        "performanceAndDurability": perf,
        "supplyChainDueDiligence": {
            "supplyChainDueDiligenceReport": "https://pack-assembly.example.com/due-diligence/report-2026.pdf",
            "thirdPartyAussurances": "https://pack-assembly.example.com/due-diligence/assurance-2026.pdf",
        },
    }
    decl["idta"] = idta_declarations(decl)
    return decl


def _texts(value: str, lang: str = "und") -> list[dict[str, str]]:
    """A multi-language text of one entry; ``und`` (BCP 47: undetermined) for names and address parts."""
    return [{lang: value}]


def idta_declarations(bp: dict[str, Any]) -> dict[str, Any]:
    """The ``idta`` member of a pack's declarations: what IDTA-02035 asks of the operator, read from the same
    values as the Battery Pass declarations `bp` (one source: the two exports cannot disagree), in each
    submodel's shape and units, plus what only IDTA-02035 asks for (city, facility, markings, the documents
    by identifier and their handover documentation). The ledger's own fields are left to the ledger."""
    tp = bp["performanceAndDurability"]["batteryTechicalProperties"]
    condition = bp["performanceAndDurability"].get("batteryCondition")
    circ, mc, labels = bp["circularity"], bp["materialComposition"], bp["labels"]
    symbol = {label["labelingSubject"]: label["labelingSymbol"] for label in labels["labels"]}
    ids = {k: [d.identifier] for k, d in DOCUMENTS.items()}
    nameplate = {
        # The rest of the address comes from the maker's contact entity (parties), merged by the export.
        "AddressInformation": {"CityTown": _texts(MAKER_CITY, "de")},
        "UniqueFacilityIdentifier": FACILITY_GLN,
        "Markings": [
            {
                "MarkingName": "CE marking",
                "DesignationOfCertificateOrApproval": DOCUMENTS["conformity"].identifier,
                "MarkingFile": {"value": f"{_DOCS}/symbols/ce-marking.svg", "contentType": "image/svg+xml"},
            },
            {
                "MarkingName": "Separate collection (crossed-out wheeled bin)",
                "MarkingFile": {"value": symbol["SeparateCollection"], "contentType": "image/svg+xml"},
            },
        ],
        "EUDeclarationOfConformity": ids["conformity"],
        "ResultsOfTestReportsProvingCompliance": ids["test_report"],
    }
    handover = {
        "Documents": [
            {
                "DocumentIds": [{"DocumentDomainId": _DOC_DOMAIN, "DocumentIdentifier": d.identifier, "DocumentIsPrimary": True}],
                "DocumentClassifications": [
                    {
                        "ClassId": d.vdi2770_class[0],
                        "ClassName": _texts(d.vdi2770_class[1], "en"),
                        "ClassificationSystem": "VDI2770 Blatt 1:2020",
                    }
                ],
                "DocumentVersions": [
                    {
                        "Language": ["en"],
                        "Version": "1.0",
                        "Title": _texts(d.title, "en"),
                        "DigitalFiles": [{"value": d.file, "contentType": d.mime}],
                    }
                ],
            }
            for d in DOCUMENTS.values()
        ]
    }
    increase = (condition or {}).get("internalResistanceIncrease") or [{"internalResistanceIncreaseValue": 0.0}]
    technical = {
        # The warranty the Art. 7 service years stand for, as an ISO 8601 duration (Battery Pass: --08).
        "GeneralInformation": {"WarrantyInformation": {"WarrantyPeriod": f"P{ART7['serviceYears']}Y"}},
        "TechnicalPropertyAreas": {
            "CapacityEnergyVoltage": {
                "NominalVoltage": tp["nominalVoltage"],
                "MinVoltage": tp["minimumVoltage"],
                "MaxVoltage": tp["maximumVoltage"],
                "RatedCapacity": tp["ratedCapacity"],
            },
            "RoundTripEnergyEfficiency": {
                "InitialRoundTripEnergyEfficiency": tp["roundtripEfficiency"],
                "RoundTripEnergyEfficiencyAt50PercentOfCycleLife": tp["roundTripEfficiencyat50PerCentCycleLife"],
                "EnergyRoundTripEfficiencyFade": tp["roundTripEfficiencyFade"],
                "InitialSelfDischargingRate": tp["initialSelfDischarge"],
            },
            "Resistance": {
                "InitialInternalResistanceAtBatteryCellLevel": CELL_OHM,
                "InitialInternalResistanceAtBatteryPackLevel": tp["initialInternalResistance"][0]["ohmicResistance"],
                "InitialInternalResistanceAtBatteryModuleLevel": MODULE_OHM,
                # Percent since beginning of life, as the BMS read it at the ledger's last diagnosis.
                "InternalResistanceIncreaseAtBatteryPackLevel": increase[0]["internalResistanceIncreaseValue"],
            },
            "PowerCapability": {
                # IDTA-02035-4 gives power in W; Battery Pass in kW, the original capability in percent of it.
                "MaximumPermittedBatteryPower": tp["ratedMaximumPower"] * 1000,
                "PowerFade": tp["powerFade"],
                "RatioNominalBatteryPowerAndBatteryEnergy": tp["powerCapabilityRatio"],  # percent in both
                "OriginalPowerCapability": [
                    {"atSoC": c["atSoC"], "powerCapabilityAt": tp["ratedMaximumPower"] * 1000 * c["powerCapabilityAt"] / 100}
                    for c in tp["originalPowerCapability"]
                ],
            },
            "Temperature": {
                "TemperatureRangeIdleState_LowerBoundary": tp["temperatureRangeIdleState"]["minimum"],
                "TemperatureRangeIdleState_UpperBoundary": tp["temperatureRangeIdleState"]["maximum"],
            },
            "Lifetime": {
                "ExpectedLifetimeInCalendarYears": tp["expectedLifetime"],
                "ExpectedNumberOfCycles": tp["expectedNumberOfCycles"],
                "CapacityThresholdExhaustion": tp["capacityThresholdForExhaustion"],
                "CycleLifeReferenceTest": ids["lifetime_test"],
                "CrateOfRelevantCycleLifeTest": tp["cRateLifeCycleTest"],
            },
        },
    }
    # No accident recorded: an empty list of accident reports (the member is required).
    product_condition: dict[str, Any] = {"InformationOnAccidents": []}
    if condition:  # the BMS read-out of the ledger's last diagnosis; the ledger's own values are its own
        t = condition["stateOfCharge"]["lastUpdate"]
        temp = condition["temperatureInformation"]
        rpc = condition["remainingPowerCapability"]["remainingPowerCapabilityValue"]

        def value(key: str, name: str) -> dict[str, Any]:
            return {f"{name}Value": condition[key][f"{key}Value"], "LastUpdate": condition[key]["lastUpdate"]}

        product_condition |= {
            "CapacityThroughput": value("capacityThroughput", "CapacityThroughput"),
            "RemainingCapacity": value("remainingCapacity", "RemainingCapacity"),
            "NegativeEvents": [
                {"NegativeEventValue": e["negativeEvent"], "LastUpdate": e["lastUpdate"]} for e in condition["negativeEvents"]
            ],
            "TemperatureInformation": {
                "TimeExtremeHighTemp": temp["timeExtremeHighTemp"],
                "TimeExtremeLowTemp": temp["timeExtremeLowTemp"],
                "TimeExtremeHighTempCharging": temp["timeExtremeHighTempCharging"],
                "TimeExtremeLowTempCharging": temp["timeExtremeLowTempCharging"],
                "LastUpdate": temp["lastUpdate"],
            },
            "RemainingPowerCapability": {
                "RemainingPowerCapabilityValue": {
                    "AtSoC": rpc["atSoC"],
                    "PowerCapabilityAt": rpc["powerCapabilityAt"],
                    "RPCLastUpdated": rpc["rPCLastUpdated"],
                },
                "LastUpdate": t,
            },
            "EvolutionOfSelfDischarge": value("evolutionOfSelfDischarge", "EvolutionOfSelfDischarge"),
            "CurrentSelfDischargingRate": value("currentSelfDischargingRate", "CurrentSelfDischargingRate"),
            "RemainingRoundTripEnergyEfficiency": value("remainingRoundTripEnergyEfficiency", "RemainingRoundTripEnergyEfficiency"),
            "StateOfCharge": value("stateOfCharge", "StateOfCharge"),
        }
    materials = {
        "BatteryChemistry": {"ShortName": mc["batteryChemistry"]["shortName"], "ClearName": mc["batteryChemistry"]["clearName"]},
        "HazardousSubstances": [
            {
                "HazardousSubstanceClass": h["hazardousSubstanceClass"],
                "HazardousSubstanceName": h["hazardousSubstanceName"],
                "HazardousSubstanceIdentifier": h["hazardousSubstanceIdentifier"],
                "HazardousSubstanceConcentration": h["hazardousSubstanceConcentration"],
                "HazardousSubstanceImpact": h["hazardousSubstanceImpact"],
                "HazardousSubstanceLocation": {
                    "ComponentName": h["hazardousSubstanceLocation"]["componentName"],
                    "ComponentId": h["hazardousSubstanceLocation"]["componentId"],
                },
            }
            for h in mc["hazardousSubstances"]
        ],
    }
    circularity = {
        "DismantlingAndRemovalInformation": ids["dismantling"] + ids["bill_of_material"],
        "SparePartSources": [
            {
                "NameOfSupplier": _texts(src["nameOfSupplier"]),
                "AddressOfSupplier": {
                    "NationalCode": _texts(src["addressOfSupplier"]["addressCountry"]),
                    "PostalCode": _texts(src["addressOfSupplier"]["postalCode"]),
                    "Street": _texts(src["addressOfSupplier"]["streetAddress"]),
                },
                "EmailAddressOfSupplier": {"EmailAddress": src["emailAddressOfSupplier"]},
                "SupplierWebAddress": src["supplierWebAddress"],
                "Components": [{"PartName": c["partName"], "PartNumber": c["partNumber"]} for c in src["components"]],
            }
            for src in circ["sparePartSources"]
        ],
        "SafetyMeasures": {"SafetyInstructions": ids["safety"], "ExtinguishingAgents": circ["safetyMeasures"]["extinguishingAgent"]},
        "EndOfLifeInformation": {
            "WastePrevention": ids["waste_prevention"],
            "SeparateCollection": ids["separate_collection"],
            "InformationOnCollection": ids["take_back"],
        },
        "RenewableContent": circ["renewableContent"],
    }
    return {
        "digital_nameplate": nameplate,
        "handover_documentation": handover,
        "technical_data": technical,
        "product_condition": product_condition,
        "material_composition": materials,
        "circularity": circularity,
    }


def _chain(demo: DemoLike) -> dict[str, Any]:
    """The chain id and ledger address a passport names (the demo deploys before it writes any)."""
    d = demo.base.deployment
    if d is None:
        raise RuntimeError("the demo's ledger is not deployed yet")
    return {"chain_id": d.chain_id, "ledger_address": d.ledger}


def write_passport(demo: DemoLike, index: EventIndex, unit: str) -> dict[str, Any]:
    """Write a unit's Battery Pass passport with its operators' declarations (JSON and HTML) and the
    declarations themselves; return the declarations."""
    chain = _chain(demo)
    held = battery_passport(index, unit, **chain, soh_openings=demo.base)
    decl = operator_declarations(demo, held)
    # The unit's serial is a salted commitment on-chain: its opening (kept by the ledger that built the unit)
    # checks the declared serial and puts the serial with its proof in the passport.
    identity = demo.base.openings(unit_record_id(unit))
    # The SOH records open with the ledger's own openings, each verified against its root on-chain.
    doc = battery_passport(index, unit, **chain, declarations=decl, identity=identity, soh_openings=demo.base)
    (demo.out / f"{unit}-declarations.json").write_text(json.dumps(decl, indent=2))
    (demo.out / f"{unit}-passport.json").write_text(json.dumps(doc, indent=2))
    (demo.out / f"{unit}-passport.html").write_text(passport_html(doc))
    return decl


def write_idta_passport(demo: DemoLike, index: EventIndex, unit: str, declarations: dict[str, Any]) -> None:
    """Write a unit's IDTA-02035 submodels (Digital Battery Passport, parts 1-7) to ``<unit>-idta.json``."""
    import ledger as provenance

    chain = _chain(demo)
    identity = demo.base.openings(unit_record_id(unit))
    doc = provenance.idta_passport(index, unit, **chain, declarations=declarations, identity=identity, soh_openings=demo.base)
    (demo.out / f"{unit}-idta.json").write_text(json.dumps(doc, indent=2))
