"""What a material code says a lot is, where the figures of issue 19 depend on it: which outputs are
*recovered materials* of which element, which are *intermediates* of the recycling chain, and which are
*by-products*. One place, each rule written once; ``ledger.figures.recovery`` and ``ledger.domain.grade``
read it.

**Recovered material** (Regulation (EU) 2023/1542, Annex XII Part C: the recovery of cobalt, copper,
lithium and nickel; the delegated act under Art. 71(4), Commission Delegated Regulation C(2025) 1674
of 21 March 2025, counts an element as recovered only at the calculation point where it reaches a
usable form, a material that can replace a primary raw material without further treatment). The codes below name such forms:
nickel, cobalt and manganese sulphates, lithium carbonate and hydroxide, nickel, cobalt and copper metal,
and the cathode active material a direct-to-cathode route makes (its metals). Manganese is outside Part C
but its sulphate is a usable form too, so the report's manganese figure counts it alike.

A code is not enough: the lot's element content must be what the code says (the stoichiometry of the
named compound, as ``grade.py`` derives a grade from it). A lot counts as the compound when the element's
mass fraction lies between ``least_purity`` × the leanest accepted form (the most hydrated) and
``CEILING`` × the richest (the anhydrous salt): a 5,000 g "NiSO4" lot holding 500 g of nickel (10 %) is
not nickel sulphate (at least 20.9 % as the heptahydrate), so renaming a residue does not make it
recovered. The 95 % least purity (a technical grade; battery grades are higher, see ``grade.py``) and
the 0.5 % ceiling (declared masses rounded, not the chemistry) are Rinne's assumptions, not a cited
standard. For cathode active material the window is wider (85 % to 110 % of the stoichiometric
fraction of each metal: lithium is dosed in excess, and the lot holds oxygen the ledger does not track).

**Intermediates** (Annex XII Part A, treatment and recycling processes; the delegated act's intermediate
fractions): black mass, mixed hydroxide or sulphide precipitate, pyrometallurgical alloy and matte,
shredded material, electrode powder, leach solution. They are followed through the recycling chain.

**Everything else** (residues, slags, dusts, codes Rinne does not know) is neither: it recovers nothing.
For an operation's *yield*, an output is a **by-product** when its code names a residue (the words in
``RESIDUE_WORDS``) or names a compound its content contradicts; any other output is a product (a code
Rinne does not know cannot be judged, and counts as the product it says it is).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.domain.composition import ELEMENTS

# Standard atomic weights (IUPAC 2021, abridged), as grade.py uses them.
_W = {"Li": 6.94, "C": 12.011, "O": 15.999, "H": 1.008, "S": 32.06, "Ni": 58.693, "Co": 58.933, "Mn": 54.938, "Cu": 63.546}
_H2O = 2 * _W["H"] + _W["O"]
_SO4 = _W["S"] + 4 * _W["O"]


def _sulphate(metal: str, water: int) -> float:
    return _W[metal] / (_W[metal] + _SO4 + water * _H2O)


#: The metal's mass fraction in the pure compound (also the basis of the grades in grade.py).
LI2CO3_LI = 2 * _W["Li"] / (2 * _W["Li"] + _W["C"] + 3 * _W["O"])
NISO4_6H2O_NI = _sulphate("Ni", 6)
_LIOH_LI = _W["Li"] / (_W["Li"] + _W["O"] + _W["H"])
_LIOH_H2O_LI = _W["Li"] / (_W["Li"] + _W["O"] + _W["H"] + _H2O)

#: A lot may hold up to 0.5 % more of the element than the richest accepted form (rounded masses), no more.
CEILING = 1.005

#: Words that name a residue in a material code (compared case-insensitively, as parts of the code).
RESIDUE_WORDS: tuple[str, ...] = (
    "RESIDUE",
    "SLAG",
    "DROSS",
    "TAILINGS",
    "SLUDGE",
    "FILTER-CAKE",
    "DUST",
    "WASTE",
    "SCRAP",
    "EFFLUENT",
)

#: Codes (prefixes) of the recycling chain's intermediates.
INTERMEDIATES: tuple[str, ...] = ("BLACK-MASS", "MHP", "MSP", "ALLOY", "MATTE", "SHRED", "ELECTRODE-POWDER", "LEACH-SOLUTION")


@dataclass(frozen=True)
class RecoveredMaterial:
    """A usable form an element is recovered in, and what its element content must be."""

    name: str
    codes: tuple[str, ...]  # material codes (case-insensitive; "·" and "." alike) that name it
    fractions: Mapping[str, tuple[float, float]]  # element -> (leanest, richest) mass fraction of its accepted forms
    least_purity: float = 0.95
    ceiling: float = CEILING

    def consistent(self, mass_g: int, element_grams: Sequence[int]) -> bool:
        """Return whether a lot of `mass_g` grams holding `element_grams` (ELEMENTS order) is this material."""
        if mass_g <= 0:
            return False
        for e, (lean, rich) in self.fractions.items():
            share = element_grams[ELEMENTS.index(e)] / mass_g
            # Compared in parts per million, so that a lot declared at a bound is not lost to float rounding.
            if not round(self.least_purity * lean * 1e6) <= round(share * 1e6) <= round(self.ceiling * rich * 1e6):
                return False
        return True


def _cam(name: str, ni: int, mn: int, co: int) -> RecoveredMaterial:
    # LiNi(x)Mn(y)Co(z)O2 with x:y:z = ni:mn:co.
    n = ni + mn + co
    m = _W["Li"] + (ni * _W["Ni"] + mn * _W["Mn"] + co * _W["Co"]) / n + 2 * _W["O"]
    f = {"Li": _W["Li"] / m, "Ni": ni * _W["Ni"] / n / m, "Mn": mn * _W["Mn"] / n / m, "Co": co * _W["Co"] / n / m}
    return RecoveredMaterial(f"cathode active material {name}", (f"CAM-{name}",), {e: (v, v) for e, v in f.items()}, 0.85, 1.10)


#: The recovered materials, one per usable form.
RECOVERED_MATERIALS: tuple[RecoveredMaterial, ...] = (
    RecoveredMaterial("nickel sulphate", ("NiSO4",), {"Ni": (_sulphate("Ni", 7), _sulphate("Ni", 0))}),
    RecoveredMaterial("nickel sulphate hexahydrate", ("NiSO4.6H2O",), {"Ni": (NISO4_6H2O_NI, NISO4_6H2O_NI)}),
    RecoveredMaterial("nickel sulphate heptahydrate", ("NiSO4.7H2O",), {"Ni": (_sulphate("Ni", 7), _sulphate("Ni", 7))}),
    RecoveredMaterial("cobalt sulphate", ("CoSO4",), {"Co": (_sulphate("Co", 7), _sulphate("Co", 0))}),
    RecoveredMaterial("cobalt sulphate heptahydrate", ("CoSO4.7H2O",), {"Co": (_sulphate("Co", 7), _sulphate("Co", 7))}),
    RecoveredMaterial("cobalt sulphate monohydrate", ("CoSO4.H2O",), {"Co": (_sulphate("Co", 1), _sulphate("Co", 1))}),
    RecoveredMaterial("manganese sulphate", ("MnSO4",), {"Mn": (_sulphate("Mn", 1), _sulphate("Mn", 0))}),
    RecoveredMaterial("manganese sulphate monohydrate", ("MnSO4.H2O",), {"Mn": (_sulphate("Mn", 1), _sulphate("Mn", 1))}),
    RecoveredMaterial("lithium carbonate", ("Li2CO3", "Lithium carbonate"), {"Li": (LI2CO3_LI, LI2CO3_LI)}),
    RecoveredMaterial("lithium hydroxide", ("LiOH",), {"Li": (_LIOH_H2O_LI, _LIOH_LI)}),
    RecoveredMaterial("lithium hydroxide monohydrate", ("LiOH.H2O",), {"Li": (_LIOH_H2O_LI, _LIOH_H2O_LI)}),
    RecoveredMaterial("nickel metal", ("Ni", "Ni-metal", "Ni metal", "Nickel", "Ni-cathode", "Ni-briquette"), {"Ni": (1.0, 1.0)}),
    RecoveredMaterial("cobalt metal", ("Co", "Co-metal", "Co metal", "Cobalt", "Co-cathode"), {"Co": (1.0, 1.0)}),
    RecoveredMaterial(
        "copper metal", ("Cu", "Cu-metal", "Cu metal", "Copper", "Cu-cathode", "Cu-granules", "Cu-foil"), {"Cu": (1.0, 1.0)}
    ),
    _cam("NMC811", 8, 1, 1),
    _cam("NMC622", 6, 2, 2),
    _cam("NMC532", 5, 3, 2),
    _cam("NMC111", 1, 1, 1),
)


def _norm(code: str) -> str:
    return code.strip().lower().replace("·", ".")


_BY_CODE = {_norm(c): m for m in RECOVERED_MATERIALS for c in m.codes}


def recovered_material(code: str) -> RecoveredMaterial | None:
    """Return the recovered material a code names (case-insensitive), or None when it names none."""
    return _BY_CODE.get(_norm(code))


def codes_of(code: str) -> tuple[str, ...]:
    """Return every code of the recovered material `code` names (KeyError when it names none)."""
    return _BY_CODE[_norm(code)].codes


def recovers(code: str, mass_g: int, element_grams: Sequence[int]) -> frozenset[str]:
    """Return the elements a lot recovers in a usable form: those its code names, if its content is what the code says."""
    m = recovered_material(code)
    if m is None or not m.consistent(mass_g, element_grams):
        return frozenset()
    return frozenset(m.fractions)


def is_intermediate(code: str) -> bool:
    """Return whether a code names an intermediate of the recycling chain (black mass, MHP, alloy, ...)."""
    c = _norm(code).upper()
    return any(c == p or c.startswith(p + "-") for p in INTERMEDIATES)


def is_by_product(code: str, mass_g: int, element_grams: Sequence[int]) -> bool:
    """Return whether an output is a by-product: its code names a residue, or a compound its content contradicts."""
    c = _norm(code).upper()
    parts = c.replace("_", "-").replace(" ", "-").split("-")
    if any(w in parts or ("-" in w and w in c) for w in RESIDUE_WORDS):
        return True
    m = recovered_material(code)
    return m is not None and not m.consistent(mass_g, element_grams)


__all__ = [
    "CEILING",
    "INTERMEDIATES",
    "LI2CO3_LI",
    "NISO4_6H2O_NI",
    "RECOVERED_MATERIALS",
    "RESIDUE_WORDS",
    "RecoveredMaterial",
    "codes_of",
    "is_by_product",
    "is_intermediate",
    "recovered_material",
    "recovers",
]
