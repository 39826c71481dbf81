"""Who may see which Annex XIII tier: the on-chain registry's roles mapped to the access tiers of
Art. 77(2) (the tiers and their points are :data:`ledger.exports.batterypass.VISIBLE_POINTS`).

The mapping, documented in docs/service.md:

- ``AUDITOR`` -> ``authority``: the registry's auditor role is the only one that stands for a notified
  body, a market-surveillance authority or the Commission (Art. 77(2)(c)), who see points 1-4.
- ``OEM``, ``SECOND_LIFE``, ``RECYCLER``, ``DIAGNOSTICIAN`` -> ``legitimate-interest``: the parties Art.
  77(2)(b) names as having a legitimate interest (repairers, remanufacturers, second-life operators,
  recyclers; a diagnostician works for them), who see points 1, 2 and 4.
- every other role, an unregistered or a suspended account, and anyone not signed in -> ``public``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.enums import Role
from ledger.domain.models import Participant
from ledger.exports.batterypass import TIERS

PUBLIC = "public"
LEGITIMATE_INTEREST = "legitimate-interest"
AUTHORITY = "authority"

#: Role bit -> the tier it grants; a party with several roles gets the highest.
ROLE_TIER: dict[Role, str] = {
    Role.AUDITOR: AUTHORITY,
    Role.OEM: LEGITIMATE_INTEREST,
    Role.SECOND_LIFE: LEGITIMATE_INTEREST,
    Role.RECYCLER: LEGITIMATE_INTEREST,
    Role.DIAGNOSTICIAN: LEGITIMATE_INTEREST,
}

_RANK = {t: i for i, t in enumerate(TIERS)}


def rank(tier: str) -> int:
    """Return the tier's place in ``public < legitimate-interest < authority`` (KeyError for another name)."""
    return _RANK[tier]


def highest(tiers: Iterable[str]) -> str:
    """Return the highest of some tiers (public when there are none)."""
    return max(tiers, key=rank, default=PUBLIC)


def tier_of_roles(roles: Role) -> str:
    """Return the tier a set of role bits grants."""
    return highest(t for r, t in ROLE_TIER.items() if roles & r)


def tier_of(participant: Participant | None) -> str:
    """Return the tier a registry record grants now: public unless registered, not suspended and holding a mapped role."""
    if participant is None or not participant.registered or participant.suspended:
        return PUBLIC
    return tier_of_roles(participant.roles)
