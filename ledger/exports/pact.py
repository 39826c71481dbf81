"""PACT Technical Specification 3.0 (WBCSD Partnership for Carbon Transparency): conformance rules for a
ProductFootprint, written from the specification's ``spec/v3/openapi.yaml`` (github.com/wbcsd/data-exchange-protocol)
in Rinne's own words. No PACT file is copied here: the WBCSD licence does not allow redistributing parts.

Rules checked (ProductFootprint and CarbonFootprint of the 3.0 data model): the mandatory properties, their JSON
types, the decimal-as-string encodings (Decimal, PositiveNonZeroDecimal, PositiveOrZeroDecimal), the enumerations
(status, declaredUnitOfMeasurement, crossSectoralStandards, verification coverage, region), identifier formats
(UUID ids, URN company and product ids, ISO 3166 geography, IPCC ``AR<n>``), the geography exclusivity rule,
packaging emissions undefined when not included, and the DataModelExtension members.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, TypeGuard

PACT_SPEC_VERSION = "3.0.0"

_PF_REQUIRED = (
    "id",
    "specVersion",
    "created",
    "status",
    "companyName",
    "companyIds",
    "productDescription",
    "productIds",
    "productNameCompany",
    "pcf",
)
_CF_REQUIRED = (
    "declaredUnitOfMeasurement",
    "declaredUnitAmount",
    "productMassPerDeclaredUnit",
    "referencePeriodStart",
    "referencePeriodEnd",
    "pcfExcludingBiogenicUptake",
    "pcfIncludingBiogenicUptake",
    "fossilGhgEmissions",
    "fossilCarbonContent",
    "ipccCharacterizationFactors",
    "crossSectoralStandards",
    "exemptedEmissionsPercent",
)
STATUSES = ("Active", "Deprecated")
DECLARED_UNITS = (
    "liter",
    "kilogram",
    "cubic meter",
    "kilowatt hour",
    "megajoule",
    "ton kilometer",
    "square meter",
    "piece",
    "hour",
    "megabit second",
)
CROSS_SECTORAL_STANDARDS = ("ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0")
VERIFICATION_COVERAGE = ("PCF calculation model", "PCF program", "product level")
REGIONS = (
    "Africa",
    "Americas",
    "Asia",
    "Europe",
    "Oceania",
    "Australia and New Zealand",
    "Central Asia",
    "Eastern Asia",
    "Eastern Europe",
    "Latin America and the Caribbean",
    "Melanesia",
    "Micronesia",
    "Northern Africa",
    "Northern America",
    "Northern Europe",
    "Polynesia",
    "South-eastern Asia",
    "Southern Asia",
    "Southern Europe",
    "Sub-Saharan Africa",
    "Western Asia",
    "Western Europe",
)
# Decimal encodings: strings of digits, no exponent (the spec moved every number to string<decimal> in 3.0).
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
_NONNEG = re.compile(r"^[+]?\d+(\.\d+)?$")
_NONPOS = re.compile(r"^(-\d+(\.\d+)?|0+(\.0+)?)$")
_POSITIVE = re.compile(r"^[+]?((\d*[1-9]\d*)(\.\d+)?|0+\.\d*[1-9]\d*)$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-\d{8})?$")
_URN = re.compile(r"^[uU][rR][nN]:")
_AR = re.compile(r"^AR\d+$")
_CF_NONNEG = (
    "fossilGhgEmissions",
    "fossilCarbonContent",
    "biogenicCarbonContent",
    "recycledCarbonContent",
    "landUseChangeGhgEmissions",
    "landCarbonLeakage",
    "landManagementFossilGhgEmissions",
    "landManagementBiogenicCO2Emissions",
    "biogenicNonCO2Emissions",
    "landAreaOccupation",
    "aircraftGhgEmissions",
    "packagingGhgEmissions",
    "packagingBiogenicCarbonContent",
    "outboundLogisticsGhgEmissions",
    "technologicalCO2Removals",
    "ccuCarbonContent",
)
_CF_NONPOS = ("landManagementBiogenicCO2Removals", "biogenicCO2Uptake", "ccsTechnologicalCO2Capture")
_CF_DECIMAL = (
    "productMassPerDeclaredUnit",
    "pcfExcludingBiogenicUptake",
    "pcfIncludingBiogenicUptake",
    "exemptedEmissionsPercent",
    "primaryDataShare",
)


def decimal_string(x: float) -> str:
    """Encode a number as PACT 3.0 ``string<decimal>``: plain digits, no exponent, no trailing zeros."""
    s = f"{x:.12f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0", "+0") else s


def _datetime(v: object) -> TypeGuard[str]:
    if not isinstance(v, str):
        return False
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in v


def _uuid(v: Any) -> bool:
    try:
        return isinstance(v, str) and str(uuid.UUID(v)) == v.lower()
    except ValueError:
        return False


def _urn_set(v: Any) -> bool:
    return isinstance(v, list) and len(v) >= 1 and len(set(v)) == len(v) and all(isinstance(x, str) and _URN.match(x) for x in v)


def conformance_errors(pf: Any) -> list[str]:
    """Return every way a ProductFootprint departs from the PACT 3.0 data model (empty when it conforms)."""
    errs: list[str] = []
    if not isinstance(pf, dict):
        return ["a ProductFootprint is a JSON object"]
    errs += [f"missing mandatory property {k}" for k in _PF_REQUIRED if k not in pf]
    if "id" in pf and not _uuid(pf["id"]):
        errs.append("id must be a UUID")
    if "specVersion" in pf and not (isinstance(pf["specVersion"], str) and _SEMVER.match(pf["specVersion"])):
        errs.append("specVersion must be major.minor.patch")
    elif isinstance(pf.get("specVersion"), str) and not pf["specVersion"].startswith("3."):
        errs.append(f"specVersion {pf['specVersion']} is not a 3.x version")
    if "version" in pf or "updated" in pf:
        errs.append("version and updated were removed in 3.0 (a changed footprint gets a new id)")
    if "precedingPfIds" in pf:
        p = pf["precedingPfIds"]
        if not (isinstance(p, list) and p and len(set(p)) == len(p) and all(_uuid(x) for x in p)):
            errs.append("precedingPfIds must be a non-empty set of UUIDs")
    for k in ("created", "validityPeriodStart", "validityPeriodEnd"):
        if k in pf and not _datetime(pf[k]):
            errs.append(f"{k} must be a date-time")
    if "status" in pf and pf["status"] not in STATUSES:
        errs.append(f"status must be one of {', '.join(STATUSES)}")
    for k in ("companyName", "productNameCompany"):
        if k in pf and not (isinstance(pf[k], str) and pf[k]):
            errs.append(f"{k} must be a non-empty string")
    if "productDescription" in pf and not isinstance(pf["productDescription"], str):
        errs.append("productDescription must be a string")
    for k in ("companyIds", "productIds", "productClassifications"):
        if k in pf and not _urn_set(pf[k]):
            errs.append(f"{k} must be a non-empty set of URNs")
    if "extensions" in pf:
        ext = pf["extensions"]
        if not isinstance(ext, list) or not ext:
            errs.append("extensions must be a non-empty array")
        else:
            for n, e in enumerate(ext):
                if not isinstance(e, dict) or any(k not in e for k in ("specVersion", "dataSchema", "data")):
                    errs.append(f"extensions[{n}] needs specVersion, dataSchema and data")
                elif not isinstance(e["data"], dict) or not isinstance(e["dataSchema"], str):
                    errs.append(f"extensions[{n}]: data must be an object and dataSchema a URI")
    cf = pf.get("pcf")
    if isinstance(cf, dict):
        errs += [f"pcf: {e}" for e in _carbon_footprint_errors(cf)]
        if "validityPeriodStart" in pf and _datetime(pf["validityPeriodStart"]) and _datetime(cf.get("referencePeriodEnd")):
            if pf["validityPeriodStart"] < cf["referencePeriodEnd"]:
                errs.append("validityPeriodStart must not precede pcf.referencePeriodEnd")
    elif "pcf" in pf:
        errs.append("pcf must be an object")
    return errs


def _carbon_footprint_errors(cf: dict[str, Any]) -> list[str]:
    errs = [f"missing mandatory property {k}" for k in _CF_REQUIRED if k not in cf]
    for old in (
        "declaredUnit",
        "unitaryProductAmount",
        "pCfExcludingBiogenic",
        "pCfIncludingBiogenic",
        "characterizationFactors",
        "crossSectoralStandardsUsed",
        "ipccCharacterizationFactorsSources",
        "assurance",
    ):
        if old in cf:
            errs.append(f"{old} is a 2.x property (renamed or removed in 3.0)")
    if "declaredUnitOfMeasurement" in cf and cf["declaredUnitOfMeasurement"] not in DECLARED_UNITS:
        errs.append("declaredUnitOfMeasurement is not a PACT declared unit")
    if "declaredUnitAmount" in cf and not (isinstance(cf["declaredUnitAmount"], str) and _POSITIVE.match(cf["declaredUnitAmount"])):
        errs.append("declaredUnitAmount must be a decimal string > 0")
    for k in _CF_DECIMAL:
        if k in cf and not (isinstance(cf[k], str) and _DECIMAL.match(cf[k])):
            errs.append(f"{k} must be a decimal string")
    for k in _CF_NONNEG:
        if k in cf and not (isinstance(cf[k], str) and _NONNEG.match(cf[k])):
            errs.append(f"{k} must be a decimal string >= 0")
    for k in _CF_NONPOS:
        if k in cf and not (isinstance(cf[k], str) and _NONPOS.match(cf[k])):
            errs.append(f"{k} must be a decimal string <= 0")
    for k in ("referencePeriodStart", "referencePeriodEnd"):
        if k in cf and not _datetime(cf[k]):
            errs.append(f"{k} must be a date-time")
    start, end = cf.get("referencePeriodStart"), cf.get("referencePeriodEnd")
    if _datetime(start) and _datetime(end) and end < start:
        errs.append("referencePeriodEnd precedes referencePeriodStart")
    ar = cf.get("ipccCharacterizationFactors")
    if "ipccCharacterizationFactors" in cf and not (
        isinstance(ar, list) and ar and len(set(ar)) == len(ar) and all(isinstance(x, str) and _AR.match(x) for x in ar)
    ):
        errs.append("ipccCharacterizationFactors must be a non-empty set of AR<n>")
    cs = cf.get("crossSectoralStandards")
    if "crossSectoralStandards" in cf and not (
        isinstance(cs, list) and cs and len(set(cs)) == len(cs) and all(x in CROSS_SECTORAL_STANDARDS for x in cs)
    ):
        errs.append("crossSectoralStandards must be a non-empty set of the PACT standards")
    if "productOrSectorSpecificRules" in cf:
        rules = cf["productOrSectorSpecificRules"]
        if not isinstance(rules, list) or not rules:
            errs.append("productOrSectorSpecificRules, when present, must be non-empty")
    geo = [k for k in ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision") if k in cf]
    if len(geo) > 1:
        errs.append(f"only one geography granularity may be defined, got {', '.join(geo)}")
    if "geographyCountry" in cf and not (
        isinstance(cf["geographyCountry"], str) and re.fullmatch(r"[A-Z]{2}", cf["geographyCountry"])
    ):
        errs.append("geographyCountry must be ISO 3166-1 alpha-2")
    if "geographyCountrySubdivision" in cf and not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,3}", str(cf["geographyCountrySubdivision"])):
        errs.append("geographyCountrySubdivision must be ISO 3166-2")
    if "geographyRegionOrSubregion" in cf and cf["geographyRegionOrSubregion"] not in REGIONS:
        errs.append("geographyRegionOrSubregion must be a UN region or subregion")
    if "packagingEmissionsIncluded" in cf and not isinstance(cf["packagingEmissionsIncluded"], bool):
        errs.append("packagingEmissionsIncluded must be a boolean")
    if cf.get("packagingEmissionsIncluded") is False and "packagingGhgEmissions" in cf:
        errs.append("packagingGhgEmissions must be undefined when packaging emissions are not included")
    if "ccsTechnologicalCO2CaptureIncluded" in cf and not isinstance(cf["ccsTechnologicalCO2CaptureIncluded"], bool):
        errs.append("ccsTechnologicalCO2CaptureIncluded must be a boolean")
    v = cf.get("verification")
    if v is not None:
        if not isinstance(v, dict):
            errs.append("verification must be an object")
        else:
            if "coverage" in v and v["coverage"] not in VERIFICATION_COVERAGE:
                errs.append("verification.coverage is not a PACT coverage")
            if "completedAt" in v and not _datetime(v["completedAt"]):
                errs.append("verification.completedAt must be a date-time")
            for k in ("providerName", "standardName", "comments"):
                if k in v and not isinstance(v[k], str):
                    errs.append(f"verification.{k} must be a string")
    dqi = cf.get("dqi")
    if dqi is not None:
        for k in ("technologicalDQR", "geographicalDQR", "temporalDQR"):
            if not (isinstance(dqi, dict) and isinstance(dqi.get(k), str) and _DECIMAL.match(dqi[k]) and 1 <= float(dqi[k]) <= 5):
                errs.append(f"dqi.{k} must be a decimal string in 1..5")
    return errs


#: Attestation methodology ids (free text on-chain) -> PACT cross-sectoral standard.
def standards_of(methodologies: list[str]) -> tuple[list[str], list[str]]:
    """Map attestation methodology ids to PACT ``crossSectoralStandards``; return (mapped, unmapped)."""
    mapped: list[str] = []
    unmapped: list[str] = []
    for m in methodologies:
        key = re.sub(r"[^A-Z0-9]", "", m.upper())
        std = (
            "ISO14067"
            if key.startswith("ISO14067")
            else "ISO14083"
            if key.startswith("ISO14083")
            else "ISO14040-44"
            if key.startswith(("ISO14040", "ISO14044"))
            else "GHGP-Product"
            if key.startswith("GHGP")
            else "PEF"
            if key.startswith("PEF")
            else "PACT-3.0"
            if key.startswith("PACT3")
            else None
        )
        if std is None:
            unmapped.append(m)
        elif std not in mapped:
            mapped.append(std)
    return mapped, unmapped
