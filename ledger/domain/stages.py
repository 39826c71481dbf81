"""Life-cycle stages of a carbon footprint (EU 2023/1542 Art. 7(1)): the one list, and its spellings.

The contracts number them (``LifeCycleStage`` in ``contracts/types``); figures and exports key them
in snake case, the command line in kebab case. All three come from this enum.
"""

from __future__ import annotations

from enum import IntEnum


class LifeCycleStage(IntEnum):
    """Life-cycle stage of an emission figure (EU Battery Regulation Art. 7); values match the Solidity enum."""

    RawMaterialAcquisition = 0
    MainProduction = 1
    Distribution = 2
    EndOfLife = 3

    @property
    def key(self) -> str:
        """The stage as figures and exports key it: ``raw_material_acquisition``."""
        return "".join("_" + c.lower() if c.isupper() else c for c in self.name).lstrip("_")

    @property
    def word(self) -> str:
        """The stage as the command line spells it: ``raw-material-acquisition``."""
        return self.key.replace("_", "-")


#: The stages' keys in attestation (contract) order.
STAGES: tuple[str, ...] = tuple(s.key for s in LifeCycleStage)
