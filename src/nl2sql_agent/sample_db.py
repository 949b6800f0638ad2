"""The bundled sample database: a deterministic, realistic retail chain (2023-01-01 to 2025-12-31).

Eight tables — ``regions``, ``stores``, ``customers``, ``product_categories``, ``products``, ``employees``,
``sales`` (about 40,000 rows with seasonality, a Black Friday peak and yearly growth) and ``returns`` — are
generated from a seeded :class:`random.Random`, so every build holds exactly the same rows and the gold
answers in :data:`SAMPLE_QUESTIONS` never change. Dates are fixed, never relative to today.

The same rows can be written to a SQLite file (:func:`ensure_sample_sqlite`) or loaded into PostgreSQL
(:func:`load_sample_into`). Column comments live in the SQLite DDL as ``-- comment`` text (kept verbatim in
``sqlite_master.sql``, where the catalog reads them) and as ``COMMENT ON`` in PostgreSQL.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import itertools
import os
import random
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nl2sql_agent.sqltext import quote_identifier

SCHEMA_VERSION = 3
"""Stored as ``PRAGMA user_version``; bump it whenever the schema or the generated rows change."""
SEED = 20240917
START_DATE = dt.date(2023, 1, 1)
END_DATE = dt.date(2025, 12, 31)
N_CUSTOMERS = 3000
N_SALES = 40_000


@dataclass(frozen=True)
class SampleQuestion:
    """A question about the sample database and SQL (SQLite dialect) that answers it correctly."""

    question: str
    sql: str


SAMPLE_QUESTIONS: tuple[SampleQuestion, ...] = (
    SampleQuestion(
        "How many customers do we have?",
        "SELECT COUNT(*) AS customer_count FROM customers",
    ),
    SampleQuestion(
        "What were the top 5 products by revenue in 2024?",
        "SELECT product_name, SUM(total_amount) AS revenue FROM sales "
        "WHERE sale_date >= '2024-01-01' AND sale_date < '2025-01-01' "
        "GROUP BY product_id, product_name ORDER BY revenue DESC LIMIT 5",
    ),
    SampleQuestion(
        "What was the total revenue by region in 2025?",
        "SELECT r.region_name, SUM(s.total_amount) AS revenue FROM sales AS s "
        "JOIN stores AS st ON st.store_id = s.store_id JOIN regions AS r ON r.region_id = st.region_id "
        "WHERE s.sale_date >= '2025-01-01' AND s.sale_date < '2026-01-01' "
        "GROUP BY r.region_name",
    ),
    SampleQuestion(
        "What was the average order value per month in 2024?",
        "SELECT strftime('%Y-%m', sale_date) AS month, AVG(total_amount) AS avg_order_value "
        "FROM sales WHERE sale_date >= '2024-01-01' AND sale_date < '2025-01-01' "
        "GROUP BY month ORDER BY month",
    ),
    SampleQuestion(
        "What is the return rate by product category?",
        "SELECT c.category_name, 100.0 * COUNT(r.return_id) / COUNT(s.sale_id) AS return_rate_pct "
        "FROM sales AS s JOIN products AS p ON p.product_id = s.product_id "
        "JOIN product_categories AS c ON c.category_id = p.category_id "
        "LEFT JOIN returns AS r ON r.sale_id = s.sale_id "
        "GROUP BY c.category_name",
    ),
    SampleQuestion(
        "Who is the best-selling employee by total revenue?",
        "SELECT e.first_name, e.last_name, SUM(s.total_amount) AS revenue FROM sales AS s "
        "JOIN employees AS e ON e.employee_id = s.employee_id "
        "GROUP BY e.employee_id, e.first_name, e.last_name ORDER BY revenue DESC LIMIT 1",
    ),
    SampleQuestion(
        "Which store made the most sales in 2023?",
        "SELECT st.store_name, COUNT(*) AS sales_count FROM sales AS s "
        "JOIN stores AS st ON st.store_id = s.store_id "
        "WHERE s.sale_date >= '2023-01-01' AND s.sale_date < '2024-01-01' "
        "GROUP BY st.store_id, st.store_name ORDER BY sales_count DESC LIMIT 1",
    ),
    SampleQuestion(
        "How much was refunded for each return reason?",
        "SELECT reason, SUM(refund_amount) AS total_refunded FROM returns GROUP BY reason",
    ),
    SampleQuestion(
        "How many new customers signed up each year?",
        "SELECT strftime('%Y', signup_date) AS signup_year, COUNT(*) AS new_customers FROM customers "
        "GROUP BY signup_year ORDER BY signup_year",
    ),
    SampleQuestion(
        "What is the average salary by job title?",
        "SELECT title, AVG(salary) AS avg_salary FROM employees GROUP BY title",
    ),
    SampleQuestion(
        "What was the gross margin by product category in 2025?",
        "SELECT c.category_name, SUM(s.total_amount - s.quantity * p.unit_cost) AS gross_margin "
        "FROM sales AS s JOIN products AS p ON p.product_id = s.product_id "
        "JOIN product_categories AS c ON c.category_id = p.category_id "
        "WHERE s.sale_date >= '2025-01-01' AND s.sale_date < '2026-01-01' "
        "GROUP BY c.category_name",
    ),
)
"""Representative questions with gold SQL, for the README, live checks and evaluations.

The gold returns what the question asks and no more: no extra columns, no rounding and no order the
question does not ask for (the harness compares values exactly, and in order when the gold orders).
"""


# --------------------------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class _Column:
    name: str
    sqlite_type: str
    pg_type: str
    comment: str
    not_null: bool = True
    primary_key: bool = False
    references: str | None = None
    """``table.column`` this column is a foreign key to."""
    unique: bool = False


@dataclass(frozen=True)
class _Table:
    name: str
    comment: str
    columns: tuple[_Column, ...]
    indexes: tuple[str, ...] = ()
    """Columns that get a plain index (foreign keys and dates, which questions filter and join on)."""


def _pk(name: str, comment: str) -> _Column:
    return _Column(name, "INTEGER", "integer", comment, primary_key=True)


def _fk(name: str, target: str, comment: str, *, not_null: bool = True) -> _Column:
    return _Column(name, "INTEGER", "integer", comment, not_null=not_null, references=target)


def _text(name: str, size: int, comment: str, **kwargs: Any) -> _Column:
    return _Column(name, f"VARCHAR({size})", f"varchar({size})", comment, **kwargs)


def _date(name: str, comment: str) -> _Column:
    return _Column(name, "DATE", "date", comment)


def _money(name: str, comment: str) -> _Column:
    return _Column(name, "NUMERIC(10, 2)", "numeric(10, 2)", comment)


def _int(name: str, comment: str) -> _Column:
    return _Column(name, "INTEGER", "integer", comment)


_TABLES: tuple[_Table, ...] = (
    _Table(
        "regions",
        "Sales regions the stores are grouped into.",
        (
            _pk("region_id", "Region identifier."),
            _text("region_name", 40, "Region name: North, South, East, West or Central.", unique=True),
        ),
    ),
    _Table(
        "stores",
        "Physical stores of the chain.",
        (
            _pk("store_id", "Store identifier."),
            _text("store_name", 80, "Store name, e.g. 'Seattle Downtown'."),
            _text("city", 60, "City the store is in."),
            _fk("region_id", "regions.region_id", "Region the store belongs to."),
            _date("opened_on", "Date the store opened (ISO yyyy-mm-dd)."),
            _int("square_feet", "Sales floor area in square feet."),
        ),
        ("region_id",),
    ),
    _Table(
        "customers",
        "Registered (loyalty card) customers; walk-in sales have no customer.",
        (
            _pk("customer_id", "Customer identifier."),
            _text("first_name", 40, "Customer's first name."),
            _text("last_name", 40, "Customer's last name."),
            _text("email", 120, "Customer's e-mail address (unique).", unique=True),
            _text("phone", 20, "Customer's phone number."),
            _text("city", 60, "City the customer lives in."),
            _fk("region_id", "regions.region_id", "Region the customer lives in."),
            _date("signup_date", "Date the customer registered (ISO yyyy-mm-dd)."),
            _text("segment", 20, "Customer segment: Consumer, Small Business or Corporate."),
        ),
        ("region_id", "signup_date"),
    ),
    _Table(
        "product_categories",
        "Product categories.",
        (
            _pk("category_id", "Category identifier."),
            _text("category_name", 40, "Category name, e.g. Electronics or Grocery.", unique=True),
            _text("description", 200, "What the category holds."),
        ),
    ),
    _Table(
        "products",
        "Products sold by the chain, with their current list price and unit cost.",
        (
            _pk("product_id", "Product identifier."),
            _text("sku", 20, "Stock keeping unit code (unique).", unique=True),
            _text("product_name", 100, "Product name, e.g. 'Voltix Wireless Earbuds'."),
            _fk("category_id", "product_categories.category_id", "Category of the product."),
            _money("unit_price", "Current list price per unit in USD (sales.unit_price holds the price paid)."),
            _money("unit_cost", "Cost of one unit to the chain in USD."),
        ),
        ("category_id",),
    ),
    _Table(
        "employees",
        "Store staff and regional managers.",
        (
            _pk("employee_id", "Employee identifier."),
            _text("first_name", 40, "Employee's first name."),
            _text("last_name", 40, "Employee's last name."),
            _text(
                "title",
                40,
                "Job title: Regional Manager, Store Manager, Assistant Manager, Sales Associate or Cashier.",
            ),
            _fk(
                "store_id",
                "stores.store_id",
                "Store the employee works at; NULL for regional managers.",
                not_null=False,
            ),
            _date("hire_date", "Date the employee was hired (ISO yyyy-mm-dd)."),
            _money("salary", "Yearly salary in USD."),
            _fk("manager_id", "employees.employee_id", "The employee's manager; NULL at the top.", not_null=False),
        ),
        ("store_id", "manager_id"),
    ),
    _Table(
        "sales",
        "One row per sale (an order line): a product sold in a store, with the price actually paid.",
        (
            _pk("sale_id", "Sale identifier (increases with sale_date)."),
            _date("sale_date", "Date of the sale (ISO yyyy-mm-dd), 2023-01-01 to 2025-12-31."),
            _fk("customer_id", "customers.customer_id", "Registered customer; NULL for walk-in sales.", not_null=False),
            _fk("store_id", "stores.store_id", "Store where the sale happened."),
            _fk("employee_id", "employees.employee_id", "Employee who made the sale."),
            _fk("product_id", "products.product_id", "Product sold."),
            _text("product_name", 100, "Product name, copied from products for convenience."),
            _int("quantity", "Number of units sold."),
            _money("unit_price", "Price per unit at the time of sale, before discount, in USD."),
            _Column("discount", "NUMERIC(4, 2)", "numeric(4, 2)", "Discount as a fraction, e.g. 0.10 for 10%."),
            _money("total_amount", "Amount paid in USD: quantity * unit_price * (1 - discount). Revenue."),
            _text("payment_method", 20, "Credit Card, Debit Card, Cash or Mobile Wallet."),
        ),
        ("sale_date", "customer_id", "store_id", "employee_id", "product_id"),
    ),
    _Table(
        "returns",
        "Products brought back after a sale, at most one return per sale.",
        (
            _pk("return_id", "Return identifier."),
            _fk("sale_id", "sales.sale_id", "The sale being returned (unique)."),
            _date("return_date", "Date of the return (ISO yyyy-mm-dd)."),
            _text("reason", 40, "Why the customer returned the product."),
            _int("quantity", "Number of units returned (at most the quantity sold)."),
            _money("refund_amount", "Amount refunded in USD."),
        ),
        ("return_date",),
    ),
)
_UNIQUE_INDEXES = {"returns": ("sale_id",)}

TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in _TABLES)
"""Sample tables in dependency order (referenced tables first)."""


def _sqlite_ddl(table: _Table) -> str:
    lines = []
    for i, col in enumerate(table.columns):
        parts = [col.name, col.sqlite_type]
        if col.primary_key:
            parts.append("PRIMARY KEY")
        elif col.not_null:
            parts.append("NOT NULL")
        if col.unique:
            parts.append("UNIQUE")
        if col.references:
            ref_table, ref_col = col.references.split(".")
            parts.append(f"REFERENCES {ref_table} ({ref_col})")
        comma = "," if i < len(table.columns) - 1 else ""
        lines.append(f"  {' '.join(parts)}{comma} -- {col.comment}")
    # The table comment sits between the name and "(" so it survives in sqlite_master.sql.
    return f"CREATE TABLE {table.name} -- {table.comment}\n(\n" + "\n".join(lines) + "\n)"


def _pg_ddl(table: _Table, schema: str) -> list[str]:
    qualified = f"{quote_identifier(schema)}.{table.name}"
    cols = []
    for col in table.columns:
        parts = [col.name, col.pg_type]
        if col.primary_key:
            parts.append("PRIMARY KEY")
        elif col.not_null:
            parts.append("NOT NULL")
        if col.unique:
            parts.append("UNIQUE")
        cols.append(" ".join(parts))
    statements = [f"CREATE TABLE {qualified} (\n  " + ",\n  ".join(cols) + "\n)"]
    statements.append(f"COMMENT ON TABLE {qualified} IS {_pg_literal(table.comment)}")
    statements += [f"COMMENT ON COLUMN {qualified}.{col.name} IS {_pg_literal(col.comment)}" for col in table.columns]
    return statements


def _pg_foreign_keys(table: _Table, schema: str) -> list[str]:
    """Added after the rows are loaded: one bulk check is far faster than a trigger call per copied row."""
    statements = []
    for col in table.columns:
        if col.references:
            ref_table, ref_col = col.references.split(".")
            statements.append(
                f"ALTER TABLE {quote_identifier(schema)}.{table.name} ADD CONSTRAINT fk_{table.name}_{col.name} "
                f"FOREIGN KEY ({col.name}) REFERENCES {quote_identifier(schema)}.{ref_table} ({ref_col})"
            )
    return statements


def _index_statements(table: _Table, prefix: str = "") -> list[str]:
    statements = [f"CREATE INDEX ix_{table.name}_{col} ON {prefix}{table.name} ({col})" for col in table.indexes]
    statements += [
        f"CREATE UNIQUE INDEX ux_{table.name}_{col} ON {prefix}{table.name} ({col})"
        for col in _UNIQUE_INDEXES.get(table.name, ())
    ]
    return statements


def _pg_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ----------------------------------------------------------------------------------------------- data

Row = tuple[Any, ...]


class _Choice:
    """A fixed weighted choice: the same draw as ``rng.choices(..., cum_weights=...)``, without its overhead."""

    __slots__ = ("cumulative", "values")

    def __init__(self, options: Iterable[tuple[Any, float]]) -> None:
        pairs = list(options)
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> Any:
        index = bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1], 0, len(self.values) - 1)
        return self.values[index]


_REGIONS = ("North", "South", "East", "West", "Central")
_CITIES = {
    "North": ("Minneapolis", "Madison", "Fargo", "Duluth", "Green Bay"),
    "South": ("Atlanta", "Houston", "Nashville", "Charlotte", "New Orleans"),
    "East": ("New York", "Boston", "Philadelphia", "Baltimore", "Hartford"),
    "West": ("Seattle", "San Francisco", "Portland", "Denver", "Phoenix"),
    "Central": ("Chicago", "St. Louis", "Kansas City", "Omaha", "Indianapolis"),
}
_STORES_PER_REGION = {"North": 4, "South": 6, "East": 5, "West": 6, "Central": 4}
_STORE_SUFFIXES = ("Downtown", "Mall", "Plaza", "Outlet", "Center", "Riverside")
_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Steven", "Emily",
    "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "Luis", "Melissa",
    "Wei", "Priya", "Ahmed", "Fatima", "Hiroshi", "Yuki", "Olga", "Ivan", "Aisha", "Kwame",
    "Sofia", "Mateo", "Chloe", "Noah", "Emma", "Liam", "Olivia", "Ethan", "Ava", "Lucas",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Chen", "Patel", "Kim", "Singh", "Khan", "Tanaka", "Ivanova", "Okafor", "Silva", "Novak",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
_SEGMENTS = _Choice((("Consumer", 70), ("Small Business", 20), ("Corporate", 10)))
_CUSTOMER_REGIONS = _Choice(zip(_REGIONS, (16, 24, 22, 24, 14), strict=True))

_Category = tuple[str, str, int, tuple[float, float], tuple[float, float], tuple[str, ...], tuple[str, ...]]
# name, description, product count, (min price, max price), cost ratio range, brands, items
_CATEGORIES: tuple[_Category, ...] = (
    ("Electronics", "Phones, audio, computers and accessories.", 22, (19.0, 899.0), (0.62, 0.8),
     ("Voltix", "Nexon", "Auralis", "Pixelon"),
     ("Wireless Earbuds", "Bluetooth Speaker", "Smartwatch", "USB-C Charger", "Laptop 14in", "Tablet 10in",
      "Noise-Cancelling Headphones", "4K Monitor", "Power Bank", "Webcam HD")),
    ("Home & Kitchen", "Cookware, small appliances and home goods.", 22, (9.0, 249.0), (0.5, 0.7),
     ("Casa", "Hearth & Co", "Kitchly", "Domio"),
     ("Chef Knife", "Nonstick Skillet", "Coffee Maker", "Blender", "Cotton Towel Set", "Air Fryer",
      "Table Lamp", "Storage Bins", "Cutting Board", "Electric Kettle")),
    ("Clothing", "Apparel and footwear for adults and children.", 24, (12.0, 149.0), (0.35, 0.55),
     ("Northwind", "Urban Thread", "Loom & Line", "Trailmark"),
     ("Denim Jeans", "Cotton T-Shirt", "Hooded Sweatshirt", "Rain Jacket", "Running Shoes", "Wool Socks",
      "Chino Pants", "Puffer Coat", "Sneakers", "Flannel Shirt")),
    ("Sports & Outdoors", "Fitness, camping and outdoor equipment.", 18, (15.0, 399.0), (0.5, 0.7),
     ("Summit", "ProFit", "Wildpath"),
     ("Yoga Mat", "Camping Tent", "Dumbbell Set", "Hiking Backpack", "Water Bottle", "Bike Helmet",
      "Sleeping Bag", "Resistance Bands")),
    ("Toys & Games", "Toys, puzzles and board games.", 16, (8.0, 99.0), (0.45, 0.65),
     ("Playwise", "Brickly", "FunForge"),
     ("Building Blocks Set", "Board Game", "Jigsaw Puzzle 1000pc", "Remote Control Car", "Plush Bear",
      "Art Kit", "Card Game")),
    ("Beauty", "Skin care, hair care and cosmetics.", 16, (6.0, 79.0), (0.3, 0.5),
     ("Lumea", "Velvetine", "PureRoot"),
     ("Moisturizer", "Shampoo", "Conditioner", "Sunscreen SPF 50", "Lip Balm", "Face Serum", "Hand Cream")),
    ("Grocery", "Packaged food and drinks.", 20, (2.5, 24.0), (0.6, 0.8),
     ("Harvest Lane", "Daily Pantry", "GreenLeaf"),
     ("Ground Coffee", "Olive Oil", "Pasta", "Granola", "Green Tea", "Dark Chocolate", "Almonds",
      "Sparkling Water")),
    ("Books", "Printed books and notebooks.", 12, (7.0, 45.0), (0.55, 0.7),
     ("Paperleaf", "Inkwell Press"),
     ("Cookbook", "Mystery Novel", "Travel Guide", "Notebook A5", "Children's Picture Book", "Biography",
      "Science Fiction Novel")),
)  # fmt: skip
# Month-of-year demand multipliers per category (index 0 = January); others follow the global curve.
_CATEGORY_MONTH_BOOST = {
    "Toys & Games": (0.7, 0.7, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9, 1.0, 1.6, 2.6),
    "Sports & Outdoors": (0.8, 0.8, 1.0, 1.2, 1.4, 1.6, 1.6, 1.4, 1.1, 0.9, 0.8, 0.9),
    "Clothing": (1.0, 0.9, 1.0, 1.0, 0.9, 0.9, 0.9, 1.2, 1.3, 1.1, 1.2, 1.3),
}
_MONTH_WEIGHT = (0.8, 0.75, 0.9, 0.95, 1.0, 1.05, 1.05, 1.0, 0.95, 1.0, 1.3, 1.7)
_WEEKDAY_WEIGHT = (0.85, 0.85, 0.9, 0.95, 1.1, 1.4, 1.2)  # Monday .. Sunday
_YEAR_WEIGHT = {2023: 1.0, 2024: 1.12, 2025: 1.22}
_YEAR_PRICE_FACTOR = {2023: 0.94, 2024: 0.97, 2025: 1.0}
_DISCOUNTS = _Choice(((0.0, 62), (0.05, 12), (0.10, 12), (0.15, 6), (0.20, 5), (0.25, 3)))
_QUANTITIES = _Choice(((1, 60), (2, 22), (3, 10), (4, 5), (5, 3)))
_PAYMENT_WEIGHTS = {  # Credit Card, Debit Card, Cash, Mobile Wallet
    2023: (42, 28, 20, 10),
    2024: (41, 27, 16, 16),
    2025: (40, 26, 12, 22),
}
_PAYMENT_METHODS = ("Credit Card", "Debit Card", "Cash", "Mobile Wallet")
_RETURN_RATE = {
    "Clothing": 0.105, "Electronics": 0.078, "Home & Kitchen": 0.056, "Sports & Outdoors": 0.05,
    "Toys & Games": 0.045, "Beauty": 0.033, "Books": 0.022, "Grocery": 0.009,
}  # fmt: skip
_RETURN_REASONS = (
    ("Defective", 25), ("Changed mind", 25), ("Not as described", 15), ("Damaged in transit", 10),
    ("Better price elsewhere", 10), ("Wrong size", 15),
)  # fmt: skip


def _iso(day: dt.date) -> str:
    return day.isoformat()


def _day_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def _black_friday(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


@dataclass(frozen=True)
class _Store:
    store_id: int
    region_id: int
    opened_on: dt.date
    weight: float


def generate_rows(seed: int = SEED) -> dict[str, list[Row]]:
    """Every sample table's rows, in column order, with dates as ISO strings; deterministic for a seed."""
    rng = random.Random(seed)
    tables: dict[str, list[Row]] = {}
    tables["regions"] = [(i, name) for i, name in enumerate(_REGIONS, start=1)]
    region_id = {name: i for i, name in tables["regions"]}

    stores: list[_Store] = []
    store_rows: list[Row] = []
    late_openings = iter((dt.date(2024, 3, 15), dt.date(2025, 5, 1)))
    late_store_ids = {12, 23}  # fixed ids, so answers about the newest stores are stable
    for region in _REGIONS:
        for k in range(_STORES_PER_REGION[region]):
            store_id = len(stores) + 1
            city = _CITIES[region][k % len(_CITIES[region])]
            name = f"{city} {_STORE_SUFFIXES[(k + store_id) % len(_STORE_SUFFIXES)]}"
            opened = (
                next(late_openings)
                if store_id in late_store_ids
                else _day_between(rng, dt.date(2006, 1, 1), dt.date(2022, 6, 30))
            )
            square_feet = rng.randrange(8000, 40001, 500)
            stores.append(_Store(store_id, region_id[region], opened, square_feet / 20000))
            store_rows.append((store_id, name, city, region_id[region], _iso(opened), square_feet))
    tables["stores"] = store_rows

    tables["customers"] = customers = _customers(rng, region_id)

    categories = [(i, name, desc) for i, (name, desc, *_rest) in enumerate(_CATEGORIES, start=1)]
    tables["product_categories"] = categories
    tables["products"] = products = _products(rng)
    tables["employees"] = employees = _employees(rng, stores)

    sales = _sales(rng, stores, customers, products, employees)
    tables["sales"] = sales
    tables["returns"] = _returns(rng, sales, products)
    return tables


def _customers(rng: random.Random, region_id: dict[str, int]) -> list[Row]:
    rows: list[Row] = []
    seen_emails: dict[str, int] = {}
    for customer_id in range(1, N_CUSTOMERS + 1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        region = _CUSTOMER_REGIONS.pick(rng)
        city = rng.choice(_CITIES[region])
        # Most customers predate the sales window, the rest join steadily through it.
        if rng.random() < 0.55:
            signup = _day_between(rng, dt.date(2019, 1, 1), dt.date(2022, 12, 31))
        else:
            signup = _day_between(rng, START_DATE, dt.date(2025, 11, 30))
        local = f"{first}.{last}".lower().replace("'", "")
        count = seen_emails.get(local, 0) + 1
        seen_emails[local] = count
        email = f"{local}{count if count > 1 else ''}@{rng.choice(_EMAIL_DOMAINS)}"
        phone = f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"
        segment = _SEGMENTS.pick(rng)
        rows.append((customer_id, first, last, email, phone, city, region_id[region], _iso(signup), segment))
    return rows


def _products(rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for category_id, (_name, _desc, count, (low, high), (cost_lo, cost_hi), brands, items) in enumerate(
        _CATEGORIES, start=1
    ):
        combos = [f"{brand} {item}" for item in items for brand in brands]
        rng.shuffle(combos)
        prefix = _name[:3].upper()
        for n, product_name in enumerate(sorted(combos[:count]), start=1):
            # Log-uniform prices: many cheap items, a few expensive ones, as on a real shelf.
            price = round(round(low * (high / low) ** rng.random()) - 0.01, 2)
            cost = round(price * rng.uniform(cost_lo, cost_hi), 2)
            rows.append((len(rows) + 1, f"{prefix}-{category_id}{n:03d}", product_name, category_id, price, cost))
    return rows


def _employees(rng: random.Random, stores: list[_Store]) -> list[Row]:
    rows: list[Row] = []

    def person() -> tuple[str, str]:
        return rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)

    def hired(store: _Store | None) -> str:
        if store is not None and store.opened_on > dt.date(2022, 12, 31):
            return _iso(_day_between(rng, store.opened_on - dt.timedelta(days=75), store.opened_on))
        earliest = max(store.opened_on, dt.date(2012, 1, 1)) if store else dt.date(2009, 1, 1)
        return _iso(_day_between(rng, earliest, dt.date(2022, 12, 31)))

    regional: dict[int, int] = {}
    for region in range(1, len(_REGIONS) + 1):
        regional[region] = len(rows) + 1
        rows.append((len(rows) + 1, *person(), "Regional Manager", None, hired(None),
                     float(rng.randrange(118_000, 152_001, 500)), None))  # fmt: skip
    extra_staff = set(rng.sample([s.store_id for s in stores], 15))
    for store in stores:
        manager = len(rows) + 1
        rows.append((manager, *person(), "Store Manager", store.store_id, hired(store),
                     float(rng.randrange(68_000, 92_001, 500)), regional[store.region_id]))  # fmt: skip
        rows.append((len(rows) + 1, *person(), "Assistant Manager", store.store_id, hired(store),
                     float(rng.randrange(48_000, 62_001, 500)), manager))  # fmt: skip
        for _ in range(3 if store.store_id in extra_staff else 2):
            title = rng.choice(("Sales Associate", "Sales Associate", "Cashier"))
            salary = (
                rng.randrange(34_000, 46_001, 250) if title == "Sales Associate" else rng.randrange(29_000, 37_001, 250)
            )
            rows.append((len(rows) + 1, *person(), title, store.store_id, hired(store), float(salary), manager))
    return rows


class _CumulativePicker:
    """Weighted choice among the first ``k`` options (a growing eligible prefix), in O(log n)."""

    def __init__(self, weights: Sequence[float]) -> None:
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random, k: int) -> int:
        return bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[k - 1])


def _sales(
    rng: random.Random,
    stores: list[_Store],
    customers: list[Row],
    products: list[Row],
    employees: list[Row],
) -> list[Row]:
    days = [START_DATE + dt.timedelta(days=i) for i in range((END_DATE - START_DATE).days + 1)]
    black_fridays = {_black_friday(y) for y in _YEAR_WEIGHT}
    day_weights = [
        _MONTH_WEIGHT[d.month - 1]
        * _WEEKDAY_WEIGHT[d.weekday()]
        * _YEAR_WEIGHT[d.year]
        * (3.5 if d in black_fridays else 2.0 if dt.date(d.year, 12, 17) <= d <= dt.date(d.year, 12, 23) else 1.0)
        for d in days
    ]
    sale_days = sorted(rng.choices(days, weights=day_weights, k=N_SALES))

    # Customers sorted by signup: the ones registered by a given day are a prefix of this list.
    by_signup = sorted(customers, key=lambda c: (c[7], c[0]))
    signup_days = [dt.date.fromisoformat(c[7]) for c in by_signup]
    customer_picker = _CumulativePicker([rng.paretovariate(1.6) for _ in by_signup])

    category_names = [c[0] for c in _CATEGORIES]
    popularity = [1 / (rank**0.7) for rank in range(1, len(products) + 1)]
    rng.shuffle(popularity)
    month_product_weights = [
        [
            popularity[i] * _CATEGORY_MONTH_BOOST.get(category_names[p[3] - 1], (1.0,) * 12)[month]
            for i, p in enumerate(products)
        ]
        for month in range(12)
    ]
    month_pickers = [_CumulativePicker(w) for w in month_product_weights]

    staff_of: dict[int, list[tuple[int, float]]] = {s.store_id: [] for s in stores}
    seller_weight = {"Store Manager": 1.0, "Assistant Manager": 2.0, "Sales Associate": 5.0, "Cashier": 4.0}
    for emp in employees:
        if emp[4] is not None:
            staff_of[emp[4]].append((emp[0], seller_weight[emp[3]]))
    sellers = {store_id: _Choice(members) for store_id, members in staff_of.items()}
    stores_by_region: dict[int, list[_Store]] = {}
    for store in stores:
        stores_by_region.setdefault(store.region_id, []).append(store)

    payments = {
        year: _Choice(zip(_PAYMENT_METHODS, weights, strict=True)) for year, weights in _PAYMENT_WEIGHTS.items()
    }
    current_day: dt.date | None = None
    open_stores = _Choice(())
    open_by_region: dict[int, _Choice] = {}
    rows: list[Row] = []
    for sale_id, day in enumerate(sale_days, start=1):
        if day != current_day:
            current_day = day
            open_stores = _Choice((s, s.weight) for s in stores if s.opened_on <= day)
            open_by_region = {
                region: _Choice((s, s.weight) for s in members if s.opened_on <= day)
                for region, members in stores_by_region.items()
                if any(s.opened_on <= day for s in members)
            }
        registered = bisect.bisect_right(signup_days, day)
        customer: Row | None = None
        if registered and rng.random() < 0.88:
            customer = by_signup[customer_picker.pick(rng, registered)]
        candidates = open_stores
        if customer is not None and rng.random() < 0.85:
            candidates = open_by_region.get(customer[6], open_stores)
        store = candidates.pick(rng)
        staff = sellers[store.store_id]
        employee_id = staff.pick(rng)
        product = products[month_pickers[day.month - 1].pick(rng, len(products))]
        quantity = _QUANTITIES.pick(rng)
        if product[3] == category_names.index("Grocery") + 1:
            quantity += rng.choice((0, 1, 2))
        unit_price = round(product[4] * _YEAR_PRICE_FACTOR[day.year], 2)
        discount = _DISCOUNTS.pick(rng)
        if day in black_fridays and discount < 0.2:
            discount = 0.2
        total = round(quantity * unit_price * (1 - discount), 2)
        payment = payments[day.year].pick(rng)
        rows.append(
            (
                sale_id,
                _iso(day),
                customer[0] if customer else None,
                store.store_id,
                employee_id,
                product[0],
                product[2],
                quantity,
                unit_price,
                discount,
                total,
                payment,
            )
        )
    return rows


def _returns(rng: random.Random, sales: list[Row], products: list[Row]) -> list[Row]:
    category_names = [c[0] for c in _CATEGORIES]
    product_category = {p[0]: category_names[p[3] - 1] for p in products}
    last_day = END_DATE - dt.timedelta(days=2)
    clothing_reasons = _Choice((r, w * (3 if r == "Wrong size" else 1)) for r, w in _RETURN_REASONS)
    other_reasons = _Choice((r, w) for r, w in _RETURN_REASONS if r != "Wrong size")
    rows: list[Row] = []
    for sale in sales:
        day = dt.date.fromisoformat(sale[1])
        category = product_category[sale[5]]
        if day > last_day or rng.random() >= _RETURN_RATE[category]:
            continue
        returned_on = day + dt.timedelta(days=rng.randint(1, min(30, (END_DATE - day).days)))
        reasons = clothing_reasons if category == "Clothing" else other_reasons
        quantity = sale[7] if rng.random() < 0.8 else rng.randint(1, sale[7])
        refund = round(sale[10] * quantity / sale[7], 2)
        rows.append((len(rows) + 1, sale[0], _iso(returned_on), reasons.pick(rng), quantity, refund))
    return rows


# ---------------------------------------------------------------------------------------------- build


def ensure_sample_sqlite(path: Path) -> Path:
    """Build the sample SQLite database at ``path`` unless a current one is already there.

    The file is written under a temporary name in the same directory and renamed into place, so readers
    never see a half-built database and concurrent builders do not corrupt each other.

    Args:
        path: Where the database file should live; parent directories are created.

    Returns:
        ``path``, now holding a database of the current :data:`SCHEMA_VERSION`.

    Example:
        >>> ensure_sample_sqlite(Path("/tmp/retail.db"))  # doctest: +SKIP
        PosixPath('/tmp/retail.db')
    """
    path = Path(path).expanduser()
    if path.is_file() and _sqlite_schema_version(path) == SCHEMA_VERSION:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write_sqlite(tmp, generate_rows())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _sqlite_schema_version(path: Path) -> int | None:
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return None


def _write_sqlite(path: Path, rows: dict[str, list[Row]]) -> None:
    path.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = OFF")  # a scratch file until renamed: no journal needed
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for table in _TABLES:
            conn.execute(_sqlite_ddl(table))
            placeholders = ", ".join("?" for _ in table.columns)
            conn.executemany(f"INSERT INTO {table.name} VALUES ({placeholders})", rows[table.name])
            for statement in _index_statements(table):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
        # Statistics let the catalog report row counts without scanning, and the planner pick indexes.
        conn.execute("ANALYZE")
        conn.execute("PRAGMA synchronous = FULL")


def load_sample_into(url: str, *, schema: str = "public") -> None:
    """Load the sample tables into a PostgreSQL database, replacing any earlier copy in ``schema``.

    Idempotent: the eight sample tables are dropped (with ``CASCADE``) and recreated with keys, indexes
    and comments, then filled with ``COPY``. Needs a role that may create tables in ``schema``.

    Args:
        url: ``postgresql://...`` URL of the target database (any psycopg-compatible form).
        schema: Target schema; created when missing.

    Raises:
        DatabaseUnavailableError: The server cannot be reached.
    """
    import sqlalchemy as sa  # lazily: only this path needs a writable engine

    from nl2sql_agent.db.engine import CONNECT_TIMEOUT_S, open_raw_connection, postgres_url

    rows = generate_rows()
    engine = sa.create_engine(postgres_url(url), connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    try:
        raw = open_raw_connection(engine)
        try:
            cursor = raw.cursor()
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
            for table in reversed(_TABLES):
                cursor.execute(f"DROP TABLE IF EXISTS {quote_identifier(schema)}.{table.name} CASCADE")
            for table in _TABLES:
                for statement in _pg_ddl(table, schema):
                    cursor.execute(statement)
                columns = ", ".join(c.name for c in table.columns)
                with cursor.copy(f"COPY {quote_identifier(schema)}.{table.name} ({columns}) FROM STDIN") as copy:
                    for row in rows[table.name]:
                        copy.write_row(row)
                for statement in _index_statements(table, prefix=f"{quote_identifier(schema)}."):
                    cursor.execute(statement)
            for table in _TABLES:
                for statement in _pg_foreign_keys(table, schema):
                    cursor.execute(statement)
                cursor.execute(f"ANALYZE {quote_identifier(schema)}.{table.name}")
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()
    finally:
        engine.dispose()
