"""What the inputs of an operation give: uses of lots, the composition they carry, the declared loss, commitments."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from ledger import errors
from ledger.domain.composition import ELEMENTS, Composition, commitment_hash
from ledger.domain.ids import Bytes32, hex_of, id_bytes
from ledger.domain.models import (
    Lot,
    LotSpec,
)


class Use(BaseModel):
    """A lot consumed by an operation: the whole lot, or `mass` grams of it.

    Without an explicit `composition`, a partial use takes the lot's composition pro rata by mass
    (see Composition.take).
    """

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    mass: int | None = None
    composition: Composition | None = None


def commitment(material: str, composition: Composition) -> str:
    """Return the on-chain commitment of a lot's material and composition."""
    return hex_of(commitment_hash(id_bytes(material), composition.words()))


def held_composition(lot: Lot) -> Composition:
    """The composition a lot read from the chain holds (refused when the read did not include it)."""
    if lot.composition is None:
        raise errors.ChainError(f"composition of lot {lot.label} is unknown")
    return lot.composition


def declared_loss(used: Iterable[Composition], outputs: Iterable[LotSpec], loss: Composition | None) -> list[int]:
    """The loss an operation declares: `loss` as given, else what the inputs give and the outputs do not carry."""
    if loss is not None:
        return loss.words()[0]
    given = [sum(c.total[k] for c in used) for k in range(len(ELEMENTS))]
    made = [0] * len(ELEMENTS)
    for o in outputs:
        for k, g in enumerate(o.composition.total):
            made[k] += g
    for e, a, b in zip(ELEMENTS, given, made):
        if b > a:
            raise errors.InvalidInput(f"outputs carry {b - a} g more {e} than the inputs give")
    return Composition(total=[a - b for a, b in zip(given, made)]).words()[0]
