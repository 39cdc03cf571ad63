"""Double-entry ledger: balanced entries in integer minor units, hash-chained per stream, grouped
into Merkle-rooted settlement batches anchored on an EVM chain. Pure logic and DuckDB storage;
never imports dagster."""
