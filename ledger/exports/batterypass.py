"""Battery Pass data model 1.2.0 (Performance and durability 1.2.1): aspect names, reference tables,
the merge of declared (off-ledger) data, and the Annex XIII access tier of every exported field.

The models are the Battery Pass consortium's SAMM aspects (github.com/batterypass/BatteryPassDataModel,
CC BY 4.0). Their generated JSON Schemas are the judge in tests/provenance/test_passport_schemas.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from ledger import errors

#: Passport member -> (aspect model URN, schema file under standards/batterypass/). One member per aspect.
ASPECTS: dict[str, tuple[str, str]] = {
    "generalProductInformation": (
        "urn:samm:io.BatteryPass.GeneralProductInformation:1.2.0#GeneralProductInformation",
        "io.BatteryPass.GeneralProductInformation/1.2.0/gen/GeneralProductInformation-schema.json",
    ),
    "carbonFootprint": (
        "urn:samm:io.BatteryPass.CarbonFootprint:1.2.0#CarbonFootprintForBatteries",
        "io.BatteryPass.CarbonFootprint/1.2.0/gen/CarbonFootprintForBatteries-schema.json",
    ),
    "circularity": (
        "urn:samm:io.BatteryPass.Circularity:1.2.0#Circularity",
        "io.BatteryPass.Circularity/1.2.0/gen/Circularity-schema.json",
    ),
    "materialComposition": (
        "urn:samm:io.BatteryPass.MaterialComposition:1.2.0#MaterialComposition",
        "io.BatteryPass.MaterialComposition/1.2.0/gen/MaterialComposition-schema.json",
    ),
    "labels": ("urn:samm:io.BatteryPass.Labels:1.2.0#Labeling", "io.BatteryPass.Labels/1.2.0/gen/Labeling-schema.json"),
    "performanceAndDurability": (
        "urn:samm:io.BatteryPass.Performance:1.2.1#PerformanceAndDurability",
        "io.BatteryPass.Performance/1.2.1/gen/PerformanceAndDurability.schema",
    ),
    "supplyChainDueDiligence": (
        "urn:samm:io.BatteryPass.SupplyChainDueDiligence:1.2.0#SupplyChainDueDiligence",
        "io.BatteryPass.SupplyChainDueDiligence/1.2.0/gen/SupplyChainDueDiligence-schema.json",
    ),
}
#: Top-level required members of each aspect schema (transcribed; a test checks them against the schemas), so
#: an export can say which ones neither the ledger nor a declaration supplied.
REQUIRED: dict[str, tuple[str, ...]] = {
    "generalProductInformation": (
        "productIdentifier",
        "batteryPassportIdentifier",
        "batteryCategory",
        "manufacturerInformation",
        "manufacturingDate",
        "batteryStatus",
        "batteryMass",
        "manufacturingPlace",
        "operatorInformation",
        "puttingIntoService",
        "warrentyPeriod",
    ),
    "carbonFootprint": (
        "batteryCarbonFootprint",
        "carbonFootprintPerLifecycleStage",
        "carbonFootprintPerformanceClass",
        "carbonFootprintStudy",
    ),
    "circularity": (
        "dismantlingAndRemovalInformation",
        "sparePartSources",
        "recycledContent",
        "safetyMeasures",
        "endOfLifeInformation",
        "renewableContent",
    ),
    "materialComposition": ("batteryChemistry", "batteryMaterials", "hazardousSubstances"),
    "labels": ("declarationOfConformity", "resultOfTestReport", "labels"),
    "performanceAndDurability": ("batteryTechicalProperties", "batteryCondition"),
    "supplyChainDueDiligence": ("supplyChainDueDiligenceReport",),
}
#: The one member for Rinne's own data (everything not in an aspect model).
EXTENSION = "extensions"

#: CAS registry numbers of the tracked elements (MaterialComposition ``batteryMaterialIdentifier``).
CAS_NUMBER: dict[str, str] = {
    "Li": "7439-93-2",
    "Ni": "7440-02-0",
    "Co": "7440-48-4",
    "Mn": "7439-96-5",
    "C": "7440-44-0",
    "Fe": "7439-89-6",
    "Cu": "7440-50-8",
    "Al": "7429-90-5",
}
ELEMENT_NAME: dict[str, str] = {
    "Li": "Lithium",
    "Ni": "Nickel",
    "Co": "Cobalt",
    "Mn": "Manganese",
    "C": "Carbon",
    "Fe": "Iron",
    "Cu": "Copper",
    "Al": "Aluminium",
}
#: Critical raw materials of Regulation (EU) 2024/1252 (Critical Raw Materials Act) Annex II, for the tracked
#: elements (MaterialComposition ``isCriticalRawMaterial``; Annex VI Part A(10) of 2023/1542). Lithium,
#: cobalt, manganese, copper, "nickel - battery grade" and "bauxite/alumina/aluminium" are listed; iron is not.
#: Carbon is left out of ``batteryMaterials``: only *natural* graphite is critical, and the ledger holds the
#: element, not whether its graphite is natural or synthetic (the flag would be invented either way).
CRITICAL_RAW_MATERIAL: dict[str, bool] = {"Li": True, "Ni": True, "Co": True, "Mn": True, "Cu": True, "Al": True, "Fe": False}

# ------------------------------------------------------------------------------ tiers

Tier = Literal["public", "legitimate-interest", "authority"]
TIERS: tuple[str, ...] = ("public", "legitimate-interest", "authority")
#: Annex XIII points each tier may see (Art. 77(2)): point 1 is public; points 2 and 4 are for persons with a
#: legitimate interest (and the Commission); point 3 (test reports) is for notified bodies, market surveillance
#: authorities and the Commission, who here also see points 2 and 4.
VISIBLE_POINTS: dict[str, frozenset[int]] = {
    "public": frozenset({1}),
    "legitimate-interest": frozenset({1, 2, 4}),
    "authority": frozenset({1, 2, 3, 4}),
}
#: Exported field path (dots; list items share their list's path) -> Annex XIII point. The longest matching
#: prefix decides; every exported leaf must match one (tests check it).
FIELD_POINT: dict[str, int] = {
    # General product information: identity, manufacturer, place and date, category, mass, warranty: point 1
    # (Annex VI Part A via Annex XIII 1(a)); status and putting into service come from use: point 4(c)/(d).
    "generalProductInformation": 1,
    "generalProductInformation.batteryStatus": 4,
    "generalProductInformation.puttingIntoService": 4,
    # Carbon footprint (Art. 7): point 1(c).
    "carbonFootprint": 1,
    # Recycled and renewable content (Art. 8), end-of-life information: point 1; dismantling, spare parts and
    # safety measures: point 2(b)-(d).
    "circularity": 1,
    "circularity.dismantlingAndRemovalInformation": 2,
    "circularity.sparePartSources": 2,
    "circularity.safetyMeasures": 2,
    # Chemistry, hazardous substances and critical raw materials: point 1(b).
    "materialComposition": 1,
    # Labels and the EU declaration of conformity: point 1; results of test reports: point 3.
    "labels": 1,
    "labels.resultOfTestReport": 3,
    # Rated performance values: point 1 (Annex IV Part A); the battery's condition over use (SoH, cycles,
    # negative events): point 4(a)-(d).
    "performanceAndDurability.batteryTechicalProperties": 1,
    "performanceAndDurability.batteryCondition": 4,
    # Due diligence report information (Art. 52): point 1(d).
    "supplyChainDueDiligence": 1,
    # Rinne's extension: identity and the footprint's assurance are public with the figure they explain;
    # the breakdown of the active materials is detailed composition (point 2(a)); use history is point 4.
    "extensions.rinne": 1,
    "extensions.rinne.activeMaterials": 2,
    "extensions.rinne.statusHistory": 4,
    "extensions.rinne.stateOfHealthHistory": 4,
    "extensions.rinne.lifetimeCarbon": 4,
    # Energy, renewable energy share and water of the supply chain (issue 19): not an Annex XIII item, so not
    # public; shown with the detailed composition to persons with a legitimate interest (point 2).
    "extensions.rinne.processInventory": 2,
    # The attestations behind the footprint, one by one (signer, lot, stage, figure, status): the verification
    # records that prove the Art. 7 declaration complies, i.e. the results of test reports of point 3, for
    # notified bodies, market surveillance authorities and the Commission. The public sees the figure and its
    # assurance (``assurance``, ``weakestLinks``), not the suppliers' figures lot by lot.
    "extensions.rinne.attestations": 3,
    # Links between passports: the units this one was made from are part of its identity (Art. 77(6)(b): a
    # repurposed or remanufactured battery's passport is linked to the original's), point 1 like
    # ``parentPassports``; the units made from it say what became of the battery (its status), point 4.
    "extensions.rinne.passportLinks.madeFrom": 1,
    "extensions.rinne.passportLinks.madeInto": 4,
}


def point_in(table: Mapping[str, int], path: str) -> int:
    """Return the Annex XIII point `table` gives an exported field path (its longest matching prefix)."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        p = table.get(".".join(parts[:n]))
        if p is not None:
            return p
    raise errors.InvalidInput(f"no Annex XIII point for field {path}")


def point_of(path: str) -> int:
    """Return the Annex XIII point of a Battery Pass field path (longest matching prefix in :data:`FIELD_POINT`)."""
    return point_in(FIELD_POINT, path)


def leaf_paths(doc: Any, prefix: str = "") -> Iterator[str]:
    """Yield the dotted path of every leaf value (list items share their list's path; an empty object or list
    is a leaf itself, so an aspect with nothing held yet still has its tier)."""
    if isinstance(doc, dict) and doc:
        for k, v in doc.items():
            yield from leaf_paths(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(doc, list) and doc and any(isinstance(x, (dict, list)) for x in doc):
        seen: set[str] = set()
        for x in doc:
            for p in leaf_paths(x, prefix):
                if p not in seen:
                    seen.add(p)
                    yield p
    else:
        yield prefix


def filter_tier(doc: dict[str, Any], tier: str, point: Callable[[str], int] = point_of) -> dict[str, Any]:
    """Return a copy of an export holding only the fields `tier` may see (Art. 77(2), Annex XIII); `point`
    gives each field path its Annex XIII point (the Battery Pass table by default). A member the tier may
    see none of is left out whole."""
    if tier not in VISIBLE_POINTS:
        raise errors.InvalidInput(f"unknown access tier {tier!r}; tiers: {', '.join(TIERS)}")
    visible = VISIBLE_POINTS[tier]

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                p = f"{path}.{k}" if path else k
                if any(point(x) in visible for x in leaf_paths(v, p)):
                    out[k] = walk(v, p)
            return out
        if isinstance(node, list):
            return [walk(x, path) for x in node]
        return node

    out: dict[str, Any] = walk(doc, "")
    out.setdefault(EXTENSION, {}).setdefault("rinne", {})["accessTier"] = tier
    return out


# ------------------------------------------------------------------------ declarations

#: Fields only the ledger may fill, even when it cannot compute them (then they are left out): a declaration
#: must not be able to stand in for a figure the ledger derives (the Art. 7 figure, its stages and class, Art. 8
#: shares, element masses, identity, category, status, the parties' accounts and the SOH values that the holder
#: or a diagnostician signed). Every leaf the ledger exports is under one of these (test_passport_ledger_only), so a
#: member the ledger fills only sometimes (the class needs bands, the condition a diagnosis) can never be
#: filled by a form the rest of the time.
LEDGER_ONLY: frozenset[str] = frozenset(
    {
        "generalProductInformation.productIdentifier",
        "generalProductInformation.batteryPassportIdentifier",
        "generalProductInformation.batteryCategory",
        "generalProductInformation.manufacturerInformation.identifier",
        "generalProductInformation.operatorInformation.identifier",
        "generalProductInformation.manufacturingDate",
        "generalProductInformation.batteryStatus",
        "generalProductInformation.batteryMass",
        "generalProductInformation.puttingIntoService",
        "carbonFootprint.batteryCarbonFootprint",
        "carbonFootprint.carbonFootprintPerLifecycleStage",
        "carbonFootprint.carbonFootprintPerformanceClass",
        "carbonFootprint.absoluteCarbonFootprint",
        "circularity.recycledContent",
        "materialComposition.batteryMaterials",
        "performanceAndDurability.batteryTechicalProperties.ratedEnergy",
        "performanceAndDurability.batteryCondition.energyThroughput",
        "performanceAndDurability.batteryCondition.numberOfFullCycles",
        "performanceAndDurability.batteryCondition.stateOfCertifiedEnergy",
        "performanceAndDurability.batteryCondition.remainingEnergy",
    }
)
#: The member of a declarations document that only the IDTA-02035 export reads: an object keyed by submodel
#: name (:data:`IDTA_SUBMODELS`), each in that submodel's value-only shape, so one declarations file serves both
#: formats. The submodels sit one level down because one name would clash at the top: IDTA-02035-7 is
#: ``circularity`` like the Battery Pass aspect, in another shape. The Battery Pass export ignores the member.
IDTA_MEMBER = "idta"
#: The IDTA-02035 submodel names (``ledger.exports.idta.SUBMODELS`` has the same; a test checks it).
IDTA_SUBMODELS: frozenset[str] = frozenset(
    {
        "digital_nameplate",
        "handover_documentation",
        "carbon_footprint",
        "technical_data",
        "product_condition",
        "material_composition",
        "circularity",
    }
)
#: Top-level keys of a declarations document besides the aspect members.
DECLARATION_KEYS = frozenset(ASPECTS) | {IDTA_MEMBER, "parties", "serialNumber", "art7", "uniqueIdentifier", "passportBaseUrl"}


def check_declarations(declarations: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate the shape of a declarations document: the data an economic operator declares that the ledger
    does not hold (documents, addresses, rated values), keyed by passport member; ``parties`` maps a ledger
    address to its contact entity (``contactName``, ``postalAddress``, ``emailAddress``, ``webAddress``);
    ``serialNumber`` is checked against the unit's on-chain serial hash; ``art7`` holds the functional-unit inputs;
    ``uniqueIdentifier`` (``issuingAgencyCode``, ``companyIdentifier``) and ``passportBaseUrl`` build the ISO/IEC
    15459 identifier and passport URL (Art. 77(3)). ``idta`` holds the IDTA-02035 submodels' own
    members (:data:`IDTA_MEMBER`): their names and shape are checked, and they are left out of the result (only
    :func:`ledger.exports.idta.idta_passport` reads them)."""
    decl = copy.deepcopy(dict(declarations or {}))
    unknown = set(decl) - DECLARATION_KEYS
    if unknown:
        raise errors.InvalidInput(
            f"unknown declaration key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(DECLARATION_KEYS))}"
        )
    for k in (*ASPECTS, IDTA_MEMBER):
        if k in decl and not isinstance(decl[k], dict):
            raise errors.InvalidInput(f"declarations.{k} must be an object")
    for k, v in decl.get(IDTA_MEMBER, {}).items():
        if k not in IDTA_SUBMODELS:
            raise errors.InvalidInput(
                f"unknown IDTA-02035 submodel declarations.{IDTA_MEMBER}.{k}; known: {', '.join(sorted(IDTA_SUBMODELS))}"
            )
        if not isinstance(v, dict):
            raise errors.InvalidInput(f"declarations.{IDTA_MEMBER}.{k} must be an object")
    # The IDTA export's own members: ledger.exports.idta judges their ledger-only fields; here they are ignored.
    decl.pop(IDTA_MEMBER, None)
    refuse_ledger_only(decl, LEDGER_ONLY)
    decl["parties"] = {str(a).lower(): v for a, v in (decl.get("parties") or {}).items()}
    return decl


def refuse_ledger_only(declared: Mapping[str, Any], paths: frozenset[str], where: str = "") -> None:
    """Refuse a declarations member that could stand where the ledger fills `paths` (dotted): the field itself,
    present at all (null included: a declared null would still stand where the ledger has none), or one of its
    parents declared as anything but an object (``"batteryCondition": null`` would stand for the whole member)."""
    for path in sorted(paths):
        node: Any = declared
        parts = path.split(".")
        for n, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node:
                break
            node = node[part]
            if n == len(parts) - 1:
                raise errors.InvalidInput(f"{where}{path} comes from the ledger and cannot be declared")
            if not isinstance(node, Mapping):
                at = ".".join(parts[: n + 1])
                raise errors.InvalidInput(f"{where}{at} must be an object: {path} in it comes from the ledger")


def merge_declared(held: dict[str, Any], declared: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Merge declared fields under the ledger's: a declaration may fill what the ledger does not hold, never
    overwrite what it does (a clash is an error, so no figure can be steered by a form)."""
    out = copy.deepcopy(dict(declared or {}))
    for k, v in held.items():
        if k in out and isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = merge_declared(v, out[k], f"{where}.{k}")
        elif k in out and out[k] != v:
            raise errors.InvalidInput(f"{where}.{k} comes from the ledger and cannot be declared")
        else:
            out[k] = v
    return out
