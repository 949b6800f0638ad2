"""Which functions a generated query may call, per dialect.

sqlglot turns well-known functions into typed nodes (``exp.Sum``, ``exp.TimestampTrunc``) and everything
else into ``exp.Anonymous``. Both are checked against allowlists: a typed node by its class, an anonymous
one by its lower-cased name. Anything else is refused, so a function sqlglot learns to model later is
refused until someone decides it is safe.
"""

from __future__ import annotations

from sqlglot import exp

_AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Stddev, exp.StddevSamp, exp.StddevPop,
    exp.Variance, exp.VariancePop, exp.Corr, exp.CovarPop, exp.CovarSamp, exp.RegrSlope,
    exp.RegrIntercept, exp.RegrCount, exp.RegrR2, exp.RegrAvgx, exp.RegrAvgy, exp.RegrSxx, exp.RegrSyy,
    exp.RegrSxy, exp.PercentileCont, exp.PercentileDisc, exp.Mode, exp.GroupConcat, exp.ArrayAgg,
    exp.LogicalAnd, exp.LogicalOr, exp.JSONArrayAgg, exp.JSONObjectAgg, exp.BitwiseAndAgg,
    exp.BitwiseOrAgg, exp.BitwiseXorAgg, exp.CountIf, exp.Median, exp.Grouping, exp.ApproxDistinct,
    exp.WithinGroup, exp.Filter,
)  # fmt: skip

_WINDOW: tuple[type[exp.Expression], ...] = (
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.Lag, exp.Lead, exp.FirstValue,
    exp.LastValue, exp.NthValue, exp.PercentRank, exp.CumeDist,
)  # fmt: skip

_SCALARS: tuple[type[exp.Expression], ...] = (
    # math
    exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Trunc, exp.Sign, exp.Sqrt, exp.Cbrt, exp.Pow,
    exp.Exp, exp.Ln, exp.Log, exp.Greatest, exp.Least, exp.Rand, exp.Pi, exp.Degrees, exp.Radians,
    exp.IntDiv, exp.WidthBucket, exp.SafeDivide,
    # strings
    exp.Lower, exp.Upper, exp.Initcap, exp.Length, exp.Substring, exp.StrPosition, exp.Trim,
    exp.Replace, exp.Translate, exp.Concat, exp.ConcatWs, exp.Left, exp.Right, exp.Pad, exp.Repeat,
    exp.Reverse, exp.SplitPart, exp.RegexpReplace, exp.RegexpExtract, exp.StartsWith, exp.MD5,
    exp.Format, exp.Ascii, exp.Chr, exp.Hex, exp.Unhex, exp.Encode, exp.Decode, exp.Unicode,
    exp.Soundex, exp.StringToArray, exp.ArrayToString, exp.ArraySize, exp.Explode, exp.ToNumber,
    exp.Typeof, exp.Lower, exp.Upper,
    # date and time
    exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Localtimestamp, exp.Localtime,
    exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.TimeToStr, exp.StrToDate, exp.StrToTime,
    exp.UnixToTime, exp.TsOrDsToTimestamp, exp.TsOrDsToDate, exp.MakeInterval, exp.JustifyDays,
    exp.JustifyHours, exp.JustifyInterval, exp.DateBin, exp.Date, exp.DateDiff, exp.DateAdd,
    exp.DateSub, exp.Year, exp.Month, exp.Day, exp.Quarter, exp.Week, exp.DayOfWeek, exp.DayOfYear,
    exp.AtTimeZone, exp.Interval,
    # conditionals and casts
    exp.Coalesce, exp.Nullif, exp.If, exp.Case, exp.Cast, exp.TryCast,
    # JSON reads
    exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar, exp.JSONObject,
    exp.JSONType, exp.JSONArray, exp.ParseJSON,
    # generate_series: allowed here, its size is bounded in limits.py
    exp.GenerateSeries, exp.ExplodingGenerateSeries,
    # operators sqlglot models as functions
    exp.RegexpLike, exp.RegexpILike,
)  # fmt: skip

ALLOWED_FUNCTION_CLASSES: frozenset[type[exp.Expression]] = frozenset(_AGGREGATES + _WINDOW + _SCALARS)
"""Typed sqlglot function nodes allowed in every dialect (size-bounded ones are checked in limits.py)."""

_COMMON_NAMES = frozenset(
    {
        "octet_length", "char_length", "character_length", "nullif", "coalesce", "abs", "round",
        "lower", "upper", "length", "replace", "trim", "ltrim", "rtrim", "substr", "mod",
    }
)  # fmt: skip

ANONYMOUS_ALLOWED: dict[str, frozenset[str]] = {
    "postgres": _COMMON_NAMES
    | frozenset(
        {
            # aggregates and math
            "every", "jsonb_agg", "jsonb_object_agg", "gcd", "lcm", "trunc", "div", "scale",
            "min_scale", "trim_scale", "factorial", "num_nonnulls", "num_nulls", "log10",
            # strings
            "btrim", "strpos", "regexp_match", "regexp_matches", "regexp_split_to_array",
            "regexp_count", "regexp_instr", "regexp_substr", "regexp_like", "quote_ident",
            "quote_literal", "quote_nullable", "to_hex", "string_to_table", "cardinality",
            "array_position", "array_positions", "array_remove", "array_append", "array_prepend",
            "array_cat", "array_dims", "array_lower", "array_upper", "unistr", "normalize",
            "concat", "sha224", "sha256", "sha384", "sha512",
            # date and time
            "age", "make_date", "make_time", "make_timestamp", "make_timestamptz", "clock_timestamp",
            "statement_timestamp", "transaction_timestamp", "timeofday", "isfinite", "date_part",
            "date_trunc", "to_char", "to_date", "to_timestamp", "date_bin", "now",
            # JSON
            "jsonb_extract_path", "jsonb_extract_path_text", "json_extract_path",
            "json_extract_path_text", "jsonb_array_elements", "jsonb_array_elements_text",
            "json_array_elements", "json_array_elements_text", "json_build_object",
            "jsonb_build_object", "json_build_array", "jsonb_build_array", "json_array_length",
            "jsonb_array_length", "json_typeof", "jsonb_typeof", "jsonb_each", "jsonb_each_text",
            "json_each", "json_each_text", "json_object_keys", "jsonb_object_keys",
            "jsonb_path_query", "jsonb_path_exists", "jsonb_pretty", "jsonb_strip_nulls",
            "json_strip_nulls",
        }
    ),
    "sqlite": _COMMON_NAMES
    | frozenset(
        {
            "total", "printf", "format", "quote", "instr", "char", "unicode", "glob", "like",
            "likelihood", "likely", "unlikely", "ifnull", "iif", "nullif", "typeof", "hex",
            "sign", "log2", "log10", "ln", "exp", "pow", "power", "sqrt", "ceil", "ceiling",
            "floor", "trunc", "acos", "asin", "atan", "atan2", "cos", "sin", "tan", "degrees",
            "radians", "pi",
            # date and time
            "date", "time", "datetime", "julianday", "unixepoch", "strftime", "timediff",
            # JSON (json1 is built in since 3.38)
            "json", "json_array", "json_array_length", "json_extract", "json_object", "json_patch",
            "json_remove", "json_type", "json_valid", "json_quote", "json_each", "json_tree",
            "json_group_array", "json_group_object",
            # randomblob/zeroblob are allowed here, their size is bounded in limits.py
            "randomblob", "zeroblob",
        }
    ),
}  # fmt: skip
"""Lower-case names of ``exp.Anonymous`` functions allowed per dialect."""

# Functions that read files, reach the network, change session state, take locks, burn transaction ids
# or run SQL strings the validator cannot see. They are refused by name (under any schema) even if a
# policy lists them in ``extra_functions``.
DENIED_FUNCTIONS = frozenset(
    {
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_sleep",
        "pg_sleep_for", "pg_sleep_until", "set_config", "current_setting", "pg_terminate_backend",
        "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "nextval", "setval", "currval",
        "lastval", "query_to_xml", "table_to_xml", "cursor_to_xml", "database_to_xml",
        "schema_to_xml", "query_to_xml_and_xmlschema", "table_to_xml_and_xmlschema",
        "database_to_xml_and_xmlschema", "schema_to_xml_and_xmlschema", "query_to_xmlschema",
        "pg_logical_emit_message", "txid_current", "txid_current_if_assigned", "pg_current_xact_id",
        "pg_current_xact_id_if_assigned", "pg_notify", "pg_import_system_collations",
        "pg_switch_wal", "pg_create_restore_point", "pg_promote", "pg_backend_pid",
        "inet_server_addr", "inet_server_port", "inet_client_addr", "version",
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "fts5",
        "sqlite_compileoption_get", "sqlite_compileoption_used", "changes", "total_changes",
        "last_insert_rowid", "sqlite_offset", "sqlite_dbpage", "zipfile", "sqlar_compress",
        "sqlar_uncompress", "fsdir",
    }
)  # fmt: skip

DENIED_PREFIXES: tuple[str, ...] = (
    "pg_", "lo_", "dblink", "xpath", "pgp_", "http", "fdw_", "sqlite_", "pragma_",
)  # fmt: skip
"""Name prefixes refused outright: server admin (``pg_*``), large objects, remote links, pragmas."""

_SQLITE_DATE_HINT = "use strftime('{fmt}', col)"

DIALECT_HINTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "year": "function YEAR does not exist in SQLite; use strftime('%Y', col)",
        "month": "function MONTH does not exist in SQLite; use strftime('%m', col)",
        "day": "function DAY does not exist in SQLite; use strftime('%d', col)",
        "quarter": ("function QUARTER does not exist in SQLite; use (CAST(strftime('%m', col) AS INTEGER) + 2) / 3"),
        "week": "function WEEK does not exist in SQLite; use strftime('%W', col)",
        "dayofweek": "function DAYOFWEEK does not exist in SQLite; use strftime('%w', col)",
        "dayofyear": "function DAYOFYEAR does not exist in SQLite; use strftime('%j', col)",
        "date_trunc": "function DATE_TRUNC does not exist in SQLite; use strftime('%Y-%m-01', col) "
        "or date(col, 'start of month')",
        "extract": "EXTRACT does not exist in SQLite; use strftime('%Y', col) (or %m, %d, %H)",
        "now": "function NOW does not exist in SQLite; use datetime('now') or CURRENT_TIMESTAMP",
        "to_char": "function TO_CHAR does not exist in SQLite; use strftime(format, col)",
        "date_add": "function DATE_ADD does not exist in SQLite; use date(col, '+N days')",
        "date_sub": "function DATE_SUB does not exist in SQLite; use date(col, '-N days')",
        "age": "function AGE does not exist in SQLite; use julianday(a) - julianday(b)",
        "interval": (
            "INTERVAL does not exist in SQLite; use date(col, '-N days') or datetime(col, '+N hours'), "
            "with the question's own N"
        ),
        "datediff": "function DATEDIFF does not exist in SQLite; use julianday(a) - julianday(b) for days",
        "string_agg": "use group_concat(col, sep) in SQLite",
    },
    "postgres": {
        "strftime": "function STRFTIME does not exist in PostgreSQL; use to_char(col, 'YYYY-MM')",
        "julianday": "function JULIANDAY does not exist in PostgreSQL; use col::date - other::date or age()",
        "datetime": "function DATETIME does not exist in PostgreSQL; use col::timestamp",
        "date": "use col::date or CAST(col AS date) in PostgreSQL",
        "ifnull": "function IFNULL does not exist in PostgreSQL; use COALESCE(a, b)",
        "group_concat": "function GROUP_CONCAT does not exist in PostgreSQL; use string_agg(col, ',')",
        "datediff": ("function DATEDIFF does not exist in PostgreSQL; use a::date - b::date (days) or age(a, b)"),
        "date_add": "function DATE_ADD does not exist in PostgreSQL; use col + interval '1 day'",
        "date_format": "function DATE_FORMAT does not exist in PostgreSQL; use to_char(col, 'YYYY-MM')",
        "year": "function YEAR does not exist in PostgreSQL; use EXTRACT(YEAR FROM col)",
        "month": "function MONTH does not exist in PostgreSQL; use EXTRACT(MONTH FROM col)",
        "day": "function DAY does not exist in PostgreSQL; use EXTRACT(DAY FROM col)",
        "len": "function LEN does not exist in PostgreSQL; use length(col)",
        "instr": "function INSTR does not exist in PostgreSQL; use strpos(col, 'x')",
        "printf": "function PRINTF does not exist in PostgreSQL; use format() or to_char()",
        "total": "function TOTAL does not exist in PostgreSQL; use COALESCE(SUM(col), 0)",
    },
}
"""Friendly repair hints for functions a model often borrows from the wrong dialect."""

# Typed nodes that sqlglot would print unchanged although the dialect lacks the function.
DIALECT_MISSING: dict[str, dict[type[exp.Expression], str]] = {
    "sqlite": {
        exp.Year: "year", exp.Month: "month", exp.Day: "day", exp.Quarter: "quarter",
        exp.Week: "week", exp.DayOfWeek: "dayofweek", exp.DayOfYear: "dayofyear",
        exp.DateTrunc: "date_trunc", exp.TimestampTrunc: "date_trunc", exp.Extract: "extract",
        exp.Interval: "interval", exp.DateDiff: "datediff",
    },
    "postgres": {},
}  # fmt: skip


def is_denied_name(name: str) -> bool:
    """True for names that are dangerous whatever the policy says."""
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


def anonymous_allowed(name: str, dialect: str, extra: frozenset[str]) -> bool:
    """True when an ``exp.Anonymous`` call named ``name`` (lower-case) may run on ``dialect``."""
    if is_denied_name(name):
        return False
    return name in ANONYMOUS_ALLOWED.get(dialect, frozenset()) or name in extra


def decode_name(name: str) -> str:
    """Lower-case ``name`` with PostgreSQL ``U&"..."`` escapes (``\\005F``, ``\\+00005F``) decoded."""
    out, i = [], 0
    while i < len(name):
        if name.startswith("\\+", i) and _is_hex(name[i + 2 : i + 8]) and len(name[i + 2 : i + 8]) == 6:
            out.append(chr(int(name[i + 2 : i + 8], 16)))
            i += 8
        elif name.startswith("\\", i) and _is_hex(name[i + 1 : i + 5]) and len(name[i + 1 : i + 5]) == 4:
            out.append(chr(int(name[i + 1 : i + 5], 16)))
            i += 5
        else:
            out.append(name[i])
            i += 1
    return "".join(out).lower()


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdefABCDEF" for c in text)


def is_plain_name(name: str) -> bool:
    """True for names made of letters, digits, ``_`` and ``$`` only (no quoting or escape tricks)."""
    return bool(name) and all(c.isalnum() or c in "_$" for c in name) and name.isascii()


def function_name(node: exp.Func) -> str:
    """The lower-case SQL name a function node was written with (best effort for typed nodes)."""
    if isinstance(node, exp.Anonymous):
        return decode_name(str(node.name))
    return node.sql_name().lower()
