"""`rinne disclose` and `rinne verify-disclosure`: hand out the openings of salted commitments, and check them.

The chain holds salted roots of identity records (a unit's serial, a lot's site, a participant's name) and of
evidence and reasons (a document's hash, a freeze, suspension or revocation reason); their openings are in the
vault of whoever wrote them (docs/confidentiality.md). Granting re-wraps a record's data
key for another party's vault key and never re-encrypts the data; a disclosure file carries chosen fields with
their Merkle proofs, which anyone checks offline against the on-chain root.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import ledger as rinne

from ._core import (
    CliError,
    Session,
    index_option,
    open_index,
    pass_session,
    read_command,
    trust_index_option,
)

_KINDS = ("unit", "lot", "party", "evidence")


def _record_id(text: str) -> str:
    """``unit:ID``, ``lot:ID``, ``party:ADDRESS`` or ``word:0xWORD`` (a bare id is a unit) → the vault's record id."""
    kind, sep, rest = text.partition(":")
    if kind == "word" and sep:
        if not re.fullmatch(r"0x[0-9a-fA-F]{64}", rest):
            raise click.BadParameter(f"{text!r}: an evidence or reason word is 0x and 64 hex digits", param_hint="RECORD")
        return rinne.evidence_vault_id(rest)
    if not sep or kind not in _KINDS:
        kind, rest = "unit", text
    try:
        if kind == "party":
            return rinne.party_record_id(rinne.checksum_address(rest))
        return rinne.unit_record_id(rest) if kind == "unit" else rinne.lot_record_id(rest)
    except ValueError as e:
        raise click.BadParameter(f"{text!r}: {e}", param_hint="RECORD") from None


def _recipient_keys(session: Session, recipients: tuple[str, ...]) -> list[bytes]:
    """--to values as vault keys: a key as given, an account (address or local name) by the key it published."""
    wanted = session.vault_recipients(recipients)
    if all(isinstance(r, bytes) for r in wanted):  # keys only: no chain needed, a grant works offline
        return [rinne.checked_vault_key(r) for r in wanted]
    return list(session.ledger().recipient_keys(wanted))


def _vault(session: Session) -> Any:
    vault = session.vault(create=False)
    if vault is None:
        raise CliError(f"{session.home} has no vault key yet: it has written no salted commitment and holds no grant")
    return vault


@click.command()
@click.argument("record", required=False)
@click.option(
    "--to",
    "recipients",
    multiple=True,
    metavar="KEY|NAME|ADDRESS",
    help="Grant the record to this X25519 public key, or to the key this account published (repeat).",
)
@click.option("--field", "fields", multiple=True, metavar="NAME", help="Disclose this field in the --out file (repeat).")
@click.option(
    "--tier",
    type=click.Choice(["public", "legitimate-interest", "authority"]),
    help="Disclose every field this Annex XIII tier may see (without --field: every field).",
)
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write a disclosure of the fields, with proofs, to FILE."
)
@click.option("--show-key", is_flag=True, help="Print this data directory's vault public key (what others grant to).")
@click.option("--list", "list_", is_flag=True, help="List the records this data directory's vault key can open.")
@index_option
@read_command
@pass_session
def disclose(
    session: Session,
    record: str | None,
    recipients: tuple[str, ...],
    fields: tuple[str, ...],
    tier: str | None,
    out: Path | None,
    show_key: bool,
    list_: bool,
) -> None:
    """Grant a record's openings to a party, or write a disclosure of its fields.

    RECORD is unit:ID (or a bare unit id), lot:ID, party:ADDRESS, or word:0xWORD for
    an evidence or reason word (a lot's, status change's or SOH record's evidence, a
    GWP attestation's or inventory's, a freeze, suspension or revocation reason). --to wraps the
    record's data key for another vault key, given as the key or as the account that published it
    (`rinne account publish-vault-key`); the data is never re-encrypted. --out
    writes the chosen fields with their Merkle proofs, which `rinne verify-disclosure`
    checks against the on-chain commitment, offline.

    \b
    Examples:
      rinne disclose --show-key
      rinne disclose --list
      rinne disclose unit:LF005 --to 3f5c...e1 --account packs
      rinne disclose unit:LF005 --to oem --account packs
      rinne disclose unit:LF005 --field serialNumber --out lf005-serial.json
      rinne disclose lot:ORE-CO-1 --tier authority --out ore-site.json
      rinne disclose word:0x7d68...b9 --out freeze-reason.json --account auditor
    """
    if show_key:
        vault = session.vault()
        assert vault is not None  # made on demand
        key = "0x" + vault.public_key.hex()
        session.emit({"public_key": key}, key)
        return
    if list_:
        _list(session)
        return
    if record is None:
        raise click.UsageError("name the RECORD to disclose (unit:ID, lot:ID, party:ADDRESS or word:0xWORD), or pass --show-key")
    if not recipients and out is None:
        raise click.UsageError("say what to do: --to KEY grants the record, --out FILE writes a disclosure")
    record_id = _record_id(record)
    keys = _recipient_keys(session, recipients)
    vault = _vault(session)
    disclosed: list[str] = []
    # The disclosure first, the grants after: a command that fails leaves the vault as it was.
    if out is not None:
        opened = vault.openings(record_id)
        names = list(fields) or opened.names(rinne.VISIBLE_POINTS[tier] if tier else (1, 2, 3, 4))
        if tier and fields:
            visible = set(opened.names(rinne.VISIBLE_POINTS[tier]))
            hidden = [n for n in names if n in opened.fields and n not in visible]
            if hidden:
                raise CliError(f"tier {tier} may not see field {hidden[0]!r} of {record_id}")
        if not names:
            raise CliError(f"{record_id} has no field the {tier} tier may see")
        disclosure = rinne.disclose(opened, names)
        try:
            out.write_bytes(disclosure.to_json())
        except OSError as e:
            raise CliError(f"cannot write {out}: {e.strerror or e}") from None
        disclosed = [f.name for f in disclosure.fields]
    for key in keys:
        vault.grant(record_id, key)
    lines = [f"granted {record_id} to 0x{k.hex()}" for k in keys]
    if out is not None:
        lines.append(f"wrote {out}: {', '.join(disclosed)} of {record_id}, with proofs")
    session.emit(
        {
            "record_id": record_id,
            "granted": ["0x" + k.hex() for k in keys],
            "disclosed": disclosed,
            "file": str(out) if out is not None else None,
        },
        lines,
    )


def _list(session: Session) -> None:
    vault = session.vault(create=False)
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    for record in vault.records() if vault is not None else []:
        row: dict[str, Any] = {"record": record}
        what = record
        if record.startswith("word:"):
            # An evidence or reason word: its opening says what it is about (the kind and the subjects).
            try:
                opened_id = vault.openings(record).record_id
                if opened_id.startswith("soh:"):
                    # An SOH record (its root is the word): the unit it is about.
                    unit = opened_id.split(":")[1]
                    rows.append({**row, "kind": "soh", "subjects": [unit]})
                    lines.append(f"{record}  SOH record of {rinne.label_of(unit)}")
                    continue
                kind, subjects = rinne.evidence_subjects(opened_id)
            except rinne.DisclosureError as e:
                row["error"] = str(e)
                what = f"{record}  (cannot open: {e})"
            else:
                row.update(kind=kind, subjects=subjects)
                field = rinne.EVIDENCE_KINDS[kind][0]
                what = f"{record}  {kind} {field} of {', '.join(rinne.label_of(x) for x in subjects)}"
        rows.append(row)
        lines.append(what)
    session.emit(rows, lines or ["this vault key opens no record"])


@click.command("verify-disclosure")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--root",
    metavar="HEX",
    help="Check against this commitment (the bytes32 read from the chain) instead of reading it from the event index: offline.",
)
@trust_index_option
@read_command
@pass_session
def verify_disclosure(session: Session, file: Path, root: str | None, trust_index: bool) -> None:
    """Check a disclosure file against the on-chain commitment of its record.

    A unit's fields are checked against its serialHash, a lot's against its origin
    word (country in clear, 30 bytes of the root), each field's Merkle proof folded
    offline. An evidence record is checked against the evidence words of its subject
    (a lot's, a unit's status changes and SOH records, an attestation's or
    inventory's, their revocation reasons). A changed value, salt, proof or field,
    or a disclosure of another record, fails (exit 1). Party records, freeze and
    suspension reasons need --root (the word of their event).

    \b
    Examples:
      rinne verify-disclosure lf005-serial.json
      rinne verify-disclosure lf005-serial.json --root 0x5d1c...9a
    """
    if root is not None and not re.fullmatch(r"0x[0-9a-fA-F]{64}", root):
        raise click.BadParameter(f"{root!r} is no bytes32 (0x and 64 hex digits)", param_hint="--root")
    try:
        disclosure = rinne.Disclosure.from_json(file.read_bytes())
    except OSError as e:
        raise CliError(f"cannot read {file}: {e.strerror or e}") from None
    kind, _, target = disclosure.record_id.partition(":")
    if kind == "soh" and target:
        _verify_soh(session, disclosure, target.partition(":")[0], root, trust_index)
        return
    if kind not in _KINDS or not target:
        raise CliError(f"{file} discloses record {disclosure.record_id!r}, which is no unit, lot, party or evidence record")
    if kind == "evidence":
        _verify_evidence(session, disclosure, root, trust_index)
        return
    if root is None:
        if kind == "party":
            raise CliError("a party record is checked against its nameHash: pass --root (from the ParticipantRegistered event)")
        with open_index(session, trust=trust_index) as index:
            st = index.state()
            raw = rinne.id_bytes(target)
            if kind == "unit":
                if raw not in st.units:
                    raise CliError(f"no battery unit {rinne.label_of(raw)} on this ledger")
                word = st.units[raw].serial_hash
            else:
                if raw not in st.lots:
                    raise CliError(f"no lot {rinne.label_of(raw)} on this ledger")
                word = st.lots[raw].origin
        root = "0x" + bytes(word).hex()
    if kind == "unit":
        verified = rinne.verify_unit(root, disclosure, target)
    elif kind == "lot":
        verified = rinne.verify_origin(root, disclosure, target)
    else:
        verified = rinne.verify_party(root, disclosure, rinne.checksum_address(target))
    session.emit(
        {"record_id": disclosure.record_id, "root": root, "verified": True, "fields": verified},
        [f"{disclosure.record_id}: {len(verified)} field(s) verify against {root}"] + [f"  {k} = {v}" for k, v in verified.items()],
    )


def _verify_evidence(session: Session, disclosure: Any, root: str | None, trust_index: bool) -> None:
    kind, subjects = rinne.evidence_subjects(disclosure.record_id)
    subject = subjects[0]
    if root is not None:
        words = [root]
    elif kind in ("freeze", "suspend"):
        raise CliError(f"a {kind} reason is checked against the reason word of its event: pass --root")
    else:
        with open_index(session, trust=trust_index) as index:
            words = ["0x" + bytes(w).hex() for w in _evidence_words(index.state(), kind, rinne.id_bytes(subject))]
    _emit_first_verified(
        session,
        disclosure,
        words,
        lambda word: rinne.verify_evidence(word, disclosure, kind, subject),
        f"{kind} evidence word of {rinne.label_of(subject)}",
        f"{kind} evidence of {rinne.label_of(subject)}",
    )


def _verify_soh(session: Session, disclosure: Any, unit: str, root: str | None, trust_index: bool) -> None:
    if root is not None:
        roots = [root]
    else:
        with open_index(session, trust=trust_index) as index:
            st = index.state()
            raw = rinne.id_bytes(unit)
            if raw not in st.units:
                raise CliError(f"no battery unit {rinne.label_of(raw)} on this ledger")
            roots = []
            for rec in st.units[raw].soh:
                while rec is not None:  # a corrected record keeps the one it superseded
                    roots.append("0x" + bytes(rec.root).hex())
                    rec = rec.corrected
    _emit_first_verified(
        session,
        disclosure,
        roots,
        lambda r: rinne.verify_soh(r, disclosure, unit),
        f"SOH record of {rinne.label_of(unit)}",
        f"SOH record of {rinne.label_of(unit)}",
    )


def _emit_first_verified(
    session: Session, disclosure: Any, roots: list[str], verify: Callable[[str], dict[str, Any]], against: str, what: str
) -> None:
    # The first of the candidate roots the disclosure verifies against; a single root's own error is the answer.
    for root in roots:
        try:
            fields = verify(root)
        except rinne.DisclosureError:
            if len(roots) == 1:
                raise
            continue
        session.emit(
            {"record_id": disclosure.record_id, "root": root, "verified": True, "fields": fields},
            [f"{what}: {len(fields)} field(s) verify against {root}"] + [f"  {k} = {v}" for k, v in fields.items()],
        )
        return
    raise CliError(f"{disclosure.record_id}: verifies against no {against} on this ledger")


def _evidence_words(st: Any, kind: str, subject: bytes) -> list[bytes]:
    """The on-chain evidence (or revocation reason) words written for a subject, from the replayed state."""
    zero = bytes(32)
    if kind == "lot":
        lot = st.lots.get(subject)
        out = [lot.evidence] if lot is not None else []
    elif kind in ("status", "soh"):
        unit = st.units.get(subject)
        if unit is None:
            out = []
        elif kind == "status":
            out = [s[4] for s in unit.statuses]
        else:
            out = []
            for rec in unit.soh:
                while rec is not None:  # a corrected record keeps the one it superseded
                    out.append(rec.evidence)
                    rec = rec.corrected
    elif kind in ("attestation", "inventory"):
        records = st.attestations if kind == "attestation" else st.inventories
        out = [r.evidence for r in records.values() if r.lot_id == subject]
    else:  # revoke: the subject is the attestation's or inventory's uid
        rec = st.attestations.get(subject) or st.inventories.get(subject)
        out = [rec.revoked[3]] if rec is not None and rec.revoked else []
    return [bytes(w) for w in out if bytes(w) != zero]
