"""Merkle root and inclusion proofs over a batch's entry hashes (SHA-256, Bitcoin-style pairing).

Leaves are the entries' hex SHA-256 hashes in stream order. A level with an odd count carries its
last node up by pairing it with itself. Internal node = SHA-256(0x01 || left || right), leaf node =
SHA-256(0x00 || entry_hash): the domain prefixes stop a leaf being passed off as an internal node.

Checking a proof by hand (``verify_proof``): start from SHA-256(0x00 || entry_hash); for each step
``{"side": "left"|"right", "hash": h}`` compute SHA-256(0x01 || h || node) when the sibling is on the
left, SHA-256(0x01 || node || h) when on the right; the result must equal the batch's Merkle root
(the one anchored on chain in the settlement transaction).
"""

from __future__ import annotations

import hashlib


def _leaf(entry_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(entry_hashes: list[str]) -> str:
    if not entry_hashes:
        raise ValueError("a batch has at least one entry")
    level = [_leaf(h) for h in entry_hashes]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].hex()


def inclusion_proof(entry_hashes: list[str], index: int) -> list[dict]:
    """Siblings from leaf ``index`` up to the root."""
    if not 0 <= index < len(entry_hashes):
        raise IndexError(f"leaf {index} not in a batch of {len(entry_hashes)}")
    level = [_leaf(h) for h in entry_hashes]
    steps = []
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        sibling = index ^ 1
        steps.append({"side": "left" if sibling < index else "right", "hash": level[sibling].hex()})
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        index //= 2
    return steps


def verify_proof(entry_hash_hex: str, proof: list[dict], root_hex: str) -> bool:
    node = _leaf(entry_hash_hex)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        node = _node(sibling, node) if step["side"] == "left" else _node(node, sibling)
    return node.hex() == root_hex
