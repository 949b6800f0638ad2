"""Pick the few tables a question needs and render them as CREATE TABLE text for the model.

Scoring is lexical (question words against table names, column names, comments and sample values),
then tables on the foreign-key path between picked tables are added so joins stay possible.
"""

from __future__ import annotations

from collections.abc import Iterable

from nl2sql_agent.db.types import SchemaCatalog, TableInfo
from nl2sql_agent.lexicon import stems, stems_of

_STOP = stems(
    "a an the of in on for to by and or is are was were be what which who how many much do does did "
    "with from at as per each all any show list give me find get number count total average top most "
    "least than more less this that these those their there it its our we you i"
)

_SAMPLE_CHARS = 40


def score_tables(catalog: SchemaCatalog, question: str) -> dict[str, float]:
    """A relevance score per table key; 0 means no word in common."""
    asked = stems(question) - _STOP
    scores: dict[str, float] = {}
    for key, table in catalog.tables.items():
        score = 4.0 * len(asked & stems(table.name))
        for column in table.columns:
            score += 1.5 * len(asked & stems(column.name))
            score += 0.5 * len(asked & stems(column.comment or ""))
            score += 2.0 * len(asked & stems_of(column.samples))
        score += 0.5 * len(asked & stems(table.comment or ""))
        scores[key] = score
    return scores


def select_tables(
    catalog: SchemaCatalog,
    question: str,
    *,
    max_tables: int,
    must_include: Iterable[str] = (),
) -> list[str]:
    """Table keys for the question, in catalog order: the best-scoring tables (at most ``max_tables`` plus
    must-includes) and the tables that bridge them."""
    if len(catalog.tables) <= max_tables:
        return list(catalog.tables)
    scores = score_tables(catalog, question)
    picked = [k for k in must_include if k in catalog.tables]
    for key, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
        if score <= 0 or len(picked) >= max_tables:
            break
        if key not in picked:
            picked.append(key)
    if not picked:
        return sorted(catalog.tables, key=lambda k: -(catalog.tables[k].row_count or 0))[:max_tables]
    # A bridge table links two picked tables that have no direct key between them (sales between products and stores).
    for key in list(picked):
        for other in list(picked):
            if other == key or other in catalog.links[key]:
                continue
            bridges = catalog.links[key] & catalog.links[other]
            for bridge in sorted(bridges, key=lambda b: -scores.get(b, 0)):
                if bridge not in picked and len(picked) < max_tables + 2:
                    picked.append(bridge)
                    break
    order = {key: i for i, key in enumerate(catalog.tables)}
    return sorted(picked, key=order.__getitem__)


def _quote_sample(value: str) -> str:
    clean = " ".join(value.split())[:_SAMPLE_CHARS].replace("'", "''")
    return f"'{clean}'"


def _shown_samples(samples: tuple[str, ...], *, is_key: bool) -> tuple[str, ...]:
    """The samples worth their tokens: none for opaque keys ('rec0QmEc3cSQFQ6V2'), one that shows the
    format of dates and free text, up to three of short values ('LAX', 'Closed', 'Open')."""
    if not samples or (is_key and all(_looks_opaque(s) for s in samples)):
        return ()
    if any(len(s) > 24 or _looks_like_date(s) for s in samples):
        return samples[:1]
    return samples[:3]


def _looks_opaque(value: str) -> bool:
    """A generated identifier: digits only, or a long token mixing letters and digits."""
    if value.isdigit():
        return True
    return len(value) >= 10 and " " not in value and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _looks_like_date(value: str) -> bool:
    head = value[:10]
    return len(head) >= 8 and head[:4].isdigit() and head[4:5] in "-/"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def render_table(table: TableInfo) -> str:
    """One table as CREATE TABLE text, comments and sample values as SQL comments."""
    entries: list[tuple[str, str]] = []
    for column in table.columns:
        definition = f"  {column.name} {column.type or 'TEXT'}"
        if column.primary_key:
            definition += " PRIMARY KEY"
        fk = next((f for f in table.foreign_keys if f.columns == (column.name,)), None)
        if fk is not None:
            definition += f" REFERENCES {fk.ref_table}({', '.join(fk.ref_columns)})"
        notes = [_one_line(column.comment)] if column.comment else []
        shown = _shown_samples(column.samples, is_key=column.primary_key or fk is not None)
        if shown:
            notes.append("e.g. " + ", ".join(_quote_sample(s) for s in shown))
        entries.append((definition, f" -- {'; '.join(notes)}" if notes else ""))
    lines = [d + ("," if i < len(entries) - 1 else "") + note for i, (d, note) in enumerate(entries)]
    lines += [
        f"  -- FOREIGN KEY ({', '.join(fk.columns)}) REFERENCES {fk.ref_table}"
        for fk in table.foreign_keys
        if len(fk.columns) > 1
    ]
    header = f"CREATE TABLE {table.name} ("
    if table.comment:
        header = f"-- {_one_line(table.comment)}\n" + header
    return header + "\n" + "\n".join(lines) + "\n);"


def render_schema(catalog: SchemaCatalog, keys: Iterable[str]) -> str:
    """CREATE TABLE text for the given table keys, in the order given."""
    return "\n\n".join(render_table(catalog.tables[k]) for k in keys if k in catalog.tables)


def whole_schema(catalog: SchemaCatalog, *, budget_chars: int) -> str | None:
    """The whole schema's text when it fits ``budget_chars``, else ``None``.

    A schema given whole shows the model every join, and the identical prompt prefix lets the model
    server reuse its cached work from one question to the next.
    """
    text = render_schema(catalog, catalog.tables)
    return text if len(text) <= budget_chars else None
