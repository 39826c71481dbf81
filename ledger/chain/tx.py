"""Transactions: local nonces, EIP-1559 fees, gas estimation that surfaces reverts before sending,
pipelined sends and receipts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from ledger import errors
from ledger.chain.rpc import batch, call
from ledger.domain.models import Receipt

_GAS_MARGIN_NUM, _GAS_MARGIN_DEN = 6, 5  # estimates + 20 %: storage refunds and warm/cold differences


class Sender:
    """Signs and sends transactions for one account, keeping its nonce locally.

    Several transactions may be in flight from one account: nonces are handed out under a lock and
    resynchronised from the node when it reports a gap or a reuse.
    """

    def __init__(self, w3: Web3, account: LocalAccount, chain_id: int, confirmations: int = 0) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id
        self.confirmations = confirmations
        self._lock = threading.Lock()
        self._nonce: int | None = None
        self._manual: bool | None = None

    def __repr__(self) -> str:  # never show the key
        return f"Sender({self.account.address}, chain {self.chain_id})"

    @property
    def address(self) -> str:
        """The sending address."""
        return self.account.address

    def _next_nonce(self) -> int:
        with self._lock:
            if self._nonce is None:
                self._nonce = int(call(self.w3, "eth_getTransactionCount", [self.address, "pending"]), 16)
            n = self._nonce
            self._nonce += 1
            return n

    def resync(self) -> None:
        """Forget the local nonce; the next send asks the node."""
        with self._lock:
            self._nonce = None

    def fees(self) -> tuple[int, int]:
        """Return (maxFeePerGas, maxPriorityFeePerGas) for the next block."""
        return self._fees_and_gas_limit()[0]

    def _fees_and_gas_limit(self) -> tuple[tuple[int, int], int]:
        block = call(self.w3, "eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        try:
            tip = int(call(self.w3, "eth_maxPriorityFeePerGas", []), 16)
        except errors.ChainError:
            tip = 1_000_000_000
        return (2 * base + tip, tip), int(block.get("gasLimit") or "0x0", 16)

    def block_gas_limit(self) -> int:
        """Return the gas limit of the latest block (0 when the node does not say)."""
        block = call(self.w3, "eth_getBlockByNumber", ["latest", False])
        return int(block.get("gasLimit") or "0x0", 16)

    def manual_mining(self) -> bool:
        """Whether the node mines only when asked (Anvil started with ``--no-mining``).

        Such a node never mines a transaction by itself, so this sender asks it to (``evm_mine``) after
        sending; that lets bulk writes fill one large block instead of one block per transaction.
        Any other node (automine, interval mining, a real chain) mines by itself.
        """
        if self._manual is None:
            try:
                auto = call(self.w3, "anvil_getAutomine", [])
                interval = call(self.w3, "anvil_getIntervalMining", []) if auto is False else None
                self._manual = auto is False and not interval
            except errors.ConnectionFailed:
                return False  # ask again next time
            except errors.ChainError:  # not Anvil: the chain mines by itself
                self._manual = False
        return self._manual

    def estimate(self, to: str | None, data: bytes) -> int:
        """Estimate gas; a revert raises the contract's named error before anything is sent."""
        tx: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex()}
        if to:
            tx["to"] = to
        try:
            gas = int(call(self.w3, "eth_estimateGas", [tx]), 16)
        except errors.ContractRevert:
            raise
        except errors.ChainError as exc:
            if not isinstance(exc, errors.ConnectionFailed) and _unfunded(exc):
                raise errors.TransactionFailed(self._unfunded_message()) from None
            raise
        return gas * _GAS_MARGIN_NUM // _GAS_MARGIN_DEN + 10_000

    def sign(self, to: str | None, data: bytes, gas: int, nonce: int, fees: tuple[int, int]) -> bytes:
        """Sign an EIP-1559 transaction and return its raw bytes."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees[0],
            "maxPriorityFeePerGas": fees[1],
            "data": data,
            "value": 0,
        }
        if to:
            tx["to"] = to_checksum_address(to)
        return bytes(self.account.sign_transaction(tx).raw_transaction)

    def transact(self, to: str | None, data: bytes, *, gas: int | None = None) -> tuple[Receipt, dict[str, Any]]:
        """Estimate, sign, send and wait for one transaction; return our receipt and the raw one."""
        gas = gas or self.estimate(to, data)
        fees = self.fees()
        for attempt in range(2):
            nonce = self._next_nonce()
            raw = self.sign(to, data, gas, nonce, fees)
            try:
                tx_hash = self._submit(raw)
                break
            except errors.ChainError as exc:
                if attempt == 0 and not isinstance(exc, errors.ConnectionFailed) and "nonce" in str(exc).lower():
                    self.resync()  # another process used this account: take the node's count
                    continue
                self.resync()
                raise
        raw_receipt = self._mine_until([tx_hash])[0] if self.manual_mining() else self.wait(tx_hash)
        receipt = _receipt(raw_receipt)
        if receipt.status != 1:
            self._raise_failure(to, data, raw_receipt)
        self._await_confirmations(receipt.block_number)
        return receipt, raw_receipt

    def send_many(
        self, calls: Sequence[tuple[str, bytes, int]], *, window: int = 8, progress: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        """Pipeline many transactions: send up to `window` at a time, then collect their receipts.

        Returns the raw receipts in order; raises on the first failed one. Transactions are sent one
        request each: large JSON-RPC batch arrays of big transactions are refused by some nodes (Anvil
        takes at most 2 MB a request) and can stall Anvil's automining pool. Receipts of a window are
        fetched in one batch request.

        On a node that mines only when asked (:meth:`manual_mining`), a window is as many
        transactions as fit in two blocks; they are mined together with ``evm_mine``.
        """
        receipts: list[dict[str, Any]] = []
        manual = self.manual_mining() if calls else False
        start = 0
        while start < len(calls):
            fees, gas_limit = self._fees_and_gas_limit()
            if manual:
                # Fill up to two blocks per window: fees are refreshed per window, and 2 × base fee
                # covers the base fee's rise (12.5 % per full block) over two blocks.
                budget, end = 2 * gas_limit if gas_limit else 0, start
                while end < len(calls) and (end == start or budget >= calls[end][2]):
                    budget -= calls[end][2]
                    end += 1
            else:
                end = min(start + window, len(calls))
            chunk = calls[start:end]
            hashes, raws = [], []
            for to, data, gas in chunk:
                raw = self.sign(to, data, gas, self._next_nonce(), fees)
                try:
                    hashes.append(self._submit(raw))
                except errors.ChainError:
                    self.resync()
                    raise
                raws.append(raw)
            if manual:
                found = self._mine_until(hashes, raws)
            else:
                found = self._receipts(hashes)
            for raw_receipt, (to, data, _) in zip(found, chunk):
                if int(raw_receipt["status"], 16) != 1:
                    self.resync()
                    self._raise_failure(to, data, raw_receipt)
                receipts.append(raw_receipt)
                if progress:
                    progress(1)
            start = end
        if receipts:
            self._await_confirmations(int(receipts[-1]["blockNumber"], 16))
        return receipts

    def _receipts(self, hashes: Sequence[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        """Poll for the receipts of several transactions with batch requests; return them in order."""
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            missing = [h for h in hashes if h not in found]
            for h, r in zip(missing, batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in missing])):
                if r is not None:
                    found[h] = r
            if len(found) == len(set(hashes)):
                return [found[h] for h in hashes]
            if time.monotonic() > deadline:
                raise errors.TransactionFailed(f"transaction {missing[0]} not mined within {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _mine_until(self, hashes: Sequence[str], raws: Sequence[bytes] = ()) -> list[dict[str, Any]]:
        """On a manual-mining node: mine blocks until every transaction of `hashes` has a receipt.

        Anvil 1.7.1 now and then drops the last of ~100 large transactions sent in a row (the node
        answered with its hash, but it never reaches the pool): a transaction the node no longer
        knows is sent again (the same signed bytes, so it cannot be applied twice)."""
        found: dict[str, dict[str, Any]] = {}
        stalls = 0
        while True:
            before = len(found)
            call(self.w3, "evm_mine", [])
            missing = [h for h in hashes if h not in found]
            for h, r in zip(missing, batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in missing])):
                if r is not None:
                    found[h] = r
            if len(found) == len(set(hashes)):
                return [found[h] for h in hashes]
            if len(found) > before:
                stalls = 0
                continue
            # A mined block with none of ours: a busy node may still be inserting it, or another
            # client's transactions filled it, or it dropped one. Give up only after several rounds.
            stalls += 1
            by_hash = dict(zip(hashes, raws))
            for h, known in zip(missing, batch(self.w3, [("eth_getTransactionByHash", [h]) for h in missing])):
                if known is None and h in by_hash:
                    self._submit(by_hash[h])
            if stalls > 6:
                raise errors.TransactionFailed(
                    f"transaction {missing[0]} stays in the pool of a node that mines on request (fee too low?)"
                )
            time.sleep(0.05 * 2**stalls)

    def _submit(self, raw: bytes) -> str:
        """Send a signed transaction and return its hash, exactly once.

        An answer can be lost after the node took the transaction (connection dropped, or timed out
        and retried by web3, whose retry then hears "nonce too low" or "already known"). Before any
        error goes up, the transaction is looked up by its hash: if the node has it, it was sent, and
        the caller must not sign the operation again under the next nonce.
        """
        tx_hash = "0x" + keccak(raw).hex()
        try:
            return str(call(self.w3, "eth_sendRawTransaction", ["0x" + raw.hex()]))
        except errors.ChainError as exc:
            try:
                known = call(self.w3, "eth_getTransactionByHash", [tx_hash]) is not None
            except errors.ChainError:
                raise errors.ConnectionFailed(
                    f"transaction {tx_hash} may or may not have reached the node (the connection failed): "
                    "check it before sending the operation again"
                ) from None
            if known:
                return tx_hash
            if _unfunded(exc):
                raise errors.TransactionFailed(self._unfunded_message()) from None
            raise exc

    def _unfunded_message(self) -> str:
        """One line for a sender the node says cannot pay for gas: who, how much it has, how to fund it."""
        try:
            wei = int(call(self.w3, "eth_getBalance", [self.address, "latest"]), 16)
            balance = f"balance {wei / 10**18:.6g} ETH"
        except (errors.ChainError, ValueError, TypeError):
            balance = "balance unknown"
        return (
            f"account {self.address} has no funds to pay for gas on chain {self.chain_id} ({balance}): "
            f"on a development node run `rinne account fund {self.address}`, elsewhere send it ETH from a funded account"
        )

    def wait(self, tx_hash: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll for a receipt."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            receipt: dict[str, Any] | None = call(self.w3, "eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise errors.TransactionFailed(f"transaction {tx_hash} not mined within {timeout:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _await_confirmations(self, block: int, timeout: float = 600.0) -> None:
        if self.confirmations <= 1:
            return
        if self.manual_mining():  # nobody else mines: add the blocks the confirmations need
            head = int(call(self.w3, "eth_blockNumber", []), 16)
            if head < block + self.confirmations - 1:
                call(self.w3, "anvil_mine", [hex(block + self.confirmations - 1 - head)])
        deadline = time.monotonic() + timeout
        while int(call(self.w3, "eth_blockNumber", []), 16) < block + self.confirmations - 1:
            if time.monotonic() > deadline:
                raise errors.TransactionFailed(f"block {block} did not reach {self.confirmations} confirmations")
            time.sleep(0.5)

    def _raise_failure(self, to: str | None, data: bytes, raw_receipt: dict[str, Any]) -> None:
        # Replay the call at the block it failed in to learn which error it was.
        tx: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex()}
        if to:
            tx["to"] = to
        block = raw_receipt["blockNumber"]
        try:
            call(self.w3, "eth_call", [tx, hex(int(block, 16) - 1)])
        except errors.ContractRevert:
            raise
        except errors.ChainError as exc:
            raise errors.TransactionFailed(f"transaction {raw_receipt['transactionHash']} reverted: {exc}") from None
        raise errors.TransactionFailed(f"transaction {raw_receipt['transactionHash']} reverted (out of gas?)")


# How nodes say the sender cannot pay: geth, Anvil and Ganache ("insufficient funds for gas * price + value"),
# the Hardhat node ("Sender doesn't have enough funds to send tx").
_UNFUNDED_MARKS = ("insufficient funds", "doesn't have enough funds", "does not have enough funds")


def _unfunded(exc: errors.ChainError) -> bool:
    text = str(exc).lower()
    return any(mark in text for mark in _UNFUNDED_MARKS)


def _receipt(raw: dict[str, Any]) -> Receipt:
    return Receipt(
        tx_hash=raw["transactionHash"],
        block_number=int(raw["blockNumber"], 16),
        gas_used=int(raw["gasUsed"], 16),
        status=int(raw["status"], 16),
    )


to_receipt = _receipt
