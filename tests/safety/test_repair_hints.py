"""Repair hints name where a column really is, and NOT IN is made NULL-safe."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nl2sql_agent import SQLValidationError, validate_sql

CATALOG = {
    "stores": {"store_id": "INT", "store_name": "TEXT", "square_feet": "INT"},
    "sales": {"sale_id": "INT", "store_id": "INT", "customer_id": "INT"},
    "customers": {"customer_id": "INT", "segment": "TEXT"},
}


def issues(sql: str) -> list[str]:
    with pytest.raises(SQLValidationError) as caught:
        validate_sql(sql, dialect="sqlite", catalog=CATALOG)
    return caught.value.issues


def test_swapped_alias_hint_names_the_right_alias() -> None:
    found = issues("SELECT T2.store_name FROM stores AS T1 JOIN sales AS T2 ON T1.store_id = T2.store_id")
    assert found == [
        "unknown column t2.store_name (t2 is sales); store_name is a column of stores, "
        "which this query calls t1: use t1.store_name"
    ]


def test_column_of_a_table_not_in_the_query_says_to_join_it() -> None:
    assert issues("SELECT s.segment FROM sales AS s") == [
        "unknown column s.segment (s is sales); segment is a column of customers: join that table to use it"
    ]


def test_misspelling_still_gets_a_spelling_hint() -> None:
    assert issues("SELECT s.sale_idd FROM sales AS s") == ["unknown column sales.sale_idd; did you mean sales.sale_id?"]


def test_not_in_subquery_skips_nulls(sample_db_path: Path) -> None:
    sql = "SELECT COUNT(*) FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM sales)"
    with sqlite3.connect(f"file:{sample_db_path}?mode=ro", uri=True) as conn:
        naive = conn.execute(sql).fetchone()[0]
        safe = conn.execute(validate_sql(sql, dialect="sqlite", catalog=CATALOG).sql).fetchone()[0]
        expected = conn.execute(
            "SELECT COUNT(*) FROM customers c "
            "WHERE NOT EXISTS (SELECT 1 FROM sales s WHERE s.customer_id = c.customer_id)"
        ).fetchone()[0]
    assert naive == 0  # walk-in sales have no customer: plain NOT IN matches nothing
    assert safe == expected > 0


def test_null_guard_is_added_once_when_a_query_is_validated_again() -> None:
    sql = "SELECT c.customer_id FROM customers AS c WHERE c.customer_id NOT IN (SELECT s.customer_id FROM sales AS s)"
    once = validate_sql(sql, dialect="sqlite", catalog=CATALOG).sql
    assert once.count("IS NULL") == 1
    assert validate_sql(once, dialect="sqlite", catalog=CATALOG).sql == once


def test_unqualified_column_of_another_table_names_it() -> None:
    assert issues("SELECT segment FROM sales") == [
        "unknown column segment (sales has no segment); segment is a column of customers: join that table to use it"
    ]


def test_swapped_alias_is_fixed_without_the_model() -> None:
    from nl2sql_agent.safety.autofix import requalify_columns

    swapped = "SELECT T2.store_name FROM stores AS T1 JOIN sales AS T2 ON T1.store_id = T2.store_id"
    fixed = requalify_columns(swapped, dialect="sqlite", catalog=CATALOG)
    assert fixed == "SELECT T1.store_name FROM stores AS T1 JOIN sales AS T2 ON T1.store_id = T2.store_id"
    assert validate_sql(fixed, dialect="sqlite", catalog=CATALOG).tables == {"stores", "sales"}
    # Ambiguous (the column is in both tables) or absent everywhere: no guess.
    assert (
        requalify_columns(
            "SELECT T2.nope FROM stores AS T1 JOIN sales AS T2 ON 1 = 1", dialect="sqlite", catalog=CATALOG
        )
        is None
    )


def test_a_join_condition_comparing_a_column_with_itself_is_an_issue() -> None:
    found = issues(
        "SELECT T1.store_name, COUNT(T2.sale_id) FROM stores AS T1 LEFT JOIN sales AS T2 "
        "ON T1.store_id = T1.store_id GROUP BY T1.store_name"
    )
    assert found == [
        "join condition t1.store_id = t1.store_id compares a column with itself (always true): "
        "match a column of t2 to the table it joins"
    ]
    # The same comparison outside a join condition is a (pointless) filter, not a cross join.
    assert validate_sql("SELECT store_name FROM stores WHERE store_id = store_id", dialect="sqlite", catalog=CATALOG)
