"""Keccak-256 and EIP-55 checksummed addresses, loaded on first use.

The hash backend is imported when first needed, so that ``rinne --help`` and the offline domain
types start without it. safe-pysha3's C Keccak takes about 1 µs a hash, pycryptodome (eth-hash's
default) 5-10 µs: the audit hashes every event four times (ledger heads), so it is a dependency;
eth-hash stays the fallback where its wheel cannot be installed.
"""

from __future__ import annotations

from collections.abc import Callable

_impl: Callable[[bytes], bytes] | None = None
KECCAK_BACKEND = ""


def _load() -> Callable[[bytes], bytes]:
    global _impl, KECCAK_BACKEND
    try:
        from sha3 import keccak_256

        def fast(data: bytes) -> bytes:
            digest: bytes = keccak_256(data).digest()
            return digest

        _impl, KECCAK_BACKEND = fast, "pysha3"
    except ImportError:  # pragma: no cover - depends on the environment
        from eth_hash.auto import keccak as slow

        _impl, KECCAK_BACKEND = slow, "eth-hash"
    return _impl


def keccak(data: bytes) -> bytes:
    """Keccak-256 of `data` (Ethereum's hash, not NIST SHA3-256)."""
    return (_impl or _load())(data)


def keccak_backend() -> str:
    """Which Keccak implementation is in use ("pysha3" or "eth-hash")."""
    if _impl is None:
        _load()
    return KECCAK_BACKEND


def checksum_address(raw: bytes | str) -> str:
    """EIP-55 mixed-case form of a 20-byte address (bytes or 40 hex digits, with or without 0x)."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) != 20:
            raise ValueError(f"an address has 20 bytes, got {len(raw)}")
        body = bytes(raw).hex()
    else:
        body = raw[2:] if raw[:2] in ("0x", "0X") else raw
        if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
            raise ValueError(f"not an address: {raw!r}")
        body = body.lower()
    digest = keccak(body.encode()).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(body, digest))
