"""Spider's hardness levels (easy / medium / hard / extra), computed from the parsed ``sql`` of dev.json.

A faithful port of ``eval_hardness`` in Spider's official ``evaluation.py`` (Yu et al., 2018), quirks
included (a ``NOT`` condition counts as an aggregate there, and so it does here), so that per-level
numbers line up with published breakdowns.
"""

from __future__ import annotations

from typing import Any

_WHERE_OPS = ("not", "between", "=", ">", "<", ">=", "<=", "!=", "in", "like", "is", "exists")
_LIKE = _WHERE_OPS.index("like")


def _has_agg(unit: Any) -> bool:
    return bool(unit[0] != 0)


def _count_agg(units: list[Any]) -> int:
    return sum(1 for unit in units if _has_agg(unit))


def _nested(sql: dict[str, Any]) -> list[dict[str, Any]]:
    nested: list[dict[str, Any]] = []
    for cond_unit in sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]:
        if isinstance(cond_unit[3], dict):
            nested.append(cond_unit[3])
        if isinstance(cond_unit[4], dict):
            nested.append(cond_unit[4])
    nested.extend(sql[key] for key in ("intersect", "except", "union") if sql[key] is not None)
    return nested


def _count_component1(sql: dict[str, Any]) -> int:
    count = sum(1 for key in ("where", "groupBy", "orderBy") if len(sql[key]) > 0)
    count += sql["limit"] is not None
    if len(sql["from"]["table_units"]) > 0:
        count += len(sql["from"]["table_units"]) - 1
    connectors = sql["from"]["conds"][1::2] + sql["where"][1::2] + sql["having"][1::2]
    count += sum(1 for token in connectors if token == "or")
    cond_units = sql["from"]["conds"][::2] + sql["where"][::2] + sql["having"][::2]
    count += sum(1 for cond_unit in cond_units if cond_unit[1] == _LIKE)
    return count


def _count_others(sql: dict[str, Any]) -> int:
    agg_count = _count_agg(sql["select"][1])
    agg_count += _count_agg(sql["where"][::2])
    agg_count += _count_agg(sql["groupBy"])
    if len(sql["orderBy"]) > 0:
        order_units = sql["orderBy"][1]
        agg_count += _count_agg(
            [unit[1] for unit in order_units if unit[1]] + [unit[2] for unit in order_units if unit[2]]
        )
    agg_count += _count_agg(sql["having"])
    count = int(agg_count > 1)
    count += len(sql["select"][1]) > 1
    count += len(sql["where"]) > 1
    count += len(sql["groupBy"]) > 1
    return count


def spider_hardness(sql: dict[str, Any]) -> str:
    """The Spider hardness level of one parsed gold query (the ``sql`` field of a dev.json entry)."""
    comp1, comp2, others = _count_component1(sql), len(_nested(sql)), _count_others(sql)
    if comp1 <= 1 and others == 0 and comp2 == 0:
        return "easy"
    if (others <= 2 and comp1 <= 1 and comp2 == 0) or (comp1 <= 2 and others < 2 and comp2 == 0):
        return "medium"
    if (
        (others > 2 and comp1 <= 2 and comp2 == 0)
        or (2 < comp1 <= 3 and others <= 2 and comp2 == 0)
        or (comp1 <= 1 and others == 0 and comp2 <= 1)
    ):
        return "hard"
    return "extra"
