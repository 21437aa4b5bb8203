"""The tables a SQL text reads, from sqlglot's AST (SPEC "Resolving", STYLE §4).

One pass over each statement's tree keeps `exp.Table` sources that name a real table and
drops what only looks like one: CTE references (scoped as the warehouse scopes them),
tables an earlier statement of the same text created, write targets, table functions,
stages, `IDENTIFIER($var)`, derived tables and VALUES. The optimizer's `qualify` and
`traverse_scope` would do the same more slowly; here names are completed separately by
`qualify` from the query's context, so a parse can be cached by text alone.

A text is read whole or not at all (SPEC "Resolving"): a statement sqlglot keeps as raw text
anywhere in the tree makes the text unparsed, and a routine's body (BigQuery `CREATE
PROCEDURE ... BEGIN ...; END`, a SQL body in a string) is read statement by statement in
place of its CREATE. A string literal is a table name only inside `IDENTIFIER('...')` or
Snowflake `TABLE('...')`; a location (`FROM 's3://...'`, `@stage`) and a file format are never
tables, and a string where BigQuery wants a name is invalid SQL (unparsed).

Speed (SPEC "Scale"): sqlglotc's parser is the cost, so a text is tokenized once and its
token shape (comments dropped, literal values in value positions masked) is memoized: Hex
apps rerun one cell with new parameter values, giving distinct texts with the same tables.
Only literals after a comparison or arithmetic operator, in an `IN (...)` list or after
LIMIT/OFFSET/INTERVAL (numbers also after `=>`) are masked: none of these can stand where a
name goes, so the answer stays a function of the text alone (issue 17). On the benchmark
corpus the memo serves 26.5% (Snowflake) and 25.7% (BigQuery) of distinct texts, as many
as before it was made exact (`benchmarks/memo_bench.py`).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
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
_VERSION = "3"  # bump when extraction changes, so cached results from older runs are unused


class Extraction(NamedTuple):
    """What one text reads. `error` is a one-line reason when it did not parse (tables empty).

    `temps` are the temporary tables the text creates, as written: Hex runs a project's cells
    in one warehouse session, so they shadow the project's reads in its other texts too
    (`pipeline.shadow_temps`).
    """

    tables: tuple[TableRef, ...]
    error: str | None = None
    temps: tuple[TableRef, ...] = ()


class _Scoping(NamedTuple):
    """How a warehouse scopes names local to a text (data, like `identifiers.Rule`)."""

    implicit_recursion: bool  # a UNION-shaped CTE body sees its own name without RECURSIVE
    local_case_insensitive: bool  # CTE names compare ignoring case
    empty_schema: str | None  # the schema `db..t` names
    session_schema: str | None = None  # `<it>.t` names a session's temp table, never a table


_SCOPING: dict[str, _Scoping] = {
    # Snowflake: "The RECURSIVE keyword is optional" (docs, WITH) for the documented
    # `anchor UNION ALL recursive` shape; `db..t` is db.PUBLIC.t.
    "snowflake": _Scoping(
        implicit_recursion=True, local_case_insensitive=False, empty_schema="PUBLIC"
    ),
    # BigQuery: a non-recursive CTE sees only earlier CTEs; aliases ignore case.
    # BigQuery: `_SESSION.t` is a temporary table of the session (docs, "Sessions").
    "bigquery": _Scoping(
        implicit_recursion=False,
        local_case_insensitive=True,
        empty_schema=None,
        session_schema="_SESSION",
    ),
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
    **dict.fromkeys((exp.Insert, exp.Merge, exp.Update, exp.LoadData, *_MODEL_CALLS), _THIS),
    # COPY reads only its FROM (`files`); the rest is a target, a format, options.
    exp.Copy: frozenset(exp.Copy.arg_types) - {"files"},
    exp.Delete: frozenset({"this", "tables"}),
    exp.Select: frozenset({"into"}),
}
_NOTHING: frozenset[str] = frozenset()
# A named table's parts and alias are names; `format` is a file format (`@s (file_format =>
# f)`), `pattern` a file pattern.
_FORMAT_SKIP = frozenset({"format", "pattern"})
_NAMED_TABLE_SKIP = frozenset({"this", "db", "catalog", "alias"}) | _FORMAT_SKIP
# Only these children of CREATE are reads: `CREATE TABLE t AS <query>`.
_CREATE_READS = frozenset({"expression", "with_"})
# `CREATE TABLE t CLONE src` copies src's data: a read (a schema or database clone is not).
_CREATE_TABLE_READS = _CREATE_READS | {"clone"}
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
# A literal right after one of these is a value: `x >= '2024-01-01'`, `LIMIT 10`, ... (masked).
_VALUE_AFTER = _token_kinds(
    "EQ NEQ NULLSAFE_EQ LT LTE GT GTE LIKE ILIKE BETWEEN AND OR NOT IS THEN ELSE WHEN DPIPE PLUS"
    " STAR SLASH MOD LIMIT OFFSET"
)
_UNARY_AFTER = _VALUE_AFTER | _token_kinds("L_PAREN COMMA")  # `-` here is a sign: `, -3`
_ROUTINES = ("PROCEDURE", "FUNCTION")
_TEMPORARY = (exp.TemporaryProperty, exp.VolatileProperty)  # Snowflake: VOLATILE = TEMPORARY
_LOCATION_PREFIXES = ("@", "~")  # a stage path in a string; a URL holds "://"

# token shape -> (tables, temps)
_SHAPES: dict[tuple[str, bytes], tuple[tuple[TableRef, ...], tuple[TableRef, ...]]] = {}
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
    return Extraction(tables, found.error, found.temps)


def _cached(value: object) -> Extraction | None:
    """A cache entry as an Extraction; its JSON form `[[[db, schema, name], ...], error, temps?]`
    too."""
    if isinstance(value, Extraction):
        return value
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        return None
    tables, error, *temps = value
    try:
        return Extraction(
            tuple(TableRef(*t) for t in tables),
            error,
            tuple(TableRef(*t) for t in temps[0]) if temps else (),
        )
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
    tokens = _without_local(dialect.tokenize(sql))
    if not tokens:
        return Extraction((), "empty")
    shape, literals, refusal = _shape(tokens)
    if refusal is not None:
        return Extraction((), refusal)
    memo = (warehouse, shape)
    found = _SHAPES.get(memo)
    if found is None:
        context = _Context(warehouse, _SCOPING.get(warehouse, _DEFAULT_SCOPING), dialect, literals)
        found = _extract(dialect.parser().parse(tokens, sql), context)
        if len(_SHAPES) >= _SHAPES_MAX:
            with suppress(KeyError, RuntimeError, StopIteration):  # another thread evicted
                del _SHAPES[next(iter(_SHAPES))]
        _SHAPES[memo] = found
    return Extraction(found[0], None, found[1])


def _without_local(tokens: list[Token]) -> list[Token]:
    """Snowflake's `CREATE [OR REPLACE] LOCAL TEMP[ORARY]`, a documented synonym of TEMPORARY
    that sqlglot keeps as raw text, read as TEMPORARY. A scan at C speed finds candidates."""
    temporary = [i for i, tok in enumerate(tokens) if tok.token_type is TokenType.TEMPORARY]
    local = {
        i - 1
        for i in temporary
        if i >= 2
        and tokens[i - 1].token_type is TokenType.VAR
        and tokens[i - 1].text.upper() == "LOCAL"
        and tokens[i - 2].token_type in (TokenType.CREATE, TokenType.REPLACE)
    }
    return [tok for i, tok in enumerate(tokens) if i not in local] if local else tokens


class _Context(NamedTuple):
    """What reading one text's trees needs besides the trees."""

    warehouse: str
    scoping: _Scoping
    dialect: Dialect
    literals: frozenset[int]  # start offsets of the text's literal tokens


class _Unsupported(Exception):
    """A statement sqlglot could only keep as text (scripts, CALL, EXECUTE IMMEDIATE).

    Its reads are unknown, so the text counts as unparsed and other evidence (BigQuery's
    referenced_tables, Snowflake's ACCESS_HISTORY) is used instead of a partial answer.
    """


def _dialect(name: str) -> Dialect:
    if name not in _DIALECTS:
        _DIALECTS[name] = Dialect.get_or_raise(name)
    return _DIALECTS[name]


def _shape(tokens: Sequence[Token]) -> tuple[bytes, frozenset[int], str | None]:
    """Hash of the tokens with comments dropped and value literals masked; where the text's
    literals start; why not to parse.

    A literal is masked only where it can only be a value (`_value_literal`): elsewhere a
    string may be a name (`IDENTIFIER('db.s.t')`, a BigQuery `FROM "t"`, a location, a
    routine body) and a number part of one (BigQuery `my-project-123`), so texts differing
    there never share an answer. Token types keep a quoted name apart from the same name
    unquoted. Written with C-level list operations: this runs for every text, cached or not.
    """
    kinds = [tok.token_type for tok in tokens]
    texts = [tok.text for tok in tokens]
    at = [i for i, kind in enumerate(kinds) if kind in _LITERALS]
    in_list: set[int] = set()  # literals masked as members of an `IN (...)` list
    for i in at:
        if _value_literal(kinds, i, in_list):
            texts[i] = ""
    data = array("H", kinds).tobytes() + "\x01".join(texts).encode("utf-8", "surrogatepass")
    starts = frozenset(tokens[i].start for i in at)
    return hashlib.blake2b(data, digest_size=16).digest(), starts, _too_deep(kinds)


def _value_literal(kinds: list[TokenType], i: int, in_list: set[int]) -> bool:
    """Whether the literal at `i` stands where only a value can: its content then decides no
    table name, no statement kind and no parse error, so masking it keeps the memo exact."""
    before = kinds[i - 1] if i else None
    if before in _VALUE_AFTER:
        return True
    if kinds[i] is TokenType.NUMBER and i >= 1:
        if before is TokenType.INTERVAL or before is TokenType.FARROW:  # `top_k => 5`
            return True
        if before is TokenType.DASH:  # a sign, not a dash inside a BigQuery name
            return i < 2 or kinds[i - 2] in _UNARY_AFTER
    if i >= 2 and (
        (before is TokenType.L_PAREN and kinds[i - 2] is TokenType.IN)
        or (before is TokenType.COMMA and i - 2 in in_list)
    ):
        in_list.add(i)
        return True
    return False


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


def _extract(
    statements: Sequence[exp.Expr | None], context: _Context
) -> tuple[tuple[TableRef, ...], tuple[TableRef, ...]]:
    """Reads of all statements, less tables an earlier statement created; and the temporary
    tables created."""
    created: list[TableRef] = []
    temps: list[TableRef] = []
    found: set[TableRef] = set()
    for statement, ctx in _statements(statements, context):
        for ref in _reads(statement, ctx):
            if not any(_same_table(c, ref) for c in created):
                found.add(ref)
        if isinstance(statement, exp.Create) and statement.kind in ("TABLE", "VIEW"):
            target = statement.this
            if isinstance(target, exp.Schema):
                target = target.this
            made = _named(target, ctx) if isinstance(target, exp.Table) else None
            if made is not None:
                created.append(made)
                properties = statement.args.get("properties")
                if properties is not None and any(
                    isinstance(p, _TEMPORARY) for p in properties.expressions
                ):
                    temps.append(made)
    return _sorted(found), _sorted(temps)


def _statements(
    statements: Sequence[exp.Expr | None], context: _Context
) -> Iterator[tuple[exp.Expr, _Context]]:
    """The statements to read, in order, each with the context its positions refer to.

    A routine's CREATE gives way to its body's statements: BigQuery's `BEGIN <first>; ...;
    END` (sqlglot keeps `<first>` as text in a Command and the rest as top-level statements
    up to an EndStatement), or a SQL body held in a string. Anything else kept as raw text
    means the reads are unknown: `_Unsupported`.
    """
    items = [s for s in statements if s is not None]
    i = 0
    while i < len(items):
        statement = items[i]
        i += 1
        if isinstance(statement, exp.Command):  # sqlglot kept it as text: reads unknown
            raise _Unsupported(f"unsupported statement {str(statement.this).upper()!r}")
        if isinstance(statement, exp.EndStatement):
            raise _Unsupported("an END without its BEGIN")
        if not (isinstance(statement, exp.Create) and statement.kind in _ROUTINES):
            yield statement, context
            continue
        body = statement.args.get("expression")
        if isinstance(body, exp.Command):
            if str(body.this).upper() != "BEGIN":
                raise _Unsupported(f"unsupported routine body {str(body.this).upper()!r}")
            yield from _statements(*_parse_body(_text_of(body.args.get("expression")), context))
            while i < len(items) and not isinstance(items[i], exp.EndStatement):
                yield from _statements([items[i]], context)
                i += 1
            if i == len(items):
                raise _Unsupported("a routine body without its END")
            i += 1
            continue
        text = _string_body(body)
        if text is None:  # an expression body (BigQuery `AS (...)`, a table function's query)
            yield statement, context
            continue
        language = _language(statement)
        if language == "SQL":
            yield from _statements(*_parse_body(text, context))
        elif statement.kind == "PROCEDURE":  # JavaScript, Python, ... may run any SQL
            raise _Unsupported(f"a {language} procedure body")
        # a function in another language reads no table


def _text_of(value: object) -> str:
    return str(value.this) if isinstance(value, exp.Literal) else str(value or "")


def _string_body(body: object) -> str | None:
    """The text of a routine body written as a string (`AS '...'`, `AS $$...$$`), or None."""
    if isinstance(body, exp.Block) and len(body.expressions) == 1:
        body = body.expressions[0]
    if isinstance(body, exp.RawString) or (isinstance(body, exp.Literal) and body.is_string):
        return str(body.this)
    return None


def _language(create: exp.Create) -> str:
    properties = create.args.get("properties")
    for p in properties.expressions if properties is not None else ():
        if isinstance(p, exp.LanguageProperty):
            return p.name.upper() or "SQL"
    return "SQL"


def _parse_body(text: str, context: _Context) -> tuple[list[exp.Expr | None], _Context]:
    """A routine body's statements, and a context whose literal offsets are the body's."""
    tokens = _without_local(context.dialect.tokenize(text))
    if not tokens:
        return [], context
    _, literals, refusal = _shape(tokens)
    if refusal is not None:
        raise _Unsupported(f"routine body {refusal}")
    try:
        statements = list(context.dialect.parser().parse(tokens, text))
    except ParseError as e:
        raise _Unsupported("routine body: " + _parse_reason(e)) from None
    return statements, context._replace(literals=literals)


def _reads(statement: exp.Expr, ctx: _Context) -> list[TableRef]:
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
            named = _named(node, ctx, scope)
            if named is not None:
                found.append(named)
            skip = _NAMED_TABLE_SKIP if isinstance(node.this, exp.Identifier) else _FORMAT_SKIP
        elif kind is exp.Create:
            reads = _CREATE_READS if node.args.get("kind") != "TABLE" else _CREATE_TABLE_READS
            skip = frozenset(node.args) - reads
        elif kind is exp.Command:  # raw text inside a statement: its reads are unknown
            raise _Unsupported(f"unsupported statement {str(node.this).upper()!r}")
        if kind in _WITH_OWNERS:
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With):
                scope = _enter_with(with_, scope, stack, ctx.scoping, ctx.warehouse)
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


def _named(node: exp.Expr, ctx: _Context, scope: _Scope | None = None) -> TableRef | None:
    """The real table `node` names, or None (function, stage, location, variable, CTE
    reference, a session's temp table)."""
    warehouse, scoping = ctx.warehouse, ctx.scoping
    table = node
    this = node.args.get("this")
    if not isinstance(this, exp.Identifier):
        if isinstance(this, exp.Literal) and isinstance(node, exp.Table):
            return None  # Snowflake `FROM 's3://...'`, `'@stage/path'`: a location
        # IDENTIFIER('db.s.t') and Snowflake TABLE('db.s.t') name a table in a string.
        literal = this.this if isinstance(this, exp.DynamicIdentifier) else this
        if isinstance(literal, exp.Parameter | exp.Placeholder) and isinstance(node, exp.Table):
            # IDENTIFIER($v), IDENTIFIER(:v): the table is a session variable's value, which
            # the text does not say; reading nothing here would be a partial answer.
            raise _Unsupported("a table named by a variable")
        if not isinstance(literal, exp.Literal) or not literal.is_string:
            return None
        value = str(literal.this).strip()
        if "://" in value or value.startswith(_LOCATION_PREFIXES):
            return None
        try:
            table = exp.to_table(value, dialect=rule_for(warehouse).dialect)
        except (SqlglotError, ValueError):
            return None
        this = table.args.get("this")
        if not isinstance(this, exp.Identifier):
            return None
    elif not isinstance(node, exp.Table):
        return None
    elif ctx.literals:
        _refuse_string_names(table, ctx.literals)
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
    ref = table_ref(table, warehouse)
    if (
        ref is not None
        and scoping.session_schema is not None
        and ref.database is None
        and (ref.schema or "").upper() == scoping.session_schema
    ):
        return None
    return ref


def _refuse_string_names(table: exp.Expr, literals: frozenset[int]) -> None:
    """A name part parsed from a string literal (BigQuery `FROM "t"`, `'d.t'`: strings, not
    names, there) is SQL the warehouse refuses: the text is unparsed, not read as naming t."""
    for key in ("this", "db", "catalog"):
        part = table.args.get(key)
        if (
            isinstance(part, exp.Identifier)
            and part.args.get("quoted")
            and part.meta.get("start") in literals
        ):
            raise _Unsupported("a string literal where a table name goes")


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
