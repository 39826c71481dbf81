"""Purity and grade of a lot (issue 19): derived from its element content where the material says what it is.

A lot of nickel metal or of lithium carbonate says what it is: its material code names one compound, and
its element vector gives the grams of the element that compound is made of, so the purity follows:

    purity = element grams / (lot grams × the element's mass fraction in the pure compound)

Where the material code names no compound Rinne knows (an ore, black mass, a cathode powder), the grade
cannot be derived; it can only be attested (the ``grade`` of a process inventory, see
``ledger.figures.inventory.lot_grade``). A derived grade is never overridden by an attested one.

The thresholds and their sources (each rule says whether its threshold is Rinne's assumption):

- Nickel metal, class 1: at least 99.80 % Ni, the purity of the London Metal Exchange's primary nickel
  contract (LME Rulebook, special contract rules for primary nickel: "minimum purity of 99.80 % nickel",
  chemical composition of ASTM B39-79 (2018)). Rinne counts Ni alone; ASTM B39 also bounds Co and others.
- Lithium carbonate, battery grade: at least 99.5 % Li2CO3 (Chinese industry standard YS/T 582-2013,
  *Battery grade lithium carbonate*, Li2CO3 ≥ 99.5 %), that is Li at least 99.5 % of the Li of pure
  Li2CO3 (18.79 % of its mass).
- Nickel sulphate hexahydrate, battery grade: at least 22.0 % Ni by mass (pure NiSO4·6H2O holds 22.33 %).
  This threshold is Rinne's assumption (a common supplier specification), not a cited standard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ledger.domain.composition import ELEMENTS
from ledger.domain.materials import LI2CO3_LI as _LI2CO3_LI, NISO4_6H2O_NI as _NISO4_6H2O_NI, codes_of

# The compounds' codes and stoichiometry are ledger/domain/materials.py's (one place): a grade adds a threshold.


@dataclass(frozen=True)
class GradeRule:
    """How a material's grade follows from its element content."""

    grade: str  # the grade's name, e.g. "Ni-class1"
    materials: tuple[str, ...]  # material codes (case-insensitive; "·" and "." alike) that name the compound
    element: str  # the element the compound is made of
    fraction: float  # the element's mass fraction in the pure compound
    min_purity: float  # the least purity (of the compound) the grade needs, 0..1
    source: str  # where the threshold comes from
    assumption: bool = False  # True when the threshold is Rinne's assumption, not a cited standard


#: The rules, one per material that says what it is.
RULES: tuple[GradeRule, ...] = (
    GradeRule(
        "Ni-class1",
        codes_of("Ni"),
        "Ni",
        1.0,
        0.998,
        "LME primary nickel contract: min. 99.80 % Ni (ASTM B39-79 (2018))",
    ),
    GradeRule(
        "Li2CO3-battery",
        codes_of("Li2CO3"),
        "Li",
        _LI2CO3_LI,
        0.995,
        "YS/T 582-2013 battery grade lithium carbonate: Li2CO3 >= 99.5 %",
    ),
    GradeRule(
        "NiSO4-battery",
        codes_of("NiSO4.6H2O"),
        "Ni",
        _NISO4_6H2O_NI,
        0.220 / _NISO4_6H2O_NI,
        "Rinne's assumption: Ni >= 22.0 % of the mass (pure NiSO4·6H2O: 22.33 %)",
        assumption=True,
    ),
)

_MAX_PPM = 1_001_000  # 0.1 % above the pure compound: the atomic weights' rounding, not more


def _norm(code: str) -> str:
    return code.strip().lower().replace("·", ".")


_BY_MATERIAL = {_norm(m): r for r in RULES for m in r.materials}
_BY_GRADE = {r.grade.lower(): r for r in RULES}


class Grade(BaseModel):
    """A lot's grade: derived from its element content, attested, or unknown."""

    model_config = ConfigDict(frozen=True)

    grade: str | None  # the grade it meets (None: below every grade Rinne knows for it, or unknown)
    basis: str  # "derived", "attested" or "unknown"
    purity: float | None = None  # derived: the compound's share of the lot's mass, 0..1
    required: float | None = None  # derived: the purity the grade needs
    candidate: str | None = None  # derived: the grade the material could meet
    source: str = ""
    assumption: bool = False
    assurance: str | None = None  # verified or self-declared (derived: self-declared, the creator's composition)


def rule_for(material: str) -> GradeRule | None:
    """Return the grade rule of a material code (case-insensitive), or None when the material names no known compound."""
    return _BY_MATERIAL.get(_norm(material))


def known_grade(name: str) -> GradeRule | None:
    """Return the rule of a grade by its name (case-insensitive), or None."""
    return _BY_GRADE.get(name.strip().lower())


def derive_grade(material: str, mass_g: int, element_grams: Sequence[int]) -> Grade | None:
    """Derive a lot's grade from its material code, mass (grams) and element vector (grams, ELEMENTS order).

    Returns None when the material does not say what it is (no rule): then only an attested grade can apply.
    """
    rule = rule_for(material)
    if rule is None:
        return None
    grams = element_grams[ELEMENTS.index(rule.element)]
    purity = grams / (mass_g * rule.fraction) if mass_g > 0 else 0.0
    # Compared in parts per million so that a lot declared exactly at the threshold is not lost to float rounding.
    # More of the element than the pure compound holds (beyond rounding of the atomic weights) is impossible:
    # such a lot meets no grade, however high its "purity".
    ppm = round(purity * 1_000_000)
    meets = round(rule.min_purity * 1_000_000) <= ppm <= _MAX_PPM
    return Grade(
        grade=rule.grade if meets else None,
        basis="derived",
        purity=purity,
        required=rule.min_purity,
        candidate=rule.grade,
        source=rule.source,
        assumption=rule.assumption,
        # The element vector is the lot's creator's own declaration at mint (its assay evidence is only a
        # hash): a grade that follows from it is as assured as that, and never shown as verified.
        assurance="self-declared",
    )


def grade_refusal(label: str, material: str, grade: Grade | None, required: str) -> str | None:
    """Return why a lot does not meet the grade an operation requires (one line), or None when it does.

    `grade` is the lot's grade: derived from its element content where the material names a compound,
    else the attested one (``ledger.lot_grade``). A derived grade decides; an attested grade meets a
    requirement only when an accredited verifier signed it (a party's own declaration is not enough to
    admit its material where a grade is required, as a verified claim is needed everywhere else)."""
    what = f"{label} ({material or 'no material'})"
    rule = known_grade(required)
    name = rule.grade if rule is not None else required.strip()
    if grade is None or grade.basis == "unknown":
        if rule is None:
            return f"{what} has no grade {name}: its material names no compound Rinne knows and no verified attestation grades it"
        return f"{what} cannot be graded {name}: its material does not name that compound"
    if grade.basis == "derived":
        if grade.candidate != name:
            return f"{what} cannot be graded {name}: its material does not name that compound"
        if grade.grade is None and rule is not None:
            return f"{label} is below {name}: purity {grade.purity or 0:.4%}, the grade needs {rule.min_purity:.2%} ({rule.source})"
        return None
    if (grade.grade or "").lower() != name.lower():
        return f"{what} is attested {grade.grade}, not {name}"
    if grade.assurance != "verified":
        return f"{what} is graded {grade.grade} only by a {grade.assurance} attestation: a required grade needs a verified one"
    return None
