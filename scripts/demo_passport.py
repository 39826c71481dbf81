"""The demo's passports: the operators' declarations of a pack (what the passport needs that the ledger does
not hold) and the files written from them. Split out of ``demo.py`` so the passport data reads on its own.

Every company, address, link and rated value here is fictional demo data: the example.com links lead nowhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from ledger import EventIndex, Ledger, battery_passport, passport_html

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
#: Off until the demo's declarations carry what only IDTA-02035 asks of an operator (the nameplate's address
#: parts, handover documents: ``ledger.idta_passport`` takes them as members named after each submodel); on,
#: the demo also writes the IDTA-02035 submodels of each passport unit (:func:`write_idta_passport`).
IDTA_EXPORT = False
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
            "lifetimeReferenceTest": f"{_DOCS}/{PACK_MODEL}/lifetime-test-IEC62660-1.pdf",
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
    return {
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
                {
                    "documentType": "DismantlingManual",
                    "mimeType": "application/pdf",
                    "documentURL": f"{_DOCS}/{PACK_MODEL}/dismantling.pdf",
                },
                {"documentType": "BillOfMaterial", "mimeType": "text/csv", "documentURL": f"{_DOCS}/{PACK_MODEL}/bom.csv"},
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
                "safetyInstructions": f"{_DOCS}/{PACK_MODEL}/safety-instructions.pdf",
                "extinguishingAgent": ["Water (large quantities, for cooling)"],
            },
            "endOfLifeInformation": {
                "wastePrevention": "https://pack-assembly.example.com/end-of-life/prevention",
                "separateCollection": "https://pack-assembly.example.com/end-of-life/collection",
                "informationOnCollection": "https://pack-assembly.example.com/end-of-life/take-back",
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
            "declarationOfConformity": f"{_DOCS}/{PACK_MODEL}/EU-DoC-{PACK_MODEL}-2026-001.pdf",
            "resultOfTestReport": f"{_DOCS}/{PACK_MODEL}/test-report-2026-001.pdf",
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


def write_passport(demo: DemoLike, index: EventIndex, unit: str) -> dict[str, Any]:
    """Write a unit's Battery Pass passport with its operators' declarations (JSON and HTML) and the
    declarations themselves; return the declarations."""
    d = demo.base.deployment
    held = battery_passport(index, unit, chain_id=d.chain_id, ledger_address=d.ledger)
    decl = operator_declarations(demo, held)
    doc = battery_passport(index, unit, chain_id=d.chain_id, ledger_address=d.ledger, declarations=decl)
    (demo.out / f"{unit}-declarations.json").write_text(json.dumps(decl, indent=2))
    (demo.out / f"{unit}-passport.json").write_text(json.dumps(doc, indent=2))
    (demo.out / f"{unit}-passport.html").write_text(passport_html(doc))
    return decl


def write_idta_passport(demo: DemoLike, index: EventIndex, unit: str, declarations: dict[str, Any]) -> None:
    """Write a unit's IDTA-02035 submodels (Digital Battery Passport, parts 1-7) to ``<unit>-idta.json``."""
    import ledger as provenance

    d = demo.base.deployment
    doc = provenance.idta_passport(index, unit, chain_id=d.chain_id, ledger_address=d.ledger, declarations=declarations)
    (demo.out / f"{unit}-idta.json").write_text(json.dumps(doc, indent=2))
