"""Table previews in asset metadata: ``MetadataValue.table`` (sortable in the UI), not markdown text."""

from __future__ import annotations

import datetime as dt
import decimal
import math

import dagster as dg

_KINDS = (("bool", "boolean"), ("int", "int"), ("float", "float"), ("datetime", "string"))


def _kind(dtype) -> str:
    name = str(dtype)
    return next((kind for prefix, kind in _KINDS if name.startswith(prefix) or name.startswith(prefix.capitalize())),
                "string")


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):  # numpy scalars
        try:
            return _cell(value.item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, decimal.Decimal | dt.date | dt.datetime):
        return str(value)  # money stays exact, times readable
    text = str(value)
    return None if text in ("NaT", "<NA>", "nan") else text[:120]


def table_preview(frame, columns: list[str] | None = None, rows: int = 8) -> dg.MetadataValue:
    """The first ``rows`` rows of ``frame`` (only ``columns`` that exist, if given) as a table."""
    if frame is None:
        return dg.MetadataValue.table(records=[], schema=dg.TableSchema(columns=[]))
    if columns is not None:
        frame = frame[[c for c in columns if c in frame.columns]]
    head = frame.head(rows)
    kinds = {name: _kind(dtype) for name, dtype in head.dtypes.items()}
    records = [dg.TableRecord({str(name): _cell(v) for name, v in zip(head.columns, row)})
               for row in head.itertuples(index=False, name=None)]
    # a column whose values had to become text (Decimal, lists, times) is a string column
    schema = dg.TableSchema(columns=[dg.TableColumn(str(name), kinds[name] if all(
        not isinstance(r.data.get(str(name)), str) for r in records) else "string") for name in head.columns])
    return dg.MetadataValue.table(records=records, schema=schema)


def sql_preview(con, sql: str, rows: int = 10) -> dg.MetadataValue:
    """The first ``rows`` rows of a query as a table."""
    return table_preview(con.execute(f"SELECT * FROM ({sql}) LIMIT {int(rows)}").df(), rows=rows)
