"""Attestation files: the JSON form of a signed attestation, read strictly and written atomically (0600)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ledger.attest.eip712 import _FIELDS, _message_dict
from ledger.attest.records import SignedAttestation
from ledger.domain.problems import first_problem
from ledger.errors import AttestationError
from ledger.local.files import write_atomic

#: The "type" tag of attestation files; a new layout gets a new version.
FILE_TYPE = "rinne.gwp-attestation/v1"


_MAX_FILE_BYTES = 64 * 1024


_TOP_KEYS = ("type", "chainId", "contract", "message", "signer", "signature", "uid")


_TOP_FIELD = {"chain_id": "chainId", "contract": "contract", "signer": "signer", "signature": "signature"}

#: (typed-data name, Solidity type, model field) of a signed message, in struct order.
Fields = Sequence[tuple[str, str, str]]
_Signed = TypeVar("_Signed", bound=BaseModel)


def signed_to_dict(file_type: str, message: dict[str, Any], signed: Any) -> dict[str, Any]:
    """The self-describing JSON object of a signed message (attestation or process inventory): the file format."""
    return {
        "type": file_type,
        "chainId": signed.chain_id,
        "contract": signed.contract,
        "message": message,
        "signer": signed.signer,
        "signature": signed.signature,
        "uid": signed.uid,
    }


def attestation_to_dict(signed: SignedAttestation) -> dict[str, Any]:
    """Return the self-describing JSON object of a signed attestation (the file format)."""
    return signed_to_dict(FILE_TYPE, _message_dict(signed.attestation, nonce_as_str=True), signed)


def signed_from_dict(data: Any, *, file_type: str, what: str, fields: Fields, model: type[_Signed], record: str) -> _Signed:
    """Parse the JSON object of a signed message strictly: its type tag, every key and no other, the record
    (`model`'s field `record`) from the message's `fields`, and its uid against the digest."""
    if not isinstance(data, Mapping):
        raise AttestationError("expected a JSON object")
    kind = data.get("type")
    if kind != file_type:
        raise AttestationError(f"not a Rinne {what}: type is {kind!r}, expected {file_type!r}")
    for key in _TOP_KEYS:
        if key not in data:
            raise AttestationError(f"{key}: missing")
    extra = sorted(set(data) - set(_TOP_KEYS))
    if extra:
        raise AttestationError(f"{extra[0]}: unexpected key")
    message = data["message"]
    if not isinstance(message, Mapping):
        raise AttestationError("message: expected a JSON object")
    names = [name for name, _, _ in fields]
    for name in names:
        if name not in message:
            raise AttestationError(f"message.{name}: missing")
    extra = sorted(set(message) - set(names))
    if extra:
        raise AttestationError(f"message.{extra[0]}: unexpected key")
    json_name = {field: name for name, _, field in fields}

    def json_path(loc: Sequence[str]) -> list[str]:
        # A record's field location as the file's JSON names.
        if loc and loc[0] == record:
            return ["message"] + [json_name.get(p, p) for p in loc[1:]]
        return [_TOP_FIELD.get(p, p) for p in loc]

    try:
        signed = model.model_validate(
            {
                record: {field: message[name] for name, _, field in fields},
                "signer": data["signer"],
                "signature": data["signature"],
                "chain_id": data["chainId"],
                "contract": data["contract"],
            }
        )
    except ValidationError as e:
        raise AttestationError(first_problem(e, json_path)) from None
    # A uid that disagrees means the message, domain or uid was altered after signing (or hand-edited).
    uid = data["uid"]
    digest = signed.uid  # type: ignore[attr-defined]
    if not isinstance(uid, str) or uid.lower() != digest:
        raise AttestationError(f"uid: {uid!r} does not match the {what}'s digest {digest}")
    return signed


def attestation_from_dict(data: Any) -> SignedAttestation:
    """Parse the JSON object of a signed attestation, checking its type tag and its uid."""
    return signed_from_dict(
        data, file_type=FILE_TYPE, what="GWP attestation", fields=_FIELDS, model=SignedAttestation, record="attestation"
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Parsers disagree on which duplicate wins; an attestation must mean one thing to everyone.
            raise AttestationError(f"{key}: duplicate key")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise AttestationError(f"{name} is not a valid JSON number here")


def read_signed_file(path: str | os.PathLike[str], parse: Callable[[Any], _Signed], what: str) -> _Signed:
    """Read a signed message file (at most 64 KiB of strict JSON: no duplicate keys, no NaN) and `parse` it;
    AttestationError with one line, naming the file, if anything is wrong."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(_MAX_FILE_BYTES + 1)
    except OSError as e:
        raise AttestationError(f"{p}: cannot read: {e.strerror or e}") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise AttestationError(f"{p}: larger than {_MAX_FILE_BYTES} bytes, not {what}")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise AttestationError(f"{p}: not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise AttestationError(f"{p}: not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except AttestationError as e:
        raise AttestationError(f"{p}: {e}") from None
    except RecursionError:
        raise AttestationError(f"{p}: JSON nested too deeply") from None
    try:
        return parse(data)
    except AttestationError as e:
        raise AttestationError(f"{p}: {e}") from None


def write_signed_file(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a signed message's JSON object atomically (replacing any old file)."""
    p = Path(path)
    text = json.dumps(data, indent=2) + "\n"
    try:
        # Attestations and inventories are public documents: 0644 before umask, unlike keystores.
        write_atomic(p, text.encode("utf-8"), mode=0o644)
    except OSError as e:
        raise AttestationError(f"{p}: cannot write: {e.strerror or e}") from None


def load_attestation(path: str | os.PathLike[str]) -> SignedAttestation:
    """Load a signed attestation file, raising AttestationError with one line if it is malformed."""
    return read_signed_file(path, attestation_from_dict, "an attestation")


def save_attestation(signed: SignedAttestation, path: str | os.PathLike[str]) -> None:
    """Write a signed attestation as a self-describing JSON file, atomically (replacing any old file)."""
    write_signed_file(attestation_to_dict(signed), path)
