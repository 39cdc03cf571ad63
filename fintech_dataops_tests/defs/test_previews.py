"""Asset previews are MetadataValue.table (sortable, typed in the UI), not markdown text."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd

from fintech_dataops.defs.previews import sql_preview, table_preview


def test_a_preview_is_a_typed_table_with_null_for_missing_values():
    frame = pd.DataFrame({"id": ["t1", "t2"], "amount": [Decimal("10.10"), Decimal("2.50")],
                          "risk": [0.5, float("nan")], "n": [1, 2], "rules": [["HIGH_VALUE"], []]})
    value = table_preview(frame, ["id", "amount", "risk", "n", "rules", "absent"], rows=1)
    assert isinstance(value, dg.TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [
        ("id", "string"), ("amount", "string"), ("risk", "float"), ("n", "int"), ("rules", "string")]
    assert value.records[0].data == {"id": "t1", "amount": "10.10", "risk": 0.5, "n": 1, "rules": "['HIGH_VALUE']"}
    assert table_preview(frame.iloc[1:], ["risk"]).records[0].data == {"risk": None}
    assert table_preview(None).records == []


def test_sql_preview_limits_rows():
    con = duckdb.connect()
    value = sql_preview(con, "SELECT range AS i FROM range(100)", rows=3)
    assert [r.data["i"] for r in value.records] == [0, 1, 2]
