"""Warehouse case rules as data: how a stored name is written back (issue 17)."""

from __future__ import annotations

import pytest

from hex_exposures.identifiers import display, normalize, parse_table_name
from hex_exposures.records import TableRef


@pytest.mark.parametrize(
    ("table", "shown"),
    [
        (
            TableRef("ANALYTICS", "HEX_WRITEBACK", "server_segments"),
            'ANALYTICS.HEX_WRITEBACK."server_segments"',
        ),
        (TableRef("ANALYTICS", "MARTS", "FCT_ORDERS"), "ANALYTICS.MARTS.FCT_ORDERS"),
        (TableRef(None, "RAW", "Odd Name"), 'RAW."Odd Name"'),
        (TableRef(None, None, 'a"b'), '"a""b"'),
        (TableRef(None, None, "T$1"), "T$1"),
        (TableRef(None, None, "1ST"), '"1ST"'),
    ],
)
def test_snowflake_quotes_what_would_not_fold_back(table: TableRef, shown: str) -> None:
    assert display(table, "snowflake") == shown
    # and the text reads back as the same stored name
    assert parse_table_name(shown, "snowflake") == table


@pytest.mark.parametrize(
    ("table", "shown"),
    [
        (TableRef("acme-prod", "analytics", "Orders"), "acme-prod.analytics.Orders"),
        (TableRef("p", "d", "events_*"), "p.d.events_*"),
        (TableRef("p", "d", "weird table"), "p.d.`weird table`"),
        (TableRef("p", "d.x", "t"), "p.`d.x`.t"),
    ],
)
def test_bigquery_backticks_only_punctuation(table: TableRef, shown: str) -> None:
    assert display(table, "bigquery") == shown


def test_normalize_folds_only_unquoted_snowflake_names() -> None:
    assert normalize("orders", quoted=False, warehouse="snowflake") == "ORDERS"
    assert normalize("orders", quoted=True, warehouse="snowflake") == "orders"
    assert normalize("Orders", quoted=False, warehouse="bigquery") == "Orders"
