"""Sign-In with Ethereum (EIP-4361): the message a party signs with ``personal_sign`` (EIP-191), parsed
and checked field by field, and the single-use nonces the service hands out.

The ``siwe`` package pins web3 below 8, which this project uses, so the message grammar of EIP-4361 is
parsed here: the fields in the order the ABNF gives, each on its own line. What is checked:
the domain and the URI are this service's, the version is 1, the chain id is the ledger's, the nonce
is one this process issued and has not yet seen used, issued-at is recent, the message has an
expiration time still ahead and any not-before already past, and the signature recovers to the
EIP-55 address the message names. ERC-1271 contract wallets are not supported yet.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address

from ledger import errors
from ledger.domain.times import iso_time

#: The longest message accepted (a real one is a few hundred bytes).
MAX_MESSAGE = 4_096
#: How far ahead of this clock a message's issued-at may be (the signer's clock may run fast).
CLOCK_SKEW = 60

_HEADER = re.compile(r"^(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<domain>[^\s/]+) wants you to sign in with your Ethereum account:$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^[A-Za-z0-9]{8,64}$")
_OPTIONAL = ("Expiration Time", "Not Before", "Request ID")


class SignInError(errors.InvalidInput):
    """A sign-in message that is malformed, not for this service, stale, replayed or wrongly signed."""


class TooManySignIns(SignInError):
    """A client that holds as many unused nonces as it may: it waits for them to expire."""


@dataclass(frozen=True)
class SiweMessage:
    """The fields of an EIP-4361 message."""

    domain: str
    address: str
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None

    def text(self) -> str:
        """Return the message as the signer signs it (the EIP-4361 layout)."""
        head = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [f"{head} wants you to sign in with your Ethereum account:", self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        lines += [f"URI: {self.uri}", f"Version: {self.version}", f"Chain ID: {self.chain_id}", f"Nonce: {self.nonce}"]
        lines.append(f"Issued At: {self.issued_at}")
        for name, value in zip(_OPTIONAL, (self.expiration_time, self.not_before, self.request_id), strict=True):
            if value is not None:
                lines.append(f"{name}: {value}")
        if self.resources:
            lines += ["Resources:"] + [f"- {r}" for r in self.resources]
        return "\n".join(lines)


def _time(text: str, what: str) -> float:
    try:
        t = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise SignInError(f"{what} {text!r} is not an RFC 3339 time") from None
    if t.tzinfo is None:
        raise SignInError(f"{what} {text!r} has no time zone")
    return t.timestamp()


def iso(t: float) -> str:
    """Return a unix time as the RFC 3339 UTC text EIP-4361 uses."""
    return str(iso_time(int(t)))


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message (:class:`SignInError` when it is not one)."""
    if len(text) > MAX_MESSAGE:
        raise SignInError(f"sign-in message longer than {MAX_MESSAGE} characters")
    lines = text.split("\n")
    pos = 0

    def take(prefix: str, optional: bool = False) -> str | None:
        nonlocal pos
        if pos < len(lines) and lines[pos].startswith(prefix + ": "):
            pos += 1
            return lines[pos - 1][len(prefix) + 2 :]
        if optional:
            return None
        raise SignInError(f"not an EIP-4361 message: line {pos + 1} should be '{prefix}: ...'")

    head = _HEADER.match(lines[0]) if lines else None
    if head is None or len(lines) < 3:
        raise SignInError(
            "not an EIP-4361 message: the first line must be '<domain> wants you to sign in with your Ethereum account:'"
        )
    address = lines[1]
    if not _ADDRESS.match(address):
        raise SignInError("not an EIP-4361 message: the second line must be the 0x address")
    if to_checksum_address(address) != address:
        raise SignInError("the address in the message is not in its EIP-55 checksum form")
    if lines[2] != "":
        raise SignInError("not an EIP-4361 message: a blank line must follow the address")
    pos = 3
    statement = None
    if pos < len(lines) and not lines[pos].startswith("URI: "):
        statement = lines[pos]
        if pos + 1 >= len(lines) or lines[pos + 1] != "":
            raise SignInError("not an EIP-4361 message: a blank line must follow the statement")
        pos += 2
    uri = take("URI")
    version = take("Version")
    chain = take("Chain ID")
    nonce = take("Nonce")
    issued = take("Issued At")
    expiration, not_before, request_id = (take(n, optional=True) for n in _OPTIONAL)
    resources: list[str] = []
    if pos < len(lines) and lines[pos] == "Resources:":
        pos += 1
        while pos < len(lines) and lines[pos].startswith("- "):
            resources.append(lines[pos][2:])
            pos += 1
    if pos != len(lines):
        raise SignInError(f"not an EIP-4361 message: unexpected line {pos + 1}")
    assert uri is not None and version is not None and chain is not None and nonce is not None and issued is not None
    if not chain.isdigit() or len(chain) > 20:
        raise SignInError(f"chain id {chain!r} is not a number")
    if not _NONCE.match(nonce):
        raise SignInError("the nonce must be 8-64 letters and digits")
    return SiweMessage(
        domain=head["domain"],
        address=address,
        uri=uri,
        version=version,
        chain_id=int(chain),
        nonce=nonce,
        issued_at=issued,
        statement=statement,
        expiration_time=expiration,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
        scheme=head["scheme"],
    )


@dataclass
class NonceStore:
    """Nonces this process issued, each good for one sign-in attempt within `seconds`.

    Outstanding nonces are capped in all (`capacity`) and per client (`per_client`, 0 for no cap): without
    the second, one client asking in a loop fills the whole store and holds everyone's sign-in up until
    its nonces expire. A client is what the caller names (the peer address): behind a proxy every reader
    shares the proxy's, so a deployment there sets `per_client` to 0 and lets the proxy limit.
    """

    seconds: int = 300
    capacity: int = 10_000
    per_client: int = 20
    # In issue order, which is expiry order (one lifetime for all): expiring pops from the front only, so a
    # client knocking at its cap costs what has expired since, not a pass over every outstanding nonce.
    _issued: OrderedDict[str, tuple[float, str]] = field(default_factory=OrderedDict)
    _held: dict[str, int] = field(default_factory=dict)

    def _expire(self, t: float) -> None:
        issued = self._issued
        while issued:
            nonce = next(iter(issued))
            exp, who = issued[nonce]
            if exp > t:
                break
            del issued[nonce]
            self._release(who)

    def _release(self, who: str) -> None:
        left = self._held.get(who, 1) - 1
        if left > 0:
            self._held[who] = left
        else:
            self._held.pop(who, None)

    def issue(self, now: float | None = None, client: str = "") -> str:
        """Return a fresh nonce for `client` (:class:`SignInError` when too many are outstanding)."""
        t = time.time() if now is None else now
        if len(self._issued) >= self.capacity:
            self._expire(t)
            if len(self._issued) >= self.capacity:
                raise SignInError("too many sign-ins in progress; try again in a few minutes")
        if self.per_client and self._held.get(client, 0) >= self.per_client:
            self._expire(t)
            if self._held.get(client, 0) >= self.per_client:
                raise TooManySignIns(
                    f"{self.per_client} sign-ins from this address are in progress already; use one or wait "
                    f"{self.seconds // 60} minutes"
                )
        nonce = secrets.token_hex(16)
        self._issued[nonce] = (t + self.seconds, client)
        self._held[client] = self._held.get(client, 0) + 1
        return nonce

    def consume(self, nonce: str, now: float | None = None) -> None:
        """Use up a nonce (:class:`SignInError` when it was never issued, is used already or has expired)."""
        entry = self._issued.pop(nonce, None)
        if entry is None:
            raise SignInError("unknown or already used nonce: ask /auth/nonce for a new one")
        exp, who = entry
        self._release(who)
        if exp <= (time.time() if now is None else now):
            raise SignInError("the nonce has expired: ask /auth/nonce for a new one")


def verify_sign_in(
    text: str,
    signature: str,
    *,
    domain: str,
    origin: str,
    chain_id: int,
    nonces: NonceStore,
    max_age: int = 300,
    now: float | None = None,
) -> tuple[SiweMessage, float]:
    """Check a signed EIP-4361 message for this service and return it with the time its session must end by.

    The nonce is used up as soon as the message names it, whatever else is wrong, so a message can never
    be tried twice.
    """
    t = time.time() if now is None else now
    msg = parse_message(text)
    nonces.consume(msg.nonce, t)
    if msg.domain != domain:
        raise SignInError(f"the message is for {msg.domain!r}; this service is {domain!r}")
    u = urlsplit(msg.uri)
    o = urlsplit(origin)
    if (u.scheme, u.netloc) != (o.scheme, o.netloc):
        raise SignInError(f"the message's URI {msg.uri!r} is not on {origin}")
    if msg.version != "1":
        raise SignInError(f"EIP-4361 version {msg.version!r}; only 1 exists")
    if msg.chain_id != chain_id:
        raise SignInError(f"the message is for chain {msg.chain_id}; this ledger is on chain {chain_id}")
    issued = _time(msg.issued_at, "issued-at")
    if issued > t + CLOCK_SKEW or issued < t - max_age:
        raise SignInError(f"the message was issued at {msg.issued_at}: sign a fresh one")
    if msg.expiration_time is None:
        raise SignInError("the message has no expiration time: this service asks for one")
    expires = _time(msg.expiration_time, "expiration time")
    if expires <= t:
        raise SignInError(f"the message expired at {msg.expiration_time}")
    if msg.not_before is not None and _time(msg.not_before, "not-before") > t:
        raise SignInError(f"the message is not valid before {msg.not_before}")
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # a malformed signature: eth_account raises several types
        raise SignInError("the signature is not a valid 65-byte secp256k1 signature") from None
    if signer != msg.address:
        raise SignInError("the signature is not by the address in the message")
    return msg, expires
