"""The tables a SQL text reads, from sqlglot's AST (SPEC "Resolving", STYLE §4).

One pass over each statement's tree keeps `exp.Table` sources that name a real table and
drops what only looks like one: CTE references (scoped as the warehouse scopes them),
tables an earlier statement of the same text created, write targets, table functions,
stages, `IDENTIFIER($var)`, derived tables and VALUES. The optimizer's `qualify` and
`traverse_scope` would do the same more slowly; here names are completed separately by
`qualify` from the query's context, so a parse can be cached by text alone.

Speed (SPEC "Scale"): sqlglotc's parser is the cost, so a text is tokenized once and its
token shape (comments dropped, literal values masked) is memoized: Hex apps rerun one cell
with new parameter values, giving distinct texts with the same tables.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, MutableMapping, Sequence
from contextlib import suppress
from itertools import pairwise
from typing import NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import Token, TokenType

from .bulk import gc_paused
from .identifiers import normalize, rule_for, table_ref
from .records import TableRef

MAX_CHARS = 1_000_000  # longer texts are refused unparsed (Snowflake keeps 100K of a text)
MAX_DEPTH = 128  # parentheses deeper than this: refused (BigQuery parses nesting in O(n^2))
# `x[1][2]...`: sqlglotc's parser recurses once per subscript on the C stack, past Python's
# recursion limit, and crashes the process near 80,000 of them (8 MiB stack).
MAX_SUBSCRIPTS = 2_000
_VERSION = "1"  # bump when extraction changes, so cached results from older runs are unused


class Extraction(NamedTuple):
    """What one text reads. `error` is a one-line reason when it did not parse (tables empty)."""

    tables: tuple[TableRef, ...]
    error: str | None = None


class _Scoping(NamedTuple):
    """How a warehouse scopes names local to a text (data, like `identifiers.Rule`)."""

    implicit_recursion: bool  # a UNION-shaped CTE body sees its own name without RECURSIVE
    local_case_insensitive: bool  # CTE names compare ignoring case
    empty_schema: str | None  # the schema `db..t` names


_SCOPING: dict[str, _Scoping] = {
    # Snowflake: "The RECURSIVE keyword is optional" (docs, WITH) for the documented
    # `anchor UNION ALL recursive` shape; `db..t` is db.PUBLIC.t.
    "snowflake": _Scoping(
        implicit_recursion=True, local_case_insensitive=False, empty_schema="PUBLIC"
    ),
    # BigQuery: a non-recursive CTE sees only earlier CTEs; aliases ignore case.
    "bigquery": _Scoping(implicit_recursion=False, local_case_insensitive=True, empty_schema=None),
}
_DEFAULT_SCOPING = _Scoping(
    implicit_recursion=False, local_case_insensitive=False, empty_schema=None
)


def _kinds(names: str) -> frozenset[type[exp.Expr]]:
    return frozenset(getattr(exp, name) for name in names.split())


def _token_kinds(names: str) -> frozenset[TokenType]:
    return frozenset(TokenType[name] for name in names.split())


_THIS = frozenset({"this"})
# BigQuery ML calls: their MODEL argument is a model, not a table (TABLE t / a query is read).
_MODEL_CALLS = _kinds(
    "Predict GenerateEmbedding GenerateText GenerateTable GenerateBool GenerateInt GenerateDouble"
    " MLForecast MLTranslate"
)
# Children never searched: write targets, ML models (SELECT ... INTO t: a target too).
_SKIP: dict[type[exp.Expr], frozenset[str]] = {
    **dict.fromkeys((exp.Insert, exp.Merge, exp.Update, exp.Copy, *_MODEL_CALLS), _THIS),
    exp.Delete: frozenset({"this", "tables"}),
    exp.Select: frozenset({"into"}),
}
_NOTHING: frozenset[str] = frozenset()
_NAMED_TABLE_SKIP = frozenset({"this", "db", "catalog", "alias"})
# Only these children of CREATE are reads: `CREATE TABLE t AS <query>`.
_CREATE_READS = frozenset({"expression", "with_"})
# Statements that read no table data (DDL on a target, session and metadata commands).
_NO_READS = _kinds(
    "Drop Undrop Alter Describe TruncateTable Use Grant Revoke Comment Analyze Refresh Uncache Show"
)
# Leaves and nodes that cannot hold a table: not worth a stack push.
_LEAVES = _kinds(
    "Identifier Column Literal Star Var DataType Boolean Null TableAlias Placeholder Parameter"
)
_WITH_OWNERS = _kinds(
    "Select Union Except Intersect Subquery Insert Update Delete Merge Create MultitableInserts"
)
_LITERALS = _token_kinds(
    "STRING NUMBER BIT_STRING HEX_STRING BYTE_STRING NATIONAL_STRING RAW_STRING HEREDOC_STRING"
    " UNICODE_STRING"
)
_NAME_LITERAL_AFTER = frozenset({"IDENTIFIER", "TABLE"})  # IDENTIFIER('db.s.t') names a table

_SHAPES: dict[tuple[str, bytes], tuple[TableRef, ...]] = {}  # token shape -> tables
_SHAPES_MAX = 50_000
_DIALECTS: dict[str, Dialect] = {}


def cache_key(sql: str, warehouse: str) -> str:
    """A stable key for a parse result: dialect, text and the extractor's version."""
    head = f"{_VERSION}\0{sqlglot.__version__}\0{rule_for(warehouse).dialect}\0"
    data = (head + sql).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def extract_tables(
    sql: str,
    *,
    warehouse: str,
    database: str | None = None,
    schema: str | None = None,
    cache: MutableMapping[str, Extraction] | None = None,
) -> Extraction:
    """`parse_tables` (through `cache`, keyed by `cache_key`), then `qualify`."""
    if cache is None:
        found = parse_tables(sql, warehouse)
    else:
        key = cache_key(sql, warehouse)
        hit = _cached(cache.get(key))
        if hit is None:
            hit = parse_tables(sql, warehouse)
            cache[key] = hit
        found = hit
    tables = qualify(found.tables, warehouse=warehouse, database=database, schema=schema)
    return Extraction(tables, found.error)


def _cached(value: object) -> Extraction | None:
    """A cache entry as an Extraction; its JSON form `[[[db, schema, name], ...], error]` too."""
    if isinstance(value, Extraction):
        return value
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    tables, error = value
    try:
        return Extraction(tuple(TableRef(*t) for t in tables), error)
    except (TypeError, ValueError):
        return None


def qualify(
    tables: Iterable[TableRef],
    *,
    warehouse: str,
    database: str | None,
    schema: str | None,
) -> tuple[TableRef, ...]:
    """Complete partly qualified names from the query's context.

    Context values are names as the warehouse reports them (already in stored case), so
    they are not folded. A database is only added together with a schema: `t` read in a
    BigQuery job of project P stays `t`, since P alone does not say the dataset.
    """
    rule_for(warehouse)
    out = set()
    for t in tables:
        sch = t.schema if t.schema is not None else schema
        db = t.database if t.database is not None or sch is None else database
        out.add(TableRef(db, sch, t.name))
    return _sorted(out)


def parse_tables(sql: str, warehouse: str) -> Extraction:
    """Every table the text reads, as written (not qualified from context).

    Never raises for bad SQL: `Extraction.error` says why there are no tables ("empty",
    "too long", "too deep: ...", "recursion" or "parse error: ..."). An unknown warehouse
    is a usage error and raises `ConfigError`.
    """
    dialect = _dialect(rule_for(warehouse).dialect)
    if len(sql) > MAX_CHARS:
        return Extraction((), "too long")
    if not sql.strip():
        return Extraction((), "empty")
    try:
        with gc_paused():
            return _parse(sql, warehouse, dialect)
    except RecursionError:
        return Extraction((), "recursion")
    except _Unsupported as e:
        return Extraction((), f"parse error: {e}")
    except ParseError as e:
        return Extraction((), "parse error: " + _parse_reason(e))
    except SqlglotError as e:
        return Extraction((), "parse error: " + _one_line(str(e)))
    except Exception as e:  # the parser's own bugs must not stop a run
        return Extraction((), f"parse error: {type(e).__name__}: {_one_line(str(e))}")


def _parse(sql: str, warehouse: str, dialect: Dialect) -> Extraction:
    """Tokenize, look the shape up, else parse and walk. The trees die with this frame."""
    tokens = dialect.tokenize(sql)
    if not tokens:
        return Extraction((), "empty")
    shape, refusal = _shape(tokens)
    if refusal is not None:
        return Extraction((), refusal)
    memo = (warehouse, shape)
    tables = _SHAPES.get(memo)
    if tables is None:
        tables = _extract(dialect.parser().parse(tokens, sql), warehouse)
        if len(_SHAPES) >= _SHAPES_MAX:
            with suppress(KeyError, RuntimeError, StopIteration):  # another thread evicted
                del _SHAPES[next(iter(_SHAPES))]
        _SHAPES[memo] = tables
    return Extraction(tables)


class _Unsupported(Exception):
    """A statement sqlglot could only keep as text (scripts, CALL, EXECUTE IMMEDIATE).

    Its reads are unknown, so the text counts as unparsed and other evidence (BigQuery's
    referenced_tables, Snowflake's ACCESS_HISTORY) is used instead of a partial answer.
    """


def _dialect(name: str) -> Dialect:
    if name not in _DIALECTS:
        _DIALECTS[name] = Dialect.get_or_raise(name)
    return _DIALECTS[name]


def _shape(tokens: Sequence[Token]) -> tuple[bytes, str | None]:
    """Hash of the tokens with comments dropped and literal values masked; why not to parse.

    Literal values never change which tables a text reads, except a string naming one
    (`IDENTIFIER('db.s.t')`, Snowflake `TABLE('t')`), which is kept. Token types keep a
    quoted name apart from the same name unquoted. Written with C-level list operations:
    this runs for every text, cached or not.
    """
    kinds = [tok.token_type for tok in tokens]
    texts = [tok.text for tok in tokens]
    for i in [i for i, kind in enumerate(kinds) if kind in _LITERALS]:
        names_table = (
            i >= 2
            and kinds[i - 1] is TokenType.L_PAREN
            and texts[i - 2].upper() in _NAME_LITERAL_AFTER
        )
        if not names_table:
            texts[i] = ""
    data = array("H", kinds).tobytes() + "\x01".join(texts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).digest(), _too_deep(kinds)


def _too_deep(kinds: list[TokenType]) -> str | None:
    """Why the parser must not see these tokens (it would crawl or crash), or None.

    Counted with `list.count` first: exact walks only run for texts that could fail.
    """
    if kinds.count(TokenType.L_PAREN) > MAX_DEPTH:
        depth = deepest = 0
        for kind in kinds:
            if kind is TokenType.L_PAREN:
                depth += 1
                deepest = max(deepest, depth)
            elif kind is TokenType.R_PAREN:
                depth -= 1
        if deepest > MAX_DEPTH:
            return f"too deep: parentheses nest over {MAX_DEPTH} levels"
    if kinds.count(TokenType.L_BRACKET) > MAX_SUBSCRIPTS:
        close, open_ = TokenType.R_BRACKET, TokenType.L_BRACKET
        chained = sum(1 for a, b in pairwise(kinds) if a is close and b is open_)
        if chained > MAX_SUBSCRIPTS:
            return f"too deep: over {MAX_SUBSCRIPTS} chained subscripts"
    return None


def _extract(statements: Sequence[exp.Expr | None], warehouse: str) -> tuple[TableRef, ...]:
    """Reads of all statements, less tables an earlier statement created (temp tables)."""
    scoping = _SCOPING.get(warehouse, _DEFAULT_SCOPING)
    created: list[TableRef] = []
    found: set[TableRef] = set()
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):  # sqlglot kept it as text: reads unknown
            raise _Unsupported(f"unsupported statement {str(statement.this).upper()!r}")
        for ref in _reads(statement, warehouse, scoping):
            if not any(_same_table(c, ref) for c in created):
                found.add(ref)
        if isinstance(statement, exp.Create) and statement.kind in ("TABLE", "VIEW"):
            target = statement.this
            if isinstance(target, exp.Schema):
                target = target.this
            made = _named(target, warehouse, scoping) if isinstance(target, exp.Table) else None
            if made is not None:
                created.append(made)
    return _sorted(found)


def _reads(statement: exp.Expr, warehouse: str, scoping: _Scoping) -> list[TableRef]:
    """Named tables read by one statement, walking its tree once without recursion.

    Each stack entry carries the CTE names visible there: an unqualified name is a CTE
    reference only if an enclosing WITH (of this query or any outer one) defines it.
    """
    found: list[TableRef] = []
    stack: list[tuple[exp.Expr, _Scope | None]] = [(statement, None)]
    while stack:
        node, scope = stack.pop()
        kind = type(node)
        if kind in _NO_READS:
            continue
        skip = _SKIP.get(kind, _NOTHING)
        if kind is exp.Table or kind is exp.TableFromRows:
            named = _named(node, warehouse, scoping, scope)
            if named is not None:
                found.append(named)
            if isinstance(node.this, exp.Identifier):
                skip = _NAMED_TABLE_SKIP
        elif kind is exp.Create:
            skip = frozenset(node.args) - _CREATE_READS
        if kind in _WITH_OWNERS:
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With):
                scope = _enter_with(with_, scope, stack, scoping, warehouse)
                skip = skip | {"with_"}
        for child in node.iter_expressions():
            if type(child) not in _LEAVES and child.arg_key not in skip:
                stack.append((child, scope))
    return found


class _Scope(NamedTuple):
    """The CTEs of one enclosing WITH that are visible here, then those of outer WITHs.

    Linked rather than copied into sets, so a WITH of n CTEs costs O(n), not O(n^2).
    """

    names: dict[str, int]  # CTE name -> position of its first definition in the WITH
    limit: int  # CTEs at positions below this are visible
    outer: _Scope | None


def _visible(name: str, scope: _Scope | None) -> bool:
    while scope is not None:
        position = scope.names.get(name)
        if position is not None and position < scope.limit:
            return True
        scope = scope.outer
    return False


def _enter_with(
    with_: exp.With,
    scope: _Scope | None,
    stack: list[tuple[exp.Expr, _Scope | None]],
    scoping: _Scoping,
    warehouse: str,
) -> _Scope:
    """Queue each CTE body with the names it sees; return the names the main query sees."""
    ctes = [cte for cte in with_.expressions if isinstance(cte, exp.CTE)]
    names: dict[str, int] = {}
    for i, cte in enumerate(ctes):
        name = _local_name(cte.args.get("alias"), warehouse, scoping)
        if name is not None:
            names.setdefault(name, i)
    recursive = bool(with_.args.get("recursive"))
    for i, cte in enumerate(ctes):
        if recursive:  # itself, earlier and later CTEs (BigQuery docs, recursive CTEs)
            limit = len(ctes)
        elif scoping.implicit_recursion and isinstance(cte.this, exp.SetOperation):
            limit = i + 1
        else:  # earlier CTEs only: `WITH t AS (SELECT * FROM t)` reads the table t
            limit = i
        stack.append((cte.this, _Scope(names, limit, scope)))
    return _Scope(names, len(ctes), scope)


def _local_name(alias: object, warehouse: str, scoping: _Scoping) -> str | None:
    """A CTE name as compared with an unqualified table name."""
    ident = alias.this if isinstance(alias, exp.TableAlias) else alias
    if not isinstance(ident, exp.Identifier):
        return None
    if scoping.local_case_insensitive:
        return str(ident.this).casefold()
    return normalize(ident.this, quoted=bool(ident.args.get("quoted")), warehouse=warehouse)


def _named(
    node: exp.Expr,
    warehouse: str,
    scoping: _Scoping,
    scope: _Scope | None = None,
) -> TableRef | None:
    """The real table `node` names, or None (function, stage, variable, CTE reference)."""
    table = node
    this = node.args.get("this")
    if not isinstance(this, exp.Identifier):
        # IDENTIFIER('db.s.t') and Snowflake TABLE('db.s.t') name a table in a string.
        literal = this.this if isinstance(this, exp.DynamicIdentifier) else this
        if not isinstance(literal, exp.Literal) or not literal.is_string:
            return None
        try:
            table = exp.to_table(literal.this, dialect=rule_for(warehouse).dialect)
        except (SqlglotError, ValueError):
            return None
        this = table.args.get("this")
        if not isinstance(this, exp.Identifier):
            return None
    elif not isinstance(node, exp.Table):
        return None
    unqualified = not table.args.get("db") and not table.args.get("catalog")
    if scope and unqualified:
        name = _local_name(this, warehouse, scoping)
        if name is not None and _visible(name, scope):
            return None
    if isinstance(table.args.get("db"), str):  # Snowflake `db..t` leaves the schema as ""
        catalog = table.args.get("catalog")
        bare = exp.Table(this=this.copy(), catalog=catalog.copy() if catalog else None)
        ref = table_ref(bare, warehouse)
        return ref._replace(schema=scoping.empty_schema) if ref else None
    return table_ref(table, warehouse)


def _same_table(created: TableRef, read: TableRef) -> bool:
    """Whether `read` names `created`, parts left out on either side matching anything."""
    return (
        created.name == read.name
        and (created.schema is None or read.schema is None or created.schema == read.schema)
        and (created.database is None or read.database is None or created.database == read.database)
    )


def _sorted(tables: Iterable[TableRef]) -> tuple[TableRef, ...]:
    return tuple(sorted(set(tables), key=lambda t: (t.database or "", t.schema or "", t.name)))


def _parse_reason(error: ParseError) -> str:
    first = error.errors[0] if error.errors else None
    if not first:
        return _one_line(str(error))
    where = f" (line {first.get('line')}, col {first.get('col')})" if first.get("line") else ""
    return _one_line(str(first.get("description") or "invalid SQL")) + where


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:197] + "..."
