"""The Ledger client: connect, deploy, and every operation of the contracts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict
from web3 import Web3

from ledger import _node, errors
from ledger._abi import artifact, contract_abi
from ledger._deployments import load_deployment, save_deployment
from ledger._rpc import batch, call, make_web3
from ledger._trust import verify_deployment
from ledger._tx import Sender, to_receipt
from ledger.models import (
    ELEMENTS,
    Bytes32,
    Composition,
    Deployment,
    Lot,
    LotKind,
    LotSpec,
    LotState,
    Offer,
    Participant,
    PassportStatus,
    Receipt,
    Role,
    SohRecord,
    Unit,
    UnitSpec,
    label_of,
    to_bytes32,
)

_LEDGER = contract_abi("RinneLedger")
_GWP = contract_abi("GwpAttestations")
_ZERO32 = b"\0" * 32
_ZERO_WORDS = ([0, 0], [0, 0], [0, 0])
#: Lots per mintBatch transaction on a chain with 30M-gas blocks: about 82k gas each, so a transaction
#: stays under the 15M gas target and the base fee does not climb during an import. The bulk methods
#: size their transactions from the chain's own block gas limit (see :func:`_bulk_chunk`).
BULK_BATCH = 150
#: Calldata cap of one bulk transaction: geth-based pools refuse transactions over 128 KiB.
_MAX_TX_BYTES = 120_000
#: Gas cap of one transaction since Osaka (EIP-7825), whatever the block gas limit.
_MAX_TX_GAS = 1 << 24
#: Items whose gas a probe estimate measures before the bulk methods size their transactions.
_PROBE = 64
#: How ``web3_clientVersion`` begins on each development node: "anvil/v1.7.1",
#: "Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js", "HardhatNetwork/3.3.0/@nomicfoundation/edr/0.3.8".
_NODE_MARKS = (("anvil", "anvil/"), ("ganache", "ganache/"), ("hardhat", "hardhatnetwork/"))
#: The balance-setting method of each development node (see :meth:`Ledger.fund`).
_FUND_METHODS = {"anvil": "anvil_setBalance", "ganache": "evm_setAccountBalance", "hardhat": "hardhat_setBalance"}


class Use(BaseModel):
    """A lot consumed by an operation: the whole lot, or `mass` grams of it.

    Without an explicit `composition`, a partial use takes the lot's composition pro rata by mass
    (see Composition.take).
    """

    model_config = ConfigDict(frozen=True)

    lot_id: Bytes32
    mass: int | None = None
    composition: Composition | None = None


class BulkResult(BaseModel):
    """Outcome of a bulk write."""

    model_config = ConfigDict(frozen=True)

    done: int
    skipped: int
    transactions: int
    gas_used: int


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _b32(value: str) -> bytes:
    return bytes.fromhex(to_bytes32(value)[2:])


class Ledger:
    """A connection to the Rinne contracts on one chain, optionally acting as one account.

    Create it with :meth:`Ledger.connect`; switch the acting account with :meth:`with_account`.
    """

    def __init__(
        self,
        w3: Web3,
        chain_id: int,
        deployment: Deployment | None = None,
        *,
        account: LocalAccount | None = None,
        confirmations: int = 0,
        data_dir: Path | None = None,
        node: _node.NodeInfo | None = None,
        _shared: dict[str, Any] | None = None,
    ) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        # Ledgers made by with_account share the deployment and the per-account nonce keepers.
        self._shared = _shared if _shared is not None else {"deployment": deployment, "senders": {}}
        self.account = account
        self.confirmations = confirmations
        self.data_dir = Path(data_dir or _node.default_data_dir())
        self.node = node

    @property
    def deployment(self) -> Deployment | None:
        """The contract suite this ledger talks to (None until deployed or recorded)."""
        return self._shared["deployment"]

    @deployment.setter
    def deployment(self, value: Deployment | None) -> None:
        self._shared["deployment"] = value

    def __repr__(self) -> str:
        who = self.account.address if self.account else "read-only"
        return f"Ledger(chain {self.chain_id}, {who})"

    # ------------------------------------------------------------------------- connection

    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        *,
        chain_id: int | None = None,
        account: LocalAccount | None = None,
        data_dir: Path | str | None = None,
        confirmations: int = 0,
        port: int | None = None,
        deployment: Deployment | None = None,
    ) -> "Ledger":
        """Connect to `rpc_url`, or to the managed local Anvil node (started on demand) when it is None.

        `chain_id` guards against the wrong chain; the recorded deployment for the chain is loaded
        from the data directory when there is one.
        """
        data_dir = Path(data_dir or _node.default_data_dir())
        node = None
        if rpc_url is None:
            node = _node.start(data_dir, port=port)
            rpc_url = node.rpc_url
        w3 = make_web3(rpc_url)
        actual = int(call(w3, "eth_chainId", []), 16)
        if chain_id is not None and actual != chain_id:
            raise errors.WrongChain(f"{rpc_url} serves chain {actual}, expected {chain_id}")
        deployment = deployment or load_deployment(data_dir, actual)
        return cls(w3, actual, deployment, account=account, confirmations=confirmations, data_dir=data_dir, node=node)

    def with_account(self, account: LocalAccount) -> "Ledger":
        """Return a Ledger on the same connection acting as `account` (nonces shared per account)."""
        return Ledger(
            self.w3,
            self.chain_id,
            account=account,
            confirmations=self.confirmations,
            data_dir=self.data_dir,
            node=self.node,
            _shared=self._shared,
        )

    @property
    def address(self) -> str:
        """The acting account's address."""
        return self._sender().address

    def _sender(self) -> Sender:
        if self.account is None:
            raise errors.ConfigError("no account: this operation signs a transaction (use --account NAME)")
        senders: dict[str, Sender] = self._shared["senders"]
        sender = senders.get(self.account.address)
        if sender is None:
            sender = Sender(self.w3, self.account, self.chain_id, self.confirmations)
            senders[self.account.address] = sender
        return sender

    def _deployment(self) -> Deployment:
        if self.deployment is None:
            raise errors.NotDeployed(f"no Rinne deployment recorded for chain {self.chain_id}: run `rinne deploy` first")
        return self.deployment

    def check_deployment(self) -> Deployment:
        """Return the deployment after checking that the chain holds the shipped contracts there, wired to each other.

        Raises NotDeployed when the recorded addresses have no code (a reset node) and DeploymentMismatch when
        the code or the wiring is not the shipped suite's (see ledger/_trust.py).
        """
        d = self._deployment()
        verify_deployment(self.w3, d)
        return d

    def node_kind(self) -> str:
        """Which development node serves this connection: "anvil", "ganache", "hardhat", or "other".

        Read from ``web3_clientVersion`` once per connection (ledgers made by :meth:`with_account` share it).
        """
        kind = self._shared.get("node_kind")
        if kind is None:
            try:
                version = str(call(self.w3, "web3_clientVersion", [])).lower()
            except errors.ConnectionFailed:
                raise
            except errors.ChainError:
                version = ""
            kind = next((k for k, mark in _NODE_MARKS if version.startswith(mark)), "other")
            self._shared["node_kind"] = kind
        return kind

    def fund(self, address: str, wei: int = 10**21) -> None:
        """Give `address` a balance on a local development chain; dev chains only.

        Each node names the method differently: ``anvil_setBalance`` (Anvil), ``evm_setAccountBalance``
        (Ganache), ``hardhat_setBalance`` (the Hardhat node, also understood by Anvil).
        Any other node is asked with ``anvil_setBalance`` (a real chain refuses it: :class:`~ledger.errors.ChainError`).
        """
        method = _FUND_METHODS.get(self.node_kind(), "anvil_setBalance")
        call(self.w3, method, [to_checksum_address(address), hex(wei)])

    def deploy(self, admin: str | None = None, *, record: bool = True) -> Deployment:
        """Deploy RinneLedger and GwpAttestations in one go and record them for this chain."""
        sender = self._sender()
        admin = to_checksum_address(admin or sender.address)
        ledger_code = bytes.fromhex(artifact("RinneLedger")["bytecode"][2:]) + abi_encode(["address"], [admin])
        receipt, raw = sender.transact(None, ledger_code)
        ledger_addr = to_checksum_address(raw["contractAddress"])
        gwp_code = bytes.fromhex(artifact("GwpAttestations")["bytecode"][2:]) + abi_encode(["address"], [ledger_addr])
        _, raw2 = sender.transact(None, gwp_code)
        deployment = Deployment(
            chain_id=self.chain_id,
            ledger=ledger_addr,
            attestations=to_checksum_address(raw2["contractAddress"]),
            block=receipt.block_number,
            admin=admin,
            source_hash=artifact("RinneLedger").get("sourceHash"),
        )
        if record:
            save_deployment(self.data_dir, deployment)
        self.deployment = deployment
        return deployment

    # ------------------------------------------------------------------------ plumbing

    def _send(self, contract: str, fn: str, *args: Any) -> Receipt:
        d = self._deployment()
        abi = _LEDGER if contract == "ledger" else _GWP
        to = d.ledger if contract == "ledger" else d.attestations
        receipt, _ = self._sender().transact(to, abi.fn(fn).encode(*args))
        return receipt

    def _call(self, contract: str, fn: str, *args: Any) -> tuple[Any, ...]:
        d = self._deployment()
        abi = _LEDGER if contract == "ledger" else _GWP
        to = d.ledger if contract == "ledger" else d.attestations
        f = abi.fn(fn)
        result = call(self.w3, "eth_call", [{"to": to, "data": _hex(f.encode(*args))}, "latest"])
        return f.decode_output(bytes.fromhex(result[2:]))

    # ------------------------------------------------------------------------ registry

    def register(self, account: str, roles: Role | int | str, name: str, metadata: str = "") -> Receipt:
        """Register a participant with its roles (admin only). Name and metadata are stored as hashes."""
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        return self._send(
            "ledger", "register", to_checksum_address(account), int(roles), keccak(text=name), keccak(text=metadata) if metadata else _ZERO32
        )

    def grant_roles(self, account: str, roles: Role | int | str) -> Receipt:
        """Add roles to a participant (admin only)."""
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        return self._send("ledger", "grantRoles", to_checksum_address(account), int(roles))

    def revoke_roles(self, account: str, roles: Role | int | str) -> Receipt:
        """Remove roles from a participant (admin only)."""
        roles = Role.parse(roles) if isinstance(roles, str) else Role(roles)
        return self._send("ledger", "revokeRoles", to_checksum_address(account), int(roles))

    def suspend(self, account: str, reason: str = "") -> Receipt:
        """Suspend a participant, e.g. after a key leak (admin only)."""
        return self._send("ledger", "suspend", to_checksum_address(account), keccak(text=reason) if reason else _ZERO32)

    def reinstate(self, account: str) -> Receipt:
        """Lift a suspension (admin only)."""
        return self._send("ledger", "reinstate", to_checksum_address(account))

    def transfer_admin(self, new_admin: str) -> Receipt:
        """Name a successor admin; it takes over by calling :meth:`accept_admin`."""
        return self._send("ledger", "transferAdmin", to_checksum_address(new_admin))

    def accept_admin(self) -> Receipt:
        """Take over as admin (pending admin only)."""
        return self._send("ledger", "acceptAdmin")

    def admin(self) -> str:
        """Return the registry admin."""
        return to_checksum_address(self._call("ledger", "admin")[0])

    def participant(self, account: str) -> Participant:
        """Return the registry record of `account`."""
        roles, registered, suspended, since = self._call("ledger", "participant", to_checksum_address(account))[0]
        return Participant(address=account, roles=roles, registered=registered, suspended=suspended, since=since)

    def has_role(self, account: str, roles: Role | int) -> bool:
        """Whether `account` is active and holds any of `roles`."""
        return bool(self._call("ledger", "hasAnyRole", to_checksum_address(account), int(roles))[0])

    # ---------------------------------------------------------------------------- lots

    def mint(self, spec: LotSpec, *, idempotent: bool = True) -> Receipt | None:
        """Create a lot (MINER or REFINER). With `idempotent`, re-minting the same lot returns None."""
        try:
            return self._send("ledger", "mint", spec.abi())
        except errors.ContractRevert as exc:
            if idempotent and exc.error_name == "RinneLedgerLotExists" and self._same_lot_exists(spec):
                return None
            raise

    def _same_lot_exists(self, spec: LotSpec) -> bool:
        info = self._call("ledger", "lot", _b32(spec.lot_id))[0]
        return to_checksum_address(info[0]) == self.address and _hex(info[8]) == commitment(spec.material, spec.composition)

    def mint_many(
        self, specs: Sequence[LotSpec], *, batch_size: int | None = None, progress: Callable[[int], None] | None = None
    ) -> BulkResult:
        """Mint many lots through `mintBatch`, pipelined; lots that already exist are skipped, so a
        retried import after a crash neither loses nor doubles any lot.

        Without `batch_size`, each transaction carries as many lots as half the chain's block gas
        limit allows (the EIP-1559 target, so the base fee does not climb), at most 120 kB of calldata.
        """
        ids = [_b32(s.lot_id) for s in specs]
        if len(set(ids)) != len(ids):
            raise errors.InvalidInput("the import names the same lot id twice")
        existing = self._existing(ids)
        todo = [s for s, i in zip(specs, ids) if i not in existing]
        for s, i in zip(specs, ids):
            if i in existing and existing[i] != commitment(s.material, s.composition):
                raise errors.InvalidInput(f"lot {label_of(s.lot_id)} already exists with other content")
        if progress and len(specs) - len(todo):
            progress(len(specs) - len(todo))
        if not todo:
            return BulkResult(done=0, skipped=len(specs), transactions=0, gas_used=0)
        d = self._deployment()
        fn = _LEDGER.fn("mintBatch")
        sender = self._sender()
        rows = [_lot_spec_words(s) for s in todo]
        # One estimate of a probe chunk, scaled per lot, instead of one round trip per transaction.
        probe = rows[: batch_size or _PROBE]
        per_lot = sender.estimate(d.ledger, _encode_arrays(fn.selector, [probe])) // len(probe) + 2_000
        size = batch_size or _bulk_chunk(sender.block_gas_limit(), per_lot, 30_000, len(rows[0]))
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
        calls = [(d.ledger, _encode_arrays(fn.selector, [c]), per_lot * len(c) + 30_000) for c in chunks]
        # send_many reports one receipt at a time; the caller counts lots, so advance by each chunk's size.
        sizes = iter(len(c) for c in chunks)
        receipts = sender.send_many(calls, progress=(lambda _n: progress(next(sizes))) if progress else None)
        gas = sum(int(r["gasUsed"], 16) for r in receipts)
        return BulkResult(done=len(todo), skipped=len(specs) - len(todo), transactions=len(receipts), gas_used=gas)

    def _existing(self, ids: Sequence[bytes]) -> dict[bytes, str]:
        """Map of id → commitment for the ids that exist on-chain (batched eth_call)."""
        d = self._deployment()
        f = _LEDGER.fn("lot")
        out: dict[bytes, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            results = batch(self.w3, [("eth_call", [{"to": d.ledger, "data": _hex(f.selector + i)}, "latest"]) for i in chunk])
            for i, r in zip(chunk, results):
                # lot(bytes32) returns a static tuple of 9 words: word 1 is the state, word 8 the commitment.
                if len(r) != 2 + 9 * 64:
                    raise errors.ChainError(f"lot({_hex(i)}) returned {len(r) // 2 - 1} bytes, expected 288")
                if int(r[2 + 64 : 2 + 128], 16) != LotState.NONE:
                    out[i] = "0x" + r[2 + 8 * 64 :]
        return out

    def offer(self, lot_id: str, to: str) -> Receipt:
        """Offer a held lot to a registered recipient (replaces any earlier offer)."""
        return self._send("ledger", "offer", _b32(lot_id), to_checksum_address(to))

    def offer_many(self, offers: Sequence[tuple[str, str]], *, batch_size: int | None = None) -> BulkResult:
        """Offer many lots through `offerBatch`, pipelined (sized like :meth:`mint_many`)."""
        ids = [_b32(i) for i, _ in offers]
        words: dict[str, bytes] = {}  # checksumming costs ~0.1 ms: once per recipient, not per offer
        for _, t in offers:
            if t not in words:
                words[t] = bytes(12) + bytes.fromhex(to_checksum_address(t)[2:])
        return self._pipelined("offerBatch", [ids, [words[t] for _, t in offers]], batch_size)

    def accept(self, lot_id: str) -> Receipt:
        """Accept a current offer and become the holder."""
        return self._send("ledger", "accept", _b32(lot_id))

    def accept_many(self, lot_ids: Sequence[str], *, batch_size: int | None = None) -> BulkResult:
        """Accept many offers through `acceptBatch`, pipelined (sized like :meth:`mint_many`)."""
        return self._pipelined("acceptBatch", [[_b32(i) for i in lot_ids]], batch_size)

    def _pipelined(self, fn_name: str, columns: list[list[bytes]], batch_size: int | None) -> BulkResult:
        """Send a batch entry point whose arguments are parallel arrays of static 32-byte words.

        Every chunk is tried with eth_call (in batch requests) before any is sent, so an item the
        contract refuses raises its named error and nothing is written. Gas comes from one estimate
        of a probe chunk, scaled per item (eth_estimateGas runs a chunk many times over).
        """
        n = len(columns[0])
        if not n:
            return BulkResult(done=0, skipped=0, transactions=0, gas_used=0)
        d = self._deployment()
        fn = _LEDGER.fn(fn_name)
        sender = self._sender()
        k = min(n, batch_size or _PROBE)
        per_item = sender.estimate(d.ledger, _encode_arrays(fn.selector, [c[:k] for c in columns])) // k + 1_000
        size = batch_size or _bulk_chunk(sender.block_gas_limit(), per_item, 30_000, 32 * len(columns))
        datas = [_encode_arrays(fn.selector, [c[i : i + size] for c in columns]) for i in range(0, n, size)]
        _preflight(sender, d.ledger, datas)
        calls = [(d.ledger, data, per_item * len(range(i, min(i + size, n))) + 30_000) for data, i in zip(datas, range(0, n, size))]
        receipts = sender.send_many(calls)
        return BulkResult(
            done=n, skipped=0, transactions=len(receipts), gas_used=sum(int(r["gasUsed"], 16) for r in receipts)
        )

    def reject(self, lot_id: str) -> Receipt:
        """Reject an offer made to the acting account."""
        return self._send("ledger", "reject", _b32(lot_id))

    def cancel(self, lot_id: str) -> Receipt:
        """Withdraw the acting account's pending offer of a lot."""
        return self._send("ledger", "cancel", _b32(lot_id))

    def split(self, lot_id: str, parts: Sequence[tuple[str, int]]) -> Receipt:
        """Split a lot into new lots of the same material: `parts` are (new id, grams).

        When the parts add up to less than the lot's mass, the rest stays in the original lot.
        Element content is shared pro rata by mass (Composition.take / divide keep every part valid).
        """
        lot = self.lot(lot_id)
        total = sum(m for _, m in parts)
        if not parts or total <= 0 or total > lot.mass:
            raise errors.InvalidInput(f"parts weigh {total} g; lot {lot.label} holds {lot.mass} g")
        held = _composition(lot)
        whole = total == lot.mass
        used = held.take(total, lot.mass)
        comps = used.divide([m for _, m in parts], total)
        outputs = [
            LotSpec(lot_id=new_id, material=lot.material, mass=mass, composition=comp)
            for (new_id, mass), comp in zip(parts, comps)
        ]
        use = self._input(Use(lot_id=lot_id, mass=None if whole else total, composition=None if whole else used), lot)
        return self._send("ledger", "split", use[0], [o.abi() for o in outputs])

    def merge(self, lot_ids: Sequence[str], new_id: str, *, evidence: str | None = None) -> Receipt:
        """Merge whole lots of one material into a new lot."""
        lots = [self.lot(i) for i in lot_ids]
        materials = {lot.material for lot in lots}
        if len(materials) != 1:
            raise errors.InvalidInput("merge needs lots of one material, got " + ", ".join(sorted(label_of(m) for m in materials if m)))
        comp = sum((_composition(lot) for lot in lots), Composition())
        out = LotSpec(
            lot_id=new_id, material=lots[0].material, mass=sum(lot.mass for lot in lots), composition=comp,
            evidence=to_bytes32(evidence) if evidence else "0x" + "00" * 32,
        )
        inputs = [self._input(Use(lot_id=lot.lot_id), lot)[0] for lot in lots]
        return self._send("ledger", "merge", inputs, out.abi())

    def transform(self, inputs: Sequence[str | Use], outputs: Sequence[LotSpec], loss: Composition | None = None) -> Receipt:
        """Consume inputs and create outputs (PRODUCER roles). Without `loss`, the loss is what the
        inputs give beyond the outputs, per element; it may not be negative."""
        ins, used = self._inputs(inputs)
        return self._send("ledger", "transform", ins, [o.abi() for o in outputs], _loss(used, outputs, loss))

    def freeze(self, lot_id: str, reason: str = "") -> Receipt:
        """Freeze a lot under investigation (AUDITOR)."""
        return self._send("ledger", "freeze", _b32(lot_id), keccak(text=reason) if reason else _ZERO32)

    def freeze_many(self, lot_ids: Sequence[str], reason: str = "") -> Receipt:
        """Freeze many lots in one transaction (AUDITOR); lots no longer active are skipped, an unknown id reverts."""
        return self._send("ledger", "freezeBatch", [_b32(i) for i in lot_ids], keccak(text=reason) if reason else _ZERO32)

    def freeze_lineage(self, lot_id: str, reason: str = "", *, rounds: int = 4) -> list[str]:
        """Freeze a lot and every active lot made from it (AUDITOR), so that material under investigation
        cannot escape by being split or transformed first; return the ids frozen (0x-hex, in lineage order).

        Descendants come from the LotsTransformed events up to the chain head. A split mined between that
        read and the freeze only consumes a listed lot (the contract skips it) and makes new ones: the read
        is repeated until a round finds nothing active left to freeze (at most `rounds` transactions, each
        of up to 200 lots).
        """
        from ledger._registry_logs import descendants

        root = _b32(lot_id)
        if self._call("ledger", "holderOf", root)[1] == LotState.NONE:
            raise errors.InvalidInput(f"no lot {label_of(root)} on this ledger")
        frozen: list[str] = []
        for round_ in range(rounds):
            lineage = descendants(self, root)
            states = self._states(lineage)
            active = [i for i, st in zip(lineage, states) if st == LotState.ACTIVE]
            if not active:
                if round_ == 0:  # nothing to freeze: still refuse a caller who may not (the contract decides)
                    data = _LEDGER.fn("freezeBatch").encode([root], keccak(text=reason) if reason else _ZERO32)
                    call(self.w3, "eth_call", [{"from": self.address, "to": self._deployment().ledger, "data": _hex(data)}, "latest"])
                break
            for start in range(0, len(active), 200):
                part = active[start : start + 200]
                self._send("ledger", "freezeBatch", part, keccak(text=reason) if reason else _ZERO32)
                frozen.extend(_hex(i) for i, st in zip(part, self._states(part)) if st == LotState.FROZEN)
        return frozen

    def _states(self, lot_ids: Sequence[bytes]) -> list[int]:
        """Return the state of each lot (one batched JSON-RPC request per 500 lots)."""
        fn = _LEDGER.fn("holderOf")
        d = self._deployment()
        out: list[int] = []
        for start in range(0, len(lot_ids), 500):
            part = lot_ids[start : start + 500]
            reqs = [("eth_call", [{"to": d.ledger, "data": _hex(fn.selector + i)}, "latest"]) for i in part]
            out.extend(int(r[-64:], 16) for r in batch(self.w3, reqs))
        return out

    def unfreeze(self, lot_id: str) -> Receipt:
        """Release a frozen lot (AUDITOR)."""
        return self._send("ledger", "unfreeze", _b32(lot_id))

    def _inputs(self, uses: Sequence[str | Use]) -> tuple[list[tuple[Any, ...]], list[Composition]]:
        out, used = [], []
        for u in uses:
            use = u if isinstance(u, Use) else Use(lot_id=u)
            abi, comp = self._input(use, self.lot(use.lot_id))
            out.append(abi)
            used.append(comp)
        return out, used

    def _input(self, use: Use, lot: Lot) -> tuple[tuple[Any, ...], Composition]:
        if lot.state == LotState.NONE:
            raise errors.InvalidInput(f"no lot {label_of(use.lot_id)} on this ledger")
        held = _composition(lot)
        material = _b32(lot.material or "0x" + "00" * 32)
        if use.mass is None or (use.mass == lot.mass and use.composition in (None, held)):
            return (_b32(lot.lot_id), material, held.words(), 0, _ZERO_WORDS), held
        if not 0 < use.mass < lot.mass:
            raise errors.InvalidInput(f"cannot use {use.mass} g of lot {lot.label}, which holds {lot.mass} g")
        part = use.composition or held.take(use.mass, lot.mass)
        return (_b32(lot.lot_id), material, held.words(), use.mass, part.words()), part

    # --------------------------------------------------------------------------- units

    def build_unit(
        self, cells: Sequence[str | Use], unit_lot: LotSpec, unit: UnitSpec, loss: Composition | None = None
    ) -> Receipt:
        """Build a battery unit from cell lots (CELL_MAKER or PACK_ASSEMBLER); status Original."""
        ins, used = self._inputs(cells)
        return self._send("ledger", "buildUnit", ins, unit_lot.abi(), unit.abi(), _loss(used, [unit_lot], loss))

    def record_soh(self, unit_id: str, soh: SohRecord) -> Receipt:
        """Record a state-of-health diagnosis: the holder, or a DIAGNOSTICIAN the holder authorised for the
        unit (:meth:`authorise_diagnostician`). The contract bounds the values by physics (state of certified
        energy <= 100 %, capacity <= rating, throughput <= (cycles + 1) x rating x 2, at most 4 cycles a day
        since the latest record plus one) and refuses counters that run backwards."""
        return self._send("ledger", "recordSoh", _b32(unit_id), soh.abi())

    def correct_soh(self, unit_id: str, soh: SohRecord) -> Receipt:
        """Supersede the latest state-of-health record with a correction (holder or authorised diagnostician):
        it may lower cycles and throughput, keeps the corrected record's time, and shows in the history."""
        return self._send("ledger", "correctSoh", _b32(unit_id), soh.abi())

    def authorise_diagnostician(self, unit_id: str, diagnostician: str, authorised: bool = True) -> Receipt:
        """Authorise (or with `authorised` False, stop authorising) a diagnostician to record the unit's state
        of health (holder only); the authorisation ends when the unit changes hands."""
        return self._send("ledger", "authoriseDiagnostician", _b32(unit_id), to_checksum_address(diagnostician), authorised)

    def set_status(self, unit_id: str, status: PassportStatus, evidence: str = "") -> Receipt:
        """Move a unit's passport status along an allowed edge (holder)."""
        return self._send("ledger", "setStatus", _b32(unit_id), int(status), _b32(evidence) if evidence else _ZERO32)

    def repurpose(
        self, parents: Sequence[str | Use], unit_lot: LotSpec, unit: UnitSpec, loss: Composition | None = None
    ) -> Receipt:
        """Build a new unit (e.g. an ESS) from used units, linked to every parent (SECOND_LIFE)."""
        ins, used = self._inputs(parents)
        return self._send("ledger", "repurpose", ins, unit_lot.abi(), unit.abi(), _loss(used, [unit_lot], loss))

    def recycle(self, unit_id: str, recovered: Sequence[LotSpec], loss: Composition | None = None) -> Receipt:
        """Recycle a Waste unit into recovered lots (RECYCLER).

        Their content counts as post-consumer recycled when the unit reached an end user and was used
        (ISO 14021, :attr:`Unit.post_consumer`, as the contract decides), and as pre-consumer otherwise.
        """
        post = self.unit(unit_id).post_consumer
        outs = [
            r.model_copy(update={"composition": r.composition.all_post_consumer() if post else r.composition.all_pre_consumer()})
            for r in recovered
        ]
        ins, used = self._inputs([unit_id])
        return self._send("ledger", "recycle", ins[0], [o.abi() for o in outs], _loss(used, outs, loss))

    # --------------------------------------------------------------------------- reads

    def lot(self, lot_id: str, *, with_composition: bool = True) -> Lot:
        """Return a lot's stored state, with material and composition from its latest event."""
        bid = _b32(lot_id)
        holder, state, kind, epoch, updated, offered, current, mass, commit = self._call("ledger", "lot", bid)[0]
        material = comp = None
        if with_composition and state != LotState.NONE:
            material, comp = self._lot_content(bid, updated)
        return Lot(
            lot_id=_hex(bid), holder=holder, state=state, kind=kind, epoch=epoch, updated_block=updated,
            offered_to=None if int(offered, 16) == 0 else offered, offer_current=current, mass=mass,
            commitment=_hex(commit), material=material, composition=comp,
        )

    def _lot_content(self, lot_id: bytes, block: int) -> tuple[str, Composition]:
        d = self._deployment()
        created, updated = _LEDGER.events["LotCreated"], _LEDGER.events["LotUpdated"]
        logs = call(
            self.w3,
            "eth_getLogs",
            [{"address": d.ledger, "fromBlock": hex(block), "toBlock": hex(block), "topics": [[_hex(created.topic0), _hex(updated.topic0)], _hex(lot_id)]}],
        )
        if not logs:
            raise errors.ChainError(f"no LotCreated/LotUpdated event for {label_of(lot_id)} in block {block}: is the node pruning history?")
        log = logs[-1]
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        data = bytes.fromhex(log["data"][2:])
        if topics[0] == created.topic0:
            ev = created.decode(topics, data)
            return _hex(ev["material"]), Composition.from_words(ev["composition"])
        ev = updated.decode(topics, data)
        return _hex(ev["material"]), Composition.from_words(ev["composition"])

    def unit(self, unit_id: str) -> Unit:
        """Return a unit's stored passport."""
        status, rated, soce, cap, cycles, thr, at = self._call("ledger", "unit", _b32(unit_id))[0]
        end_user, post = self._call("ledger", "unitUse", _b32(unit_id))
        return Unit(
            unit_id=to_bytes32(unit_id), status=status, rated_wh=rated, soce_bp=soce, capacity_wh=cap, cycles=cycles,
            throughput_wh=thr, soh_at=at, reached_end_user=end_user, post_consumer=post,
        )

    def offer_of(self, lot_id: str) -> Offer | None:
        """Return the pending offer of a lot, or None."""
        lot = self.lot(lot_id, with_composition=False)
        if lot.offered_to is None:
            return None
        return Offer(lot_id=lot.lot_id, holder=lot.holder, to=lot.offered_to, current=lot.offer_current)

    def ledger_head(self, contract: str = "ledger") -> tuple[int, str]:
        """Return (sequence, head word) of the ledger or the attestation contract."""
        seq, head = self._call(contract, "ledgerHead")
        return seq, _hex(head)

    # -------------------------------------------------------------------- attestations

    def submit_attestation(self, signed: Any) -> str:
        """Relay a signed GWP attestation on-chain (any account may) and return its uid."""
        from ledger._attest import to_contract_args

        d = self._deployment()
        if signed.chain_id != self.chain_id or to_checksum_address(signed.contract) != d.attestations:
            raise errors.AttestationError(
                f"attestation is bound to chain {signed.chain_id} contract {signed.contract}; this ledger is "
                f"chain {self.chain_id} contract {d.attestations} (a replay from another deployment?)"
            )
        self._send("attestations", "attest", *to_contract_args(signed))
        return signed.uid

    def revoke_attestation(self, uid: str, reason: str = "") -> Receipt:
        """Revoke an attestation (its signer or an AUDITOR); the record stays, marked revoked."""
        return self._send("attestations", "revoke", _b32(uid), keccak(text=reason) if reason else _ZERO32)

    def attestation(self, uid: str) -> dict[str, Any]:
        """Return the stored attestation record (signer None when absent)."""
        signer, valid_until, stage, self_declared, revoked, lot_id, grams, issued = self._call("attestations", "attestation", _b32(uid))[0]
        return {
            "uid": to_bytes32(uid), "signer": None if int(signer, 16) == 0 else to_checksum_address(signer),
            "valid_until": valid_until, "stage": stage, "self_declared": self_declared, "revoked": revoked,
            "lot_id": _hex(lot_id), "emissions_grams": grams, "issued_at": issued,
            "valid": bool(self._call("attestations", "isValid", _b32(uid))[0]),
        }

    def chain_time(self) -> int:
        """Return the time the next block will carry at the earliest: the later of the wall clock and the
        latest block's timestamp (a dev chain's clock may have been moved ahead)."""
        latest = call(self.w3, "eth_getBlockByNumber", ["latest", False])
        return max(int(time.time()), int(latest["timestamp"], 16) if latest else 0)

    def verify_attestation(self, signed: Any, *, now: int | None = None) -> dict[str, Any]:
        """Verify a signed attestation offline, then against this chain: ERC-1271 answer for contract
        signers, the signer's accreditation now, whether it is recorded and whether it was revoked.

        An attestation that is not recorded also fails when the chain would refuse to record it:
        ``expired-deadline`` (its relay deadline passed) or ``nonce-used`` (its signer spent the nonce).

        Returns ``{"ok", "problems", "uid", "recorded", "revoked", "self_declared", "accredited"}``.
        """
        from ledger._attest import INFORMATIONAL_PROBLEMS, verify_attestation

        d = self._deployment()
        is_contract = call(self.w3, "eth_getCode", [signed.signer, "latest"]) not in ("0x", "0x0")
        check = verify_attestation(
            signed,
            now=self.chain_time() if now is None else now,
            chain_id=self.chain_id,
            contract=d.attestations,
            is_contract=is_contract,
            erc1271_check=self.is_valid_signature_1271 if is_contract else None,
        )
        problems = [p for p in check.problems if p not in INFORMATIONAL_PROBLEMS]
        record = self.attestation(signed.uid)
        recorded = record["signer"] is not None
        accredited = self.has_role(signed.signer, Role.GWP_VERIFIER)
        if recorded and record["revoked"]:
            problems.append("revoked")
        if not recorded:
            # Not on-chain yet: it can only get there before its deadline and while its nonce is unspent.
            if "deadline-passed" in check.problems:
                problems.append("expired-deadline")
            if self.nonce_used(signed.signer, signed.attestation.nonce):
                problems.append("nonce-used")
        if not accredited and not (recorded and record["self_declared"]):
            problems.append("signer-not-accredited")
        return {
            "ok": not problems,
            "problems": problems,
            "uid": signed.uid,
            "recorded": recorded,
            "revoked": bool(record["revoked"]),
            "self_declared": bool(record["self_declared"]),
            "accredited": accredited,
        }

    def nonce_used(self, signer: str, nonce: int) -> bool:
        """Whether `signer` has used attestation nonce `nonce` on this deployment."""
        return bool(self._call("attestations", "nonceUsed", to_checksum_address(signer), nonce)[0])

    def is_valid_signature_1271(self, signer: str, digest: bytes, signature: bytes) -> bool:
        """Ask an ERC-1271 contract signer whether it approves `signature` over `digest`."""
        data = keccak(text="isValidSignature(bytes32,bytes)")[:4] + abi_encode(["bytes32", "bytes"], [digest, signature])
        try:
            result = call(self.w3, "eth_call", [{"to": to_checksum_address(signer), "data": _hex(data)}, "latest"])
        except errors.ChainError:
            return False
        raw = bytes.fromhex(result[2:])
        return len(raw) >= 32 and raw[:4] == bytes.fromhex("1626ba7e")


def commitment(material: str, composition: Composition) -> str:
    """Return the on-chain commitment of a lot's material and composition."""
    return _hex(keccak(abi_encode(["bytes32", "(uint256[2],uint256[2],uint256[2])"], [_b32(material), composition.words()])))


def _composition(lot: Lot) -> Composition:
    if lot.composition is None:
        raise errors.ChainError(f"composition of lot {lot.label} is unknown")
    return lot.composition


def _loss(used: Iterable[Composition], outputs: Iterable[LotSpec], loss: Composition | None) -> list[int]:
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


# ------------------------------------------------------------------------- bulk encoding
# The bulk methods encode their calls directly: eth_abi takes about 0.5 ms per lot spec, which was
# half the time of a bulk import. Only arrays of static words are needed, whose encoding is exact.


def _word(value: int) -> bytes:
    try:
        return value.to_bytes(32, "big")
    except OverflowError:
        raise errors.InvalidInput(f"{value} does not fit an unsigned 256-bit word") from None


def _lot_spec_words(spec: LotSpec) -> bytes:
    """The ABI encoding of a Solidity LotSpec (a static tuple of 11 words)."""
    lot_id, material, mass, origin, evidence, (total, pre, post) = spec.abi()
    if not 0 <= mass < 1 << 64:
        raise errors.InvalidInput(f"mass {mass} does not fit uint64")
    parts = (lot_id, material, origin, evidence)
    if any(len(p) != 32 for p in parts):
        raise errors.InvalidInput("lot spec fields must be 32 bytes")
    return b"".join((lot_id, material, _word(mass), origin, evidence, *(_word(w) for w in (*total, *pre, *post))))


def _encode_arrays(selector: bytes, arrays: Sequence[Sequence[bytes]]) -> bytes:
    """Encode a call whose arguments are dynamic arrays of static elements (each already encoded)."""
    heads, tails, offset = [], [], 32 * len(arrays)
    for arr in arrays:
        heads.append(_word(offset))
        tail = _word(len(arr)) + b"".join(arr)
        tails.append(tail)
        offset += len(tail)
    return selector + b"".join(heads) + b"".join(tails)


def _bulk_chunk(gas_limit: int, per_item: int, overhead: int, item_bytes: int) -> int:
    """Items per bulk transaction: half the block gas limit (the EIP-1559 target, so the base fee
    does not climb as the import fills blocks) and at most 2^24 gas (EIP-7825), at most
    `_MAX_TX_BYTES` of calldata, at least one."""
    by_gas = (min(gas_limit // 2, _MAX_TX_GAS) - overhead) // max(per_item, 1) if gas_limit else BULK_BATCH
    return max(1, min(by_gas, _MAX_TX_BYTES // item_bytes))


def _preflight(sender: Sender, to: str, datas: Sequence[bytes]) -> None:
    """Try each call with eth_call (in batch requests of at most ~1 MB: Anvil takes 2 MB a request);
    a revert raises its named error before anything is sent."""
    start = 0
    while start < len(datas):
        end, size = start, 0
        while end < len(datas) and (end == start or size + len(datas[end]) <= 500_000):
            size += len(datas[end])
            end += 1
        batch(sender.w3, [("eth_call", [{"from": sender.address, "to": to, "data": _hex(d)}, "latest"]) for d in datas[start:end]])
        start = end
