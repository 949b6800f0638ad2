"""Validation cost per query: p50/p99 in ms over typical analytical queries, with a catalog.

    .venv/bin/python benchmarks/validator.py [--rounds 200]

The catalog's sqlglot schemas are built once per (catalog, dialect, policy) and cached, so the first
call pays for them and is reported apart. Times are CPU time of this process (``time.process_time``),
so that other work on a shared machine does not inflate them.
"""

from __future__ import annotations

import argparse
import statistics
import time

from nl2sql_agent.db.types import ColumnInfo, SchemaCatalog, TableInfo
from nl2sql_agent.safety import SqlPolicy, validate_sql


def _catalog(dialect: str) -> SchemaCatalog:
    def table(name: str, *cols: str) -> TableInfo:
        return TableInfo(
            name, tuple(ColumnInfo(c, "TEXT" if c.endswith(("name", "region")) else "INTEGER") for c in cols)
        )

    tables = [
        table("customers", "id", "name", "email", "region", "signup_date", "tenant_id"),
        table("orders", "id", "customer_id", "order_date", "status", "total_amount", "tenant_id"),
        table("order_items", "id", "order_id", "product_id", "quantity", "unit_price"),
        table("products", "id", "name", "category", "price"),
        table("sales", "id", "product_id", "region", "sale_date", "amount", "quantity"),
        table("employees", "id", "name", "department", "salary", "manager_id", "hired_at"),
    ]
    # A realistic catalog has more tables than a query touches.
    tables += [table(f"extra_{i}", "id", "a", "b", "c", "d") for i in range(40)]
    return SchemaCatalog(dialect, {t.name: t for t in tables})


QUERIES: dict[str, list[str]] = {
    "postgres": [
        "SELECT region, SUM(amount) AS revenue FROM sales GROUP BY region ORDER BY revenue DESC",
        "SELECT date_trunc('month', order_date) AS m, SUM(total_amount) FROM orders GROUP BY 1 ORDER BY 1",
        "SELECT c.region, COUNT(*) FILTER (WHERE o.status = 'returned') AS returns FROM orders o "
        "JOIN customers c ON c.id = o.customer_id GROUP BY c.region",
        "WITH m AS (SELECT date_trunc('month', order_date) AS m, SUM(total_amount) AS rev FROM orders GROUP BY 1) "
        "SELECT m, rev, rev - LAG(rev) OVER (ORDER BY m) AS delta FROM m",
        "SELECT name, department, RANK() OVER (PARTITION BY department ORDER BY salary DESC) FROM employees",
        "SELECT * FROM customers WHERE region = 'EU' LIMIT 50",
        "SELECT p.category, SUM(oi.quantity * oi.unit_price) AS revenue FROM order_items oi "
        "JOIN products p ON p.id = oi.product_id JOIN orders o ON o.id = oi.order_id "
        "WHERE o.order_date >= now() - interval '90 days' GROUP BY p.category HAVING SUM(oi.quantity) > 10",
        "SELECT customer_id FROM orders WHERE order_date >= '2024-01-01' "
        "INTERSECT SELECT customer_id FROM orders WHERE order_date < '2024-01-01'",
    ],
    "sqlite": [
        "SELECT strftime('%Y-%m', order_date) AS ym, COUNT(*) FROM orders GROUP BY ym ORDER BY ym",
        "SELECT name, price FROM products WHERE price > (SELECT AVG(price) FROM products)",
        "SELECT c.name, SUM(o.total_amount) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name",
        "SELECT id FROM orders WHERE order_date >= date('now', '-30 days') ORDER BY id DESC LIMIT 20",
    ],
}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Print per-query and overall validation cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    policy = SqlPolicy(hidden_columns=frozenset({"customers.email", "customers.tenant_id", "orders.tenant_id"}))
    filtered = SqlPolicy(row_filters={"orders": "tenant_id = 7", "customers": "tenant_id = 7"})
    overall: list[float] = []
    for dialect, queries in QUERIES.items():
        catalog = _catalog(dialect)
        start = time.process_time()
        validate_sql(queries[0], dialect=dialect, catalog=catalog, policy=policy)
        print(f"{dialect}: first call (builds cached schema) {1000 * (time.process_time() - start):.2f} ms")
        for sql in queries:
            samples = []
            for _ in range(args.rounds):
                t0 = time.process_time()
                validate_sql(sql, dialect=dialect, catalog=catalog, policy=policy)
                samples.append(1000 * (time.process_time() - t0))
            overall += samples
            print(f"  p50 {statistics.median(samples):6.3f} ms  p99 {_percentile(samples, 0.99):6.3f} ms  {sql[:70]}")
    print(
        f"all queries, catalog + hidden columns: p50 {statistics.median(overall):.3f} ms, "
        f"p99 {_percentile(overall, 0.99):.3f} ms ({len(overall)} calls)"
    )
    for label, kwargs in (("no catalog", {}), ("catalog + row filters", {"policy": filtered})):
        samples = []
        for dialect, queries in QUERIES.items():
            catalog = _catalog(dialect)
            for sql in queries:
                for _ in range(args.rounds // 4):
                    t0 = time.process_time()
                    extra = dict(kwargs, catalog=catalog) if kwargs else {}
                    validate_sql(sql, dialect=dialect, **extra)
                    samples.append(1000 * (time.process_time() - t0))
        print(f"{label}: p50 {statistics.median(samples):.3f} ms, p99 {_percentile(samples, 0.99):.3f} ms")


if __name__ == "__main__":
    main()
