"""Quantities as people write them, turned into the integers the ledger stores.

Pure functions with no chain access. Every parser raises :class:`ValueError` with one line that
says what was wrong and shows an accepted form; the click layer turns it into a usage error.

Like cast's ``1ether`` vs ``1000``, a bare integer is the stored unit (grams, Wh, seconds) and a
unit suffix converts: ``12.5t``, ``500kg``, ``75kWh``, ``30d``. A decimal without a unit is refused
because it is ambiguous.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import cache

import click

import ledger as rinne

MASS_UNITS = {"g": 1, "kg": 1_000, "t": 1_000_000}
ENERGY_UNITS = {"wh": 1, "kwh": 1_000, "mwh": 1_000_000, "gwh": 1_000_000_000}
DURATION_UNITS = {"s": 1, "min": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}

_NUMBER = r"(?P<num>(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)"
_QUANTITY = re.compile(rf"^\s*(?P<sign>[+-]?)\s*{_NUMBER}\s*(?P<unit>[A-Za-z%]*)\s*$")
#: The largest mass the ledger stores (uint64 grams, about 1.8e13 t).
MAX_MASS_G = (1 << 64) - 1
_CO2E = re.compile(r"\s*(co2e|co2-?eq|co2)\s*$", re.IGNORECASE)
# The same form as eth-utils' is_address accepts (no checksum check), without importing eth-utils.
_ADDRESS = re.compile(r"(0x)?[0-9a-f]{40}", re.IGNORECASE)


@cache
def _element_by_lower() -> dict[str, str]:
    # Built on first use: the element list lives beside the pydantic models, which `--help` need not load.
    return {e.lower(): e for e in rinne.ELEMENTS}


def is_address(value: object) -> bool:
    """Whether `value` is an address: 40 hex digits (with or without 0x, any case) or 20 bytes."""
    if isinstance(value, (bytes, bytearray)):
        return len(value) == 20
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def _split(text: str) -> tuple[Decimal, str]:
    m = _QUANTITY.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a number with an optional unit")
    try:
        number = Decimal(m.group("num").replace("_", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if m.group("sign") == "-" and number:
        raise ValueError(f"{text!r} must be positive")
    return number, m.group("unit")


def _scaled(text: str, units: dict[str, int], what: str, example: str, *, exact: bool = True, limit: int | None = None) -> int:
    number, unit = _split(text)
    # Checked before any scaling: an exponent such as 1e40 must not become a 40-digit integer first.
    if number.adjusted() > 60:
        raise ValueError(f"{text!r} is too large for a {what}")
    if not unit:
        if number != number.to_integral_value():
            raise ValueError(f"{text!r}: a {what} with decimals needs a unit ({', '.join(units)}), e.g. {example}")
        return _within(int(number), text, what, limit)
    factor = units.get(unit.lower())
    if factor is None:
        raise ValueError(f"{text!r}: unknown unit {unit!r} for a {what}; use {', '.join(units)}, e.g. {example}")
    value = number * factor
    if value != value.to_integral_value():
        if exact:
            smallest = min(units, key=units.__getitem__)
            raise ValueError(f"{text!r} is not a whole number of {smallest}")
        value = value.to_integral_value(ROUND_FLOOR)
    return _within(int(value), text, what, limit)


def _within(value: int, text: str, what: str, limit: int | None) -> int:
    if limit is not None and value > limit:
        raise ValueError(f"{text!r} is too large for a {what}: at most {limit} g (2^64 - 1 g, about 1.8e13 t)")
    return value


def check_mass(grams: int, what: str = "mass") -> int:
    """Return `grams` if the ledger can store it as a mass (0 to 2^64 - 1 g); ValueError with one line otherwise."""
    if grams < 0:
        raise ValueError(f"{what} {grams} must be positive")
    if grams > MAX_MASS_G:
        raise ValueError(f"{what} {grams} g is too large: at most {MAX_MASS_G} g (2^64 - 1 g, about 1.8e13 t)")
    return grams


def parse_mass(text: str) -> int:
    """Return grams from ``12.5t``, ``500kg``, ``250g`` or a bare integer of grams."""
    return _scaled(text, MASS_UNITS, "mass", "12.5t or 500kg", limit=MAX_MASS_G)


def parse_energy(text: str) -> int:
    """Return Wh from ``75kWh``, ``1.2MWh``, ``500Wh`` or a bare integer of Wh."""
    return _scaled(text, ENERGY_UNITS, "energy", "75kWh")


def parse_volume(text: str) -> int:
    """Return litres from ``4.5m3``, ``4500l`` or a bare integer of litres (m³ may be written m3, m³ or kl)."""
    # The quantity grammar takes letters only as units: a cubic metre is read as the kilolitre it is.
    return _scaled(re.sub(r"m[3³]\s*$", "kl", str(text)), {"l": 1, "kl": 1_000}, "water volume", "4.5m3 or 4500l")


def parse_emissions(text: str) -> int:
    """Return grams CO2e from ``1250kg``, ``3.2tCO2e``, ``800 kg CO2e`` or a bare integer of grams."""
    stripped = _CO2E.sub("", str(text))
    return _scaled(stripped, MASS_UNITS, "CO2e mass", "1250kgCO2e")


def parse_percent_bp(text: str) -> int:
    """Return basis points from ``87.5%`` (or ``87.5``, read as percent, or ``8750bp``)."""
    number, unit = _split(text)
    if unit.lower() == "bp":
        value = number
    elif unit in ("", "%"):
        value = number * 100
    else:
        raise ValueError(f"{text!r}: give a percentage such as 87.5% (or basis points such as 8750bp)")
    if value != value.to_integral_value():
        raise ValueError(f"{text!r}: at most two decimals of a percent")
    if not 0 <= value <= 10_000:
        raise ValueError(f"{text!r} is outside 0-100 %")
    return int(value)


def parse_duration(text: str) -> int:
    """Return seconds from ``30d``, ``12h``, ``1y`` (365 days), ``90min``, ``2w`` or bare seconds."""
    return _scaled(text, DURATION_UNITS, "duration", "30d", exact=False)


def parse_time(text: str) -> int:
    """Return a unix time from ``2027-06-30``, ``2027-06-30T12:00:00Z`` or ``@1782820800``."""
    raw = str(text).strip()
    if raw.startswith("@") and raw[1:].isdigit():
        return int(raw[1:])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            d = date.fromisoformat(raw)
            return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp())
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r}: give a date such as 2027-06-30, a time such as 2027-06-30T12:00:00Z, or @unix-seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def element_name(text: str) -> str:
    """Return the canonical element symbol (``ni`` → ``Ni``) of a tracked element."""
    name = _element_by_lower().get(text.strip().lower())
    if name is None:
        raise ValueError(f"unknown element {text.strip()!r}; tracked elements are {', '.join(rinne.ELEMENTS)}")
    return name


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for item in str(text).split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise ValueError(f"{item.strip()!r}: write ELEMENT=AMOUNT, e.g. Ni=5200kg or Ni=52%")
        out.append((element_name(name), value.strip()))
    seen: set[str] = set()
    for name, _ in out:
        if name in seen:
            raise ValueError(f"{name} is given twice")
        seen.add(name)
    return out


def _share(value: str, whole: int, of: str) -> int:
    number, unit = _split(value)
    if unit != "%":
        raise ValueError("not a share")
    if not 0 <= number <= 100:
        raise ValueError(f"{value!r} is outside 0-100 % of {of}")
    # Rounded down so that shares never add up to more than the whole.
    return int((number * whole / 100).to_integral_value(ROUND_FLOOR))


class FiniteFloat(click.ParamType):
    """A float that must be finite and within [low, high] (click.FloatRange lets nan and inf through)."""

    name = "number"

    def __init__(self, low: float = 0.0, *, low_open: bool = False) -> None:
        self.low, self.low_open = low, low_open

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if number < self.low or (self.low_open and number == self.low):
            self.fail(f"{value!r} must be {'more than' if self.low_open else 'at least'} {self.low:g}", param, ctx)
        return number


def parse_elements(text: str, mass: int | None = None) -> dict[str, int]:
    """Return element → grams from ``Ni=5200kg,Co=640kg`` or shares of the lot's mass ``Ni=52%``.

    Shares need `mass` (grams) and round down to whole grams.
    """
    out: dict[str, int] = {}
    for name, value in _pairs(text):
        if value.endswith("%"):
            if mass is None:
                raise ValueError(f"{name}={value}: a share needs the lot's mass; give grams instead, e.g. {name}=5200kg")
            out[name] = _share(value, mass, "the lot's mass")
        else:
            try:
                out[name] = parse_mass(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
    return out


def parse_recycled(text: str, totals: dict[str, int]) -> dict[str, int]:
    """Return element → recycled grams from ``Co=120kg`` or shares of that element's content ``Co=16%``."""
    out: dict[str, int] = {}
    for name, value in _pairs(text):
        total = totals.get(name, 0)
        if value.endswith("%"):
            out[name] = _share(value, total, f"the lot's {name}")
        else:
            try:
                out[name] = parse_mass(value)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if out[name] > total:
            raise ValueError(f"recycled {name} ({format_mass(out[name])}) exceeds the lot's {name} ({format_mass(total)})")
    return out


def parse_use(text: str) -> tuple[str, int | None]:
    """Return (lot id, grams or None for the whole lot) from ``LOT`` or ``LOT=3t``."""
    lot, sep, amount = str(text).rpartition("=")
    if not sep:
        return text.strip(), None
    if not lot.strip():
        raise ValueError(f"{text!r}: write LOT or LOT=MASS, e.g. R-001=3t")
    return lot.strip(), parse_mass(amount)


def parse_output(text: str) -> tuple[str, str, int, str | None]:
    """Return (lot id, material, grams, element text or None) from ``ID:MATERIAL:MASS[:ELEMENTS]``."""
    parts = str(text).split(":", 3)
    if len(parts) < 3 or not all(p.strip() for p in parts[:3]):
        raise ValueError(f"{text!r}: write ID:MATERIAL:MASS[:ELEMENTS], e.g. CAM-001:CAM-NMC811:10t:Ni=4.8t,Co=0.6t")
    lot_id, material, mass = (p.strip() for p in parts[:3])
    elements = parts[3].strip() if len(parts) == 4 and parts[3].strip() else None
    return lot_id, material, parse_mass(mass), elements


def parse_origin(text: str) -> tuple[str, str]:
    """Return (country, site) from ``AU:Greenbushes`` (ISO 3166 alpha-2 code, then the site's name)."""
    country, sep, site = str(text).partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z]{2}", country.strip()) or not site.strip():
        raise ValueError(f"{text!r}: write COUNTRY:SITE with an ISO 3166 code, e.g. AU:Greenbushes")
    return country.strip().upper(), site.strip()


# ------------------------------------------------------------------------------------ formatting


def _trim(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_mass(grams: int) -> str:
    """Show grams in the largest unit that keeps the figure readable: ``12.5 t``, ``640 kg``, ``12 g``."""
    for unit in ("t", "kg"):
        if abs(grams) >= MASS_UNITS[unit]:
            return f"{_trim(Decimal(grams) / MASS_UNITS[unit])} {unit}"
    return f"{grams} g"


def format_energy(wh: int) -> str:
    """Show Wh as ``75 kWh`` etc."""
    for unit, label in (("gwh", "GWh"), ("mwh", "MWh"), ("kwh", "kWh")):
        if abs(wh) >= ENERGY_UNITS[unit]:
            return f"{_trim(Decimal(wh) / ENERGY_UNITS[unit])} {label}"
    return f"{wh} Wh"


def format_elements(grams: dict[str, int]) -> str:
    """Show element masses as ``Ni=5.2 t, Co=640 kg`` (or ``-`` when empty)."""
    return ", ".join(f"{e}={format_mass(g)}" for e, g in grams.items()) or "-"


def parse_time_end(text: str) -> int:
    """The end of a period given as TIME: a bare date (2027-12-31) means up to the end of that day (UTC)."""
    t = parse_time(text)
    return t + 86_399 if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text) else t


def format_time(unix: int | None) -> str:
    """Show a unix time as an ISO 8601 UTC timestamp."""
    if not unix:
        return "-"
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
