"""The chain the ledger settles on: a local py-evm chain under the data dir, or a real network.

With nothing configured, ``ChainResource`` opens the local chain persisted under
``<data dir>/chain``. With ``FINTECH_CHAIN_RPC_URL`` and ``FINTECH_CHAIN_PRIVATE_KEY`` set (read as
``dg.EnvVar`` when a run starts; the key is never logged or put in metadata) the same settlement code
signs and sends to that network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

RPC_URL_ENV = "FINTECH_CHAIN_RPC_URL"
PRIVATE_KEY_ENV = "FINTECH_CHAIN_PRIVATE_KEY"


class ChainResource(dg.ConfigurableResource):
    rpc_url: str = Field(default="", description=f"JSON-RPC endpoint (EnvVar {RPC_URL_ENV}); empty = local chain")
    private_key: str = Field(default="", description=f"Settlement account key (EnvVar {PRIVATE_KEY_ENV}); never logged")
    data_dir: str = Field(default="", description="Data dir of the local chain; empty = $FINTECH_DATA_DIR or ./data")
    receipt_timeout_seconds: float = Field(default=120.0, description="How long to wait for a receipt per batch")

    @contextmanager
    def open(self) -> Iterator[object]:
        from fintech_dataops.lib.ledger.chain import open_chain

        with open_chain(self.rpc_url, self.private_key, self.data_dir) as chain:
            yield chain


def _env_or_empty(name: str):
    return dg.EnvVar(name) if os.environ.get(name) else ""


def ledger_resources() -> dict[str, dg.ConfigurableResource]:
    """Resolved when the definitions load, never at import of this module."""
    return {"chain": ChainResource(rpc_url=_env_or_empty(RPC_URL_ENV), private_key=_env_or_empty(PRIVATE_KEY_ENV))}
