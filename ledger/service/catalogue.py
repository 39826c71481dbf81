"""What the service answers from: one event index, the ids people type or scan resolved to lots and
units, the exports at each tier (cached per synced block), the lot and unit records, provenance and
search. Pure reads of the index; the app holds the lock that keeps a sync from running underneath.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledger import errors
from ledger.domain.disclosure import Openings, disclose
from ledger.domain.enums import LotKind, LotState, PassportStatus
from ledger.domain.hashing import keccak
from ledger.domain.identity import lot_record_id, unit_record_id, verify_origin
from ledger.domain.ids import hex_of, id_bytes, label_of
from ledger.domain.models import Participant
from ledger.exports.batterypass import filter_tier
from ledger.exports.idta import idta_passport
from ledger.exports.passport import battery_passport
from ledger.exports.passport_id import unique_identifier
from ledger.exports.passport_page import passport_html
from ledger.exports.pcf import pact_footprint_v3
from ledger.index.queries import LotRow
from ledger.index.store import EventIndex
from ledger.queries.registry import lot_history, participants
from ledger.queries.trace import Trace, trace
from ledger.replay.state import LedgerState
from ledger.service.tiers import LEGITIMATE_INTEREST, PUBLIC, rank, tier_of

if TYPE_CHECKING:
    from ledger.local.vault import Vault

#: What an id in a path or a query may look like: labels, 0x-hex, urn:rinne:..., ISO/IEC 15459 identifiers.
#: No slash, no leading dot, nothing a shell, a database or a file system would read as syntax.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
#: Most answers a search gives.
SEARCH_LIMIT = 100
#: Most exports kept in memory (they are dropped whenever the index moves on).
CACHE_SIZE = 2_048
FORMATS = ("batterypass", "idta", "pact")
SEARCH_FIELDS = ("id", "serial", "material", "origin", "holder")
#: Events that record a battery's use (status, state of health, diagnosticians): Annex XIII point 4.
_USE_EVENTS = frozenset({"StatusChanged", "SohRecorded", "SohCorrected", "DiagnosticianAuthorised"})
_STATE = {s.value: s.name.lower() for s in LotState}
_STATUS = {s.value: s.name.capitalize() for s in PassportStatus}


class AmbiguousId(errors.InvalidInput):
    """An id that names more than one lot or unit (a label, a serial and an identifier colliding)."""


class PassportGone(errors.InvalidInput):
    """A battery whose passport has ceased to exist (Art. 77(8): it has been recycled)."""


def check_id(text: str) -> str:
    """Return `text` when it may be an id (:class:`~ledger.errors.InvalidInput` otherwise)."""
    if not ID_PATTERN.match(text) or ".." in text:
        raise errors.InvalidInput("an id is 1-80 letters, digits and . _ : - (no slash, no leading dot)")
    return text


class Catalogue:
    """Read-only answers from one event index for the passport service."""

    def __init__(
        self,
        index: EventIndex,
        *,
        chain_id: int | None = None,
        ledger_address: str | None = None,
        declarations: Mapping[str, Mapping[str, Any]] | None = None,
        vault: Vault | None = None,
    ) -> None:
        self.index = index
        # The openings this service is entitled to: without them a salted serial or site cannot be found or shown.
        self.vault = vault
        d = index.deployment
        self.chain_id = chain_id or (d.chain_id if d else 0)
        self.ledger_address = ledger_address or (d.ledger if d else "0x" + "00" * 20)
        # Declarations are keyed by unit (label or hex) and the ISO/IEC 15459 identifier each declares: an
        # identifier declared here is matched exactly, before any label or serial could claim it.
        self._declared: dict[bytes, Mapping[str, Any]] = {}
        self._identifiers: dict[str, bytes] = {}
        for key, decl in (declarations or {}).items():
            uid = id_bytes(key)
            self._declared[uid] = decl
            ident, serial = decl.get("uniqueIdentifier"), decl.get("serialNumber")
            if isinstance(ident, Mapping) and serial is not None:
                u = unique_identifier(str(ident.get("issuingAgencyCode", "")), str(ident.get("companyIdentifier", "")), str(serial))
                self._identifiers[u.text] = uid
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._cache_block: int | None = None

    # ------------------------------------------------------------------ state

    @property
    def block(self) -> int:
        """The last block the index holds (0 before the first sync)."""
        return self.index.synced_block or 0

    def state(self) -> LedgerState:
        """The replayed state at the synced block (the index caches it)."""
        return self.index.state()

    def _cached(self, key: tuple[Any, ...]) -> Any:
        if self._cache_block != self.block:
            self._cache, self._cache_block = {}, self.block
        return self._cache.get(key)

    def _keep(self, key: tuple[Any, ...], value: Any) -> Any:
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = value
        return value

    # ------------------------------------------------------------------ ids

    def resolve(self, text: str) -> bytes:
        """Return the lot or unit an id names: a declared ISO/IEC 15459 identifier, ``urn:rinne:<hex>``, 0x-hex,
        a label, or an identifier ending in a unit's serial; an id two of these give different answers for is
        refused (:class:`AmbiguousId`), so no one can claim another battery's QR code by minting a lookalike."""
        check_id(text)
        key = ("resolve", text)
        hit = self._cached(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        lots = self.state().lots
        exact = self._identifiers.get(text.upper())
        if exact is None and text.startswith("urn:rinne:") and re.fullmatch(r"[0-9a-f]{64}", text[10:]):
            exact = bytes.fromhex(text[10:])
        if exact is None and _HEX32.match(text):
            exact = bytes.fromhex(text[2:])
        if exact is not None:
            if exact not in lots:
                raise errors.UnknownLot(f"no lot or battery {label_of(exact)} on this ledger (synced to block {self.block})")
            return self._keep(key, exact)  # type: ignore[no-any-return]
        found: set[bytes] = set()
        if len(text.encode()) <= 32 and id_bytes(text) in lots:
            found.add(id_bytes(text))
        found |= self._by_serial(text, suffixes=True)
        if len(found) > 1:
            raise AmbiguousId(f"{text} names {len(found)} lots or batteries: use the 0x id")
        if not found:
            raise errors.UnknownLot(f"no lot or battery {text} on this ledger (synced to block {self.block})")
        return self._keep(key, found.pop())  # type: ignore[no-any-return]

    def identity(self, uid: bytes) -> Openings | None:
        """The unit's identity record from the vault, when the service holds it and it opens to the on-chain root."""
        unit = self.state().units.get(uid)
        record = unit_record_id(uid)
        if unit is None or self.vault is None or record not in self.vault:
            return None
        try:
            opened = self.vault.openings(record)
        except errors.DisclosureError:
            return None  # not granted to this service's key
        # The vault gives confidentiality, not authenticity: an opening counts only if it folds to the chain's root.
        return opened if bytes.fromhex(opened.root()[2:]) == unit.serial_hash else None

    def site(self, lot_id: bytes) -> str | None:
        """A lot's origin site from the vault, when the service holds its opening and it verifies against the origin."""
        lot = self.state().lots.get(lot_id)
        record = lot_record_id(lot_id)
        if lot is None or self.vault is None or record not in self.vault:
            return None
        try:
            opened = self.vault.openings(record)
            fields = verify_origin(lot.origin, disclose(opened, opened.names()), lot_id)
        except errors.LedgerError:
            return None
        return str(fields["site"]) if "site" in fields else None

    def _serials(self) -> dict[bytes, list[bytes]]:
        # keccak(serial) -> units. A salted serialHash is found by the serial of its opening in the vault; a unit
        # written with a plain keccak(serial) (a caller's precomputed hash) is found by that hash.
        key = ("serials",)
        hit = self._cached(key)
        if hit is None:
            hit = {}
            for uid, unit in self.state().units.items():
                opened = self.identity(uid)
                serial = opened.fields["serialNumber"].value if opened and "serialNumber" in opened.fields else None
                hit.setdefault(keccak(str(serial).encode()) if serial is not None else unit.serial_hash, []).append(uid)
            self._keep(key, hit)
        return hit  # type: ignore[no-any-return]

    def _by_serial(self, text: str, *, suffixes: bool) -> set[bytes]:
        # An ISO/IEC 15459 identifier is agency code + company number + serial, so its serial is some suffix;
        # the upper-case form is what the identifier carries.
        serials = self._serials()
        found: set[bytes] = set()
        for t in {text, text.upper()}:
            starts = range(len(t)) if suffixes else range(1)
            for i in starts:
                found.update(serials.get(keccak(t[i:].encode()), ()))
        return found

    def resolve_unit(self, text: str) -> bytes:
        """Return the battery unit an id names (:class:`~ledger.errors.UnknownLot` when it names a material lot)."""
        uid = self.resolve(text)
        if uid not in self.state().units:
            raise errors.UnknownLot(f"{label_of(uid)} is a material lot, not a battery: see /lot/{label_of(uid)}")
        return uid

    # ------------------------------------------------------------------ exports

    def passport(self, uid: bytes, fmt: str, tier: str) -> dict[str, Any]:
        """Return a unit's passport as Battery Pass, IDTA-02035 or PACT JSON holding only what `tier` may see."""
        key = ("passport", uid, fmt, tier)
        hit = self._cached(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        unit = self.state().units[uid]
        if unit.status == PassportStatus.RECYCLED:
            raise PassportGone(f"{label_of(uid)} has been recycled: its battery passport has ceased to exist (Art. 77(8))")
        cid, addr = self.chain_id, self.ledger_address
        if fmt == "pact":
            # PACT is the carbon footprint (Annex XIII point 1(c)): public at every tier.
            doc = pact_footprint_v3(self.index, uid, chain_id=cid, ledger_address=addr)
        elif fmt == "idta":
            doc = dict(
                idta_passport(
                    self.index,
                    uid,
                    declarations=self._declared.get(uid),
                    tier=tier,
                    chain_id=cid,
                    ledger_address=addr,
                    identity=self.identity(uid),
                    soh_openings=self.vault,
                )
            )
        elif fmt == "batterypass":
            doc = battery_passport(
                self.index,
                uid,
                declarations=self._declared.get(uid),
                tier=tier,
                chain_id=cid,
                ledger_address=addr,
                identity=self.identity(uid),
                soh_openings=self.vault,
            )
            # Belt and braces: whatever the export did, nothing above the tier leaves the service.
            doc = filter_tier(doc, tier)
        else:
            raise errors.InvalidInput(f"unknown passport format {fmt!r}; formats: {', '.join(FORMATS)}")
        return self._keep(key, doc)  # type: ignore[no-any-return]

    def passport_json(self, uid: bytes, fmt: str, tier: str) -> bytes:
        """Return :meth:`passport` as the JSON bytes the service sends (serialised once per synced block)."""
        key = ("json", uid, fmt, tier)
        hit = self._cached(key)
        if hit is None:
            hit = self._keep(key, json.dumps(self.passport(uid, fmt, tier), ensure_ascii=False, separators=(",", ":")).encode())
        return hit  # type: ignore[no-any-return]

    def passport_page(self, uid: bytes, tier: str) -> str:
        """Return a unit's passport page (``ledger.passport_html`` of its Battery Pass export at `tier`), linking
        its linked passports on this service; built once per synced block, as the export is."""
        key = ("page", uid, tier)
        hit = self._cached(key)
        if hit is None:
            hit = self._keep(key, passport_html(self.passport(uid, "batterypass", tier), link="/passport/{label}"))
        return hit  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ records

    def lot(self, lid: bytes, tier: str) -> dict[str, Any]:
        """Return a lot's record as the registry holds it now and its history (a unit's use, Annex XIII
        point 4, only to a tier that may see it)."""
        key = ("lot", lid, tier)
        hit = self._cached(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        row = LotRow.of(self.state().lots[lid])
        info = _row(row)
        hide = _USE_EVENTS if rank(tier) < rank(LEGITIMATE_INTEREST) else frozenset()
        info["history"] = [
            {"event": e["event"], "block": e["block"], "time": e["time"]}
            for e in lot_history(self.index, lid)[:SEARCH_LIMIT]
            if e["event"] not in hide
        ]
        return self._keep(key, info)  # type: ignore[no-any-return]

    def unit(self, uid: bytes, tier: str) -> dict[str, Any]:
        """Return a unit's on-chain structure (rated energy, parents, holder); its status only to a tier that may see it (point 4)."""
        st = self.state()
        unit, lot = st.units[uid], st.lots[uid]
        out: dict[str, Any] = {
            "id": hex_of(uid),
            "label": label_of(uid),
            "ratedEnergyKwh": unit.rated_wh / 1000,
            "holder": LotRow.of(lot).holder,
            "parents": [label_of(p) for p in unit.parents],
            "passport": f"/passport/{label_of(uid)}",
        }
        if rank(tier) >= rank(LEGITIMATE_INTEREST):
            # Its status and the units made from it say what became of the battery: its use, point 4 (the
            # passport's ``passportLinks.madeInto`` is point 4 for the same reason).
            out["status"] = _STATUS.get(unit.status, str(unit.status))
            out["children"] = sorted(label_of(c) for c, u in st.units.items() if uid in u.parents)
        return out

    def provenance(self, lid: bytes, direction: str = "up") -> Trace:
        """Return the material graph around a lot (upstream to the mines by default)."""
        if direction not in ("up", "down", "both"):
            raise errors.InvalidInput("direction is up, down or both")
        key = ("trace", lid, direction)
        hit = self._cached(key)
        if hit is None:
            hit = self._keep(key, trace(self.index, lid, direction=direction))  # type: ignore[arg-type]
        return hit  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ registry

    def participant(self, address: str) -> Participant | None:
        """Return the registry record of an account now (None when it was never registered)."""
        key = ("participants",)
        table = self._cached(key)
        if table is None:
            table = self._keep(key, {p.address.lower(): p for p in participants(self.index)})
        return table.get(address.lower())  # type: ignore[no-any-return]

    def tier_for(self, address: str | None) -> str:
        """Return the tier an account has now (public for None, unregistered or suspended)."""
        return PUBLIC if address is None else tier_of(self.participant(address))

    # ------------------------------------------------------------------ search

    def search(self, q: str, by: str | None = None) -> list[dict[str, Any]]:
        """Find lots and units by id, serial, material code, origin (country, or ``CC:site``) or holder address."""
        q = q.strip()
        if not q or len(q) > 80:
            raise errors.InvalidInput("a search is 1-80 characters")
        if by is not None and by not in SEARCH_FIELDS:
            raise errors.InvalidInput(f"search by one of {', '.join(SEARCH_FIELDS)}")
        fields = (by,) if by else SEARCH_FIELDS
        st = self.state()
        hits: dict[bytes, set[str]] = {}

        def add(ids: Any, why: str) -> None:
            for i in ids:
                hits.setdefault(i, set()).add(why)

        if "id" in fields and ID_PATTERN.match(q) and ".." not in q:
            try:
                add([self.resolve(q)], "id")
            except errors.InvalidInput:
                pass  # unknown, or ambiguous: the serial search below still lists what matches
        if "serial" in fields:
            add(self._by_serial(q, suffixes=False), "serial")
        if "material" in fields and len(q.encode()) <= 32:
            codes = {id_bytes(q), id_bytes(q.upper())}
            add((i for i, r in st.lots.items() if r.material in codes), "material")
        if "origin" in fields:
            country, _, site = q.partition(":")
            if _COUNTRY.match(country):
                cc = country.upper().encode()
                # A site is salted on-chain: only lots whose opening this service holds can match one.
                add(
                    (i for i, r in st.lots.items() if r.origin[:2] == cc and (not site or self.site(i) == site)),
                    "origin",
                )
        if "holder" in fields and _ADDRESS.match(q):
            add((i for i, r in st.lots.items() if r.holder == q.lower()), "holder")
        out = []
        for lid, why in list(hits.items())[:SEARCH_LIMIT]:
            info = _row(LotRow.of(st.lots[lid]))
            info["matched"] = sorted(why)
            out.append(info)
        return out


def _row(row: LotRow) -> dict[str, Any]:
    label = label_of(row.lot_id)
    unit = row.kind == LotKind.UNIT
    return {
        "id": row.lot_id,
        "label": label,
        "kind": "unit" if unit else "material",
        "material": label_of(row.material),
        "massG": row.mass_g,
        "mintedMassG": row.minted_mass_g,
        "state": _STATE.get(row.state, str(row.state)),
        "holder": row.holder,
        "creator": row.creator,
        "originCountry": row.country,
        "origin": row.origin,
        "mintedBlock": row.minted_block,
        "mintedAt": row.minted_at,
        "madeByOperation": row.made_by_operation,
        "page": f"/lot/{label}",
        **({"passport": f"/passport/{label}"} if unit else {}),
    }
