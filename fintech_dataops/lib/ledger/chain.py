"""The EVM chain adapter: anchor a settlement batch in a transaction through web3.py.

Each batch becomes one transaction from the settlement account whose input data is
``b"FDLB" || batch_no (8 bytes, big-endian) || merkle_root (32) || positions_digest (32)``: the root
of the batch's entries and the digest of its net positions per account are on chain, readable by
anyone holding the transaction hash.

Two backends behind one class:
- ``LocalChain`` (the default with nothing configured): py-evm through eth-tester, in process. It
  persists under the data dir by journalling every mined raw transaction and replaying the journal
  on open (deterministic: the same signed transactions in the same order give the same hashes,
  nonces and block numbers). Its key is eth-tester's well-known development key: never for money.
- ``RpcChain``: any JSON-RPC endpoint (``FINTECH_CHAIN_RPC_URL``) with a private key
  (``FINTECH_CHAIN_PRIVATE_KEY``, given through the Dagster resource's ``EnvVar``).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ANCHOR_MAGIC = b"FDLB"
ANCHOR_GAS = 60_000  # 21000 + 16 gas per non-zero data byte (76 bytes) with room to spare


def import_chain_libraries() -> None:
    """Import web3, eth-account and eth-tester/py-evm while keeping the interpreter's recursion limit.

    On import, py_ecc (under all three) raises ``sys.setrecursionlimit`` to 100,000 and py-evm to
    12,288, process-wide. In a process that also parses untrusted JSON in a thread (a Dagster run, a
    code server, a receiver), a deeply nested body then overflows that thread's C stack — a segfault
    of the whole process — instead of raising ``RecursionError``. The suite found it: the sandbox
    emulator's nested-JSON test crashed pytest once the ledger tests had imported web3. Our
    transactions are plain data transfers; no deep EVM call stack needs the higher limit.
    """
    limit = sys.getrecursionlimit()
    try:
        import eth  # noqa: F401  (py-evm)
        import eth_account  # noqa: F401
        import eth_tester  # noqa: F401
        import py_ecc  # noqa: F401
        import web3  # noqa: F401
        import web3.exceptions  # noqa: F401
    finally:
        sys.setrecursionlimit(limit)


class ChainBusyError(RuntimeError):
    """Another process holds the local chain (one history, one writer)."""


class ChainSendError(RuntimeError):
    """The node refused or lost a transaction; the batch stays unsettled and is retried."""


@dataclass(frozen=True)
class Anchor:
    batch_no: int
    merkle_root: str
    positions_digest: str


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    succeeded: bool


def encode_anchor(batch_no: int, merkle_root: str, positions_digest: str) -> bytes:
    return ANCHOR_MAGIC + int(batch_no).to_bytes(8, "big") + bytes.fromhex(merkle_root) + bytes.fromhex(positions_digest)


def decode_anchor(data: bytes) -> Anchor | None:
    data = bytes(data)
    if len(data) != 76 or not data.startswith(ANCHOR_MAGIC):
        return None
    return Anchor(int.from_bytes(data[4:12], "big"), data[12:44].hex(), data[44:76].hex())


def _hex(value) -> str:
    text = value.hex() if hasattr(value, "hex") else str(value)
    return text if text.startswith("0x") else "0x" + text


class Chain:
    """web3.py calls shared by both backends."""

    def __init__(self, w3, private_key: str):
        import_chain_libraries()
        from eth_account import Account

        self.w3 = w3
        self.account = Account.from_key(private_key)

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def confirmed_nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.address, "latest"))

    def next_nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.address, "pending"))

    def sign_anchor(self, anchor: Anchor, nonce: int) -> tuple[str, str]:
        """(raw transaction hex, transaction hash) — signed once and stored, so a retry resends the
        very same transaction: the chain can include it at most once (one nonce, one hash)."""
        priority = self._priority_fee()
        base = self._base_fee()
        tx = {
            "to": self.address, "value": 0, "nonce": int(nonce), "gas": ANCHOR_GAS, "chainId": self.chain_id,
            "data": encode_anchor(anchor.batch_no, anchor.merkle_root, anchor.positions_digest),
            "maxPriorityFeePerGas": priority, "maxFeePerGas": 2 * base + priority,
        }
        signed = self.account.sign_transaction(tx)
        return _hex(signed.raw_transaction), _hex(signed.hash)

    def _priority_fee(self) -> int:
        return 10**9

    def _base_fee(self) -> int:
        block = self.w3.eth.get_block("latest")
        return int(block.get("baseFeePerGas", 10**9) or 10**9)

    def send_raw(self, raw_tx_hex: str) -> str:
        try:
            return _hex(self.w3.eth.send_raw_transaction(raw_tx_hex))
        except Exception as exc:  # noqa: BLE001 - every node error means "not known to be sent"
            raise ChainSendError(f"{type(exc).__name__}: {exc}") from exc

    def receipt(self, tx_hash: str) -> Receipt | None:
        from web3.exceptions import TransactionNotFound

        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
        if r is None or r.get("blockNumber") is None:
            return None
        return Receipt(tx_hash, int(r["blockNumber"]), int(r["status"]) == 1)

    def wait_receipt(self, tx_hash: str, timeout: float) -> Receipt | None:
        from web3.exceptions import TimeExhausted

        try:
            self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
        except TimeExhausted:
            return None
        return self.receipt(tx_hash)

    def anchor_in(self, tx_hash: str) -> tuple[Anchor | None, str | None]:
        """The anchor a mined transaction carries, and who sent it."""
        from web3.exceptions import TransactionNotFound

        try:
            tx = self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return None, None
        return decode_anchor(tx["input"]), tx["from"]

    def after_mined(self, raw_tx_hex: str) -> None:
        """Hook for backends that persist mined transactions themselves."""

    def close(self) -> None:
        pass


class RpcChain(Chain):
    def __init__(self, rpc_url: str, private_key: str, timeout: float = 30.0):
        import_chain_libraries()
        from web3 import Web3

        super().__init__(Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout})), private_key)

    def _priority_fee(self) -> int:
        try:
            return int(self.w3.eth.max_priority_fee)
        except Exception:  # noqa: BLE001 - nodes without eth_maxPriorityFeePerGas
            return 10**9


class LocalChain(Chain):
    """py-evm in process, persisted as a journal of mined raw transactions under ``directory``.

    Opening it takes an exclusive lock on the journal for as long as it is open, so two processes
    never grow two different histories of the same chain.
    """

    JOURNAL = "local_chain.jsonl"

    def __init__(self, directory: Path, lock_wait_seconds: float = 120.0):
        import_chain_libraries()
        from eth_tester import EthereumTester, PyEVMBackend
        from web3 import EthereumTesterProvider, Web3

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.journal_path = directory / self.JOURNAL
        self._lock = open(directory / "local_chain.lock", "a+")
        deadline = time.monotonic() + lock_wait_seconds
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._lock.close()
                    raise ChainBusyError(f"the local chain under {directory} is open in another process (a running "
                                         f"`fintech-dataops ledger follow`?) for more than {lock_wait_seconds:.0f}s")
                time.sleep(0.05)
        backend = PyEVMBackend()
        key = backend.account_keys[0].to_hex()
        super().__init__(Web3(EthereumTesterProvider(EthereumTester(backend))), key)
        self.replayed = 0
        if self.journal_path.exists():
            for line in self.journal_path.read_text().splitlines():
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)["raw_tx"]
                except (ValueError, KeyError):
                    continue  # a torn last line from a kill -9 mid-write: that tx was never acknowledged
                self.w3.eth.send_raw_transaction(raw)
                self.replayed += 1

    def after_mined(self, raw_tx_hex: str) -> None:
        with open(self.journal_path, "a") as journal:
            journal.write(json.dumps({"raw_tx": raw_tx_hex}) + "\n")
            journal.flush()
            os.fsync(journal.fileno())

    def anchored_batches(self) -> list[tuple[int, str]]:
        """Every anchor this chain holds from the settlement account: (batch_no, tx hash), in block order."""
        found = []
        for number in range(1, int(self.w3.eth.block_number) + 1):
            block = self.w3.eth.get_block(number, full_transactions=True)
            for tx in block["transactions"]:
                anchor = decode_anchor(tx.get("input", tx.get("data", b"")))  # full blocks may be snake_case
                if anchor is not None and tx["from"] == self.address:
                    found.append((anchor.batch_no, _hex(tx["hash"])))
        return found

    def close(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()


@contextmanager
def open_chain(rpc_url: str = "", private_key: str = "", data_dir: str | Path = "") -> Iterator[Chain]:
    """The configured chain: RPC when ``rpc_url`` is set (then a key is required), else the local one."""
    if rpc_url:
        if not private_key:
            raise ValueError("a chain RPC URL needs the settlement account's private key (FINTECH_CHAIN_PRIVATE_KEY)")
        chain: Chain = RpcChain(rpc_url, private_key)
    else:
        from fintech_dataops.lib.ingestion.landing import resolve_data_dir

        chain = LocalChain(resolve_data_dir(str(data_dir) if data_dir else None) / "chain")
    try:
        yield chain
    finally:
        chain.close()
