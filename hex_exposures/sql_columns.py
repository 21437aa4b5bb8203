"""The columns a SQL text reads, each qualified to the table it comes from (issue 15).

sqlglot's optimizer does the qualifying: `normalize_identifiers`, `qualify_tables` (the
query's database/schema complete partial names) and `qualify_columns` against a schema of
the tables the text reads (the manifest's documented columns, the catalog's when present).
Then scopes are walked from the root, so a CTE nothing uses is never visited.

What counts is what would break the query if it went away:
- every column the text names, in any clause of a scope the query reaches, traced through
  CTEs, derived tables, set operations and aliases to its table;
- a `*` counts only as far as it is known: in the query's result, all the known columns of
  its tables; inside a CTE or subquery, only the columns something outside asks for (its
  other columns can vanish without breaking anything). An unknown `*` adds no column;
- a nested field (`a.b.c` on a STRUCT column, Snowflake `v:path`) counts as its column `a`;
  what UNNEST, FLATTEN or another table function yields is not a table's column.
An unqualified column that two sources could hold is left out rather than guessed.

Column names come out in the warehouse's stored case (`identifiers.normalize`; BigQuery
columns are case-insensitive, so they compare folded to lower case).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any, NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify_columns import qualify_columns
from sqlglot.optimizer.qualify_tables import qualify_tables
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from .bulk import gc_paused
from .identifiers import rule_for, table_ref
from .records import TableRef
from .sql_tables import (
    MAX_CHARS,
    _dialect,
    _one_line,
    _parse_reason,
    _same_table,
    _shape,
)

_VERSION = "1"  # bump when extraction changes, so cached results from older runs are unused
_MARK = "hex_exposures_written"  # meta flag on the Column nodes the text itself wrote
_SHAPES: dict[tuple[str, bytes, str | None, str | None, str], Columns] = {}
_SHAPES_MAX = 50_000


class ColumnRef(NamedTuple):
    """One column of one table, both in the warehouse's stored case."""

    table: TableRef
    column: str


class TableColumns(NamedTuple):
    """What is known of one table's columns: name (stored case) -> warehouse type or ""."""

    columns: Mapping[str, str]
    complete: bool  # from the catalog (every column) rather than from documentation


class Columns(NamedTuple):
    """What one text reads, column by column; `error` says why there is nothing."""

    columns: tuple[ColumnRef, ...]
    error: str | None = None


Schema = Mapping[TableRef, TableColumns]


class ColumnTask(NamedTuple):
    """One text to read columns from, in one query context: `extract_columns`'s arguments,
    small and picklable, so worker processes get the text and the part of the schema it
    reads, never the manifest."""

    sql: str
    database: str | None
    schema: str | None
    tables: Schema  # what is known of the tables the text reads (`for_tables`)
    digest: str  # `schema_digest` of those tables


def extract_task(task: ColumnTask, warehouse: str) -> Columns:
    return extract_columns(
        task.sql,
        warehouse=warehouse,
        database=task.database,
        schema=task.schema,
        tables=task.tables,
        digest=task.digest,
    )


def column_key(name: str, warehouse: str) -> str:
    """The form in which a column name is compared: BigQuery columns ignore case."""
    return name.lower() if rule_for(warehouse).fold_unquoted is None else name


def schema_digest(tables: Iterable[TableRef], schema: Schema) -> str:
    """A digest of what `schema` says about `tables`: a column result depends on it."""
    digest = hashlib.blake2b(digest_size=16)
    for table in sorted(set(tables), key=lambda t: (t.database or "", t.schema or "", t.name)):
        known = schema.get(table)
        digest.update(f"{table}\0".encode("utf-8", "surrogatepass"))
        if known is not None:
            digest.update(b"*" if known.complete else b"-")
            for name in sorted(known.columns):
                digest.update(f"{name}\1".encode("utf-8", "surrogatepass"))
        digest.update(b"\2")
    return digest.hexdigest()


def cache_key(
    sql: str, warehouse: str, database: str | None, schema: str | None, digest: str
) -> str:
    """Key of a column result: text, dialect, query context and schema digest."""
    head = (
        f"columns\0{_VERSION}\0{sqlglot.__version__}\0{rule_for(warehouse).dialect}\0"
        f"{database or ''}\0{schema or ''}\0{digest}\0"
    )
    data = (head + sql).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def extract_columns(
    sql: str,
    *,
    warehouse: str,
    database: str | None = None,
    schema: str | None = None,
    tables: Schema | None = None,
    digest: str | None = None,
) -> Columns:
    """Every column the text reads, qualified to its table; never raises for bad SQL.

    `tables` is what is known of the columns of the tables the text reads, keyed by their
    fully qualified, normalised names. Names in the text are completed from `database` and
    `schema` (the query's context) before they are looked up. With `digest` (of `tables`,
    `schema_digest`), texts that differ only in literal values and comments share one
    result, as in `sql_tables`: Hex apps rerun a cell with new parameter values.
    """
    dialect = _dialect(rule_for(warehouse).dialect)
    if len(sql) > MAX_CHARS:
        return Columns((), "too long")
    if not sql.strip():
        return Columns((), "empty")
    try:
        tokens = dialect.tokenize(sql)
        if not tokens:
            return Columns((), "empty")
        shape, _literals, refusal = _shape(tokens)
        if refusal is not None:
            return Columns((), refusal)
        memo = (warehouse, shape, database, schema, digest) if digest is not None else None
        hit = _SHAPES.get(memo) if memo is not None else None
        if hit is not None:
            return hit
        with gc_paused():
            statements = dialect.parser().parse(tokens, sql)
        found: set[ColumnRef] = set()
        mapping = _mapping_schema(tables or {}, warehouse)
        created: list[TableRef] = []  # temporary tables shadow names for later statements
        for statement in statements:
            if statement is None:
                continue
            for ref in _statement(statement, warehouse, database, schema, mapping):
                if not any(_same_table(c, ref.table) for c in created):
                    found.add(ref)
            made = _created(statement, warehouse)
            if made is not None:
                created.append(made)
    except RecursionError:
        return Columns((), "recursion")
    except sqlglot.ParseError as e:
        return Columns((), "parse error: " + _parse_reason(e))
    except SqlglotError as e:
        return Columns((), "parse error: " + _one_line(str(e)))
    except Exception as e:  # the optimizer's own bugs must not stop a run
        return Columns((), f"parse error: {type(e).__name__}: {_one_line(str(e))}")
    result = Columns(tuple(sorted(found, key=_order)))
    if memo is not None:
        if len(_SHAPES) >= _SHAPES_MAX:
            with suppress(KeyError, RuntimeError, StopIteration):  # another thread evicted
                del _SHAPES[next(iter(_SHAPES))]
        _SHAPES[memo] = result
    return result


def _created(statement: exp.Expr, warehouse: str) -> TableRef | None:
    """The table a CREATE TABLE/VIEW statement makes, as written (sql_tables does the same)."""
    if not isinstance(statement, exp.Create) or statement.kind not in ("TABLE", "VIEW"):
        return None
    target = statement.this
    if isinstance(target, exp.Schema):
        target = target.this
    return table_ref(target, warehouse) if isinstance(target, exp.Table) else None


def _order(c: ColumnRef) -> tuple[str, str, str, str]:
    return (c.table.database or "", c.table.schema or "", c.table.name, c.column)


def _mapping_schema(tables: Schema, warehouse: str) -> _Known:
    """sqlglot's schema (names given in stored case, so not normalised again) and extras."""
    nested: dict[str, Any] = {}
    complete: set[tuple[str, str, str]] = set()
    for ref, known in tables.items():
        if ref.database is None or ref.schema is None or not known.columns:
            continue
        cols = {column_key(name, warehouse): "UNKNOWN" for name in known.columns}
        nested.setdefault(ref.database, {}).setdefault(ref.schema, {})[ref.name] = cols
        if known.complete:
            complete.add((ref.database, ref.schema, ref.name))
    dialect = rule_for(warehouse).dialect
    return _Known(MappingSchema(nested, dialect=dialect, normalize=False), complete)


class _Known(NamedTuple):
    schema: MappingSchema
    complete: set[tuple[str, str, str]]


def _statement(
    statement: exp.Expr,
    warehouse: str,
    database: str | None,
    schema: str | None,
    known: _Known,
) -> set[ColumnRef]:
    query = statement
    if isinstance(statement, exp.Create | exp.Insert):
        query = statement.expression
    if not isinstance(query, exp.Query):
        return set()  # DDL, DML, session commands: columns are not read, or not knowably
    for column in query.find_all(exp.Column):
        column.meta[_MARK] = True
    dialect = rule_for(warehouse).dialect
    query = normalize_identifiers(query, dialect=dialect)
    query = qualify_tables(query, db=schema, catalog=database, dialect=dialect)
    query = qualify_columns(query, known.schema, allow_partial_qualification=True, dialect=dialect)
    root = build_scope(query)
    if root is None:
        return set()
    return _Walk(root, warehouse, known).run()


class _Walk:
    """Trace the columns of the scopes reachable from `root` to the tables they come from."""

    def __init__(self, root: Scope, warehouse: str, known: _Known) -> None:
        self.root = root
        self.warehouse = warehouse
        self.known = known
        self.found: set[ColumnRef] = set()
        self.asked: set[tuple[int, str]] = set()  # (scope, output column) already traced

    def run(self) -> set[ColumnRef]:
        output = {id(s) for s in _set_branches(self.root)}
        for scope in _reachable(self.root):
            in_result = id(scope) in output
            # scope.columns also lists unqualified columns of correlated subqueries: only
            # the scope's own are placed here, each subquery places its own.
            own = {id(c) for c in _own_columns(scope.expression)}
            for column in scope.columns:
                if id(column) in own and (in_result or column.meta.get(_MARK)):
                    self._column(scope, column)
            if in_result:
                for star in _unexpanded_stars(scope):
                    self._star(scope, star)
        return self.found

    # --- one column reference ---------------------------------------------------------------

    def _column(self, scope: Scope, column: exp.Column) -> None:
        if isinstance(column.this, exp.Star):
            return  # `t.*` that the schema could not expand: `_star` follows it
        parts = [p.name for p in column.parts]
        holder = _holder(scope, parts[0]) if len(parts) > 1 else None
        name = parts[1] if holder is not None else parts[0]
        if holder is None and len(parts) > 2:
            holder = _holder(scope, parts[-2])  # `schema.table.column`
            name = parts[-1]
        if holder is None:
            name = parts[0]  # `a.b.c` with no source `a`: field b.c of column a (STRUCT)
        if holder is not None:
            self._source(holder[1], name)
            return
        source = self._unqualified(scope, name, column)
        if source is not None:
            self._source(source, name)

    def _source(self, source: object, name: str) -> None:
        if isinstance(source, exp.Table):
            ref = (
                table_ref(source, self.warehouse)
                if isinstance(source.this, exp.Identifier)
                else None
            )
            if ref is not None:
                self.found.add(ColumnRef(ref, column_key(name, self.warehouse)))
        elif isinstance(source, Scope):
            self._demand(source, name)
        # UNNEST, FLATTEN, VALUES, other table functions: not a table's column

    def _unqualified(self, scope: Scope, name: str, column: exp.Column) -> object | None:
        """The one source an unqualified column can come from, or None when unsure.

        A column inside a table function's argument (`UNNEST(items)`) reads the sources
        beside it, or the enclosing query's when there are none (a correlated UNNEST).
        """
        sources = [
            source for node, source in scope.selected_sources.values() if not _inside(column, node)
        ]
        if not sources:
            return self._unqualified(scope.parent, name, column) if scope.parent else None
        if len(sources) == 1:
            return sources[0]
        unknown = []
        for source in sources:
            names = self._columns_of(source)
            if names is None:
                unknown.append(source)
            elif name in names:
                return source  # qualify_columns left it only when it was ambiguous
            elif not self._complete(source):
                return None  # a documented table may hold undocumented columns
        return unknown[0] if len(unknown) == 1 else None

    def _columns_of(self, source: object) -> set[str] | None:
        """The output columns of a source when known, else None."""
        if isinstance(source, exp.Table):
            if _full(source) is None:
                return None
            try:
                names = self.known.schema.column_names(source)
            except SqlglotError:
                return None
            return {column_key(n, self.warehouse) for n in names} or None
        if not isinstance(source, Scope):
            return None
        if isinstance(source.expression, exp.Query):
            if _unexpanded_stars(source):
                return None
            return set(source.expression.named_selects)
        return _function_columns(source.expression)

    def _complete(self, source: object) -> bool:
        if isinstance(source, exp.Table):
            return _full(source) in self.known.complete
        return self._columns_of(source) is not None

    # --- what a derived scope's output column reads --------------------------------------------

    def _demand(self, scope: Scope, name: str) -> None:
        key = (id(scope), name)
        if key in self.asked:
            return
        self.asked.add(key)
        if isinstance(scope.expression, exp.SetOperation):
            branches = _set_branches(scope)
            position = _position(branches[0], name) if branches else None
            for branch in branches:
                if position is None:  # the left branch's `*`: each branch by name
                    self._demand(branch, name)
                else:
                    selects = _selects(branch)
                    if position < len(selects):
                        self._projection(branch, selects[position])
            return
        query = scope.expression
        if not isinstance(query, exp.Select):
            return
        for projection in query.selects:
            if projection.alias_or_name == name and not isinstance(projection, exp.Star):
                self._projection(scope, projection)
                return
        # Not a named output: a `*` the schema could not expand passes the demand on.
        for star in _unexpanded_stars(scope):
            qualifier = star.table if isinstance(star, exp.Column) else ""
            if qualifier:
                holder = _holder(scope, qualifier)
                if holder is not None:
                    self._source(holder[1], name)
            elif len(scope.selected_sources) == 1:
                ((_, source),) = scope.selected_sources.values()
                self._source(source, name)

    def _projection(self, scope: Scope, projection: exp.Expr) -> None:
        for column in _own_columns(projection):
            self._column(scope, column)

    def _star(self, scope: Scope, star: exp.Expr) -> None:
        """A `*` of the result that qualify could not expand: its scopes' known outputs."""
        qualifier = star.table if isinstance(star, exp.Column) else ""
        if qualifier:
            holder = _holder(scope, qualifier)
            sources = [holder[1]] if holder else []
        else:
            sources = [source for _, source in scope.selected_sources.values()]
        for source in sources:
            if isinstance(source, Scope):
                names = self._columns_of(source)
                for name in sorted(names or ()):
                    self._demand(source, name)
                if names is None:
                    for inner in _unexpanded_stars(source):
                        self._star(source, inner)


def _holder(scope: Scope | None, qualifier: str) -> tuple[Scope, object] | None:
    """The scope whose source `qualifier` names (correlated references look outwards)."""
    while scope is not None:
        source = scope.sources.get(qualifier)
        if source is not None:
            return scope, source
        scope = scope.parent
    return None


_FLATTEN_COLUMNS = frozenset({"SEQ", "KEY", "PATH", "INDEX", "VALUE", "THIS"})


def _function_columns(node: exp.Expr) -> set[str] | None:
    """What UNNEST ... AS x [WITH OFFSET AS o], LATERAL FLATTEN or TABLE(FLATTEN) yields."""
    alias = node.args.get("alias")
    names = {c.name for c in alias.columns} if isinstance(alias, exp.TableAlias) else set()
    offset = node.args.get("offset")
    if isinstance(offset, exp.Identifier):
        names.add(offset.name)
    inner = node.this if isinstance(node, exp.TableFromRows | exp.Lateral) else None
    if isinstance(inner, exp.Func) and (inner.name or type(inner).__name__).upper() == "FLATTEN":
        names |= _FLATTEN_COLUMNS
    return names or None


def _inside(node: exp.Expr, ancestor: exp.Expr) -> bool:
    current = node.parent
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def _full(table: exp.Table) -> tuple[str, str, str] | None:
    if not table.catalog or not table.db or not table.name:
        return None
    return (table.catalog, table.db, table.name)


def _reachable(root: Scope) -> list[Scope]:
    """Scopes the query evaluates: a CTE counts only when something reachable reads it."""
    seen: set[int] = set()
    out: list[Scope] = []
    stack = [root]
    while stack:
        scope = stack.pop()
        if id(scope) in seen:
            continue
        seen.add(id(scope))
        out.append(scope)
        stack.extend(scope.set_operation_scopes)
        stack.extend(scope.subquery_scopes)
        stack.extend(scope.derived_table_scopes)
        stack.extend(scope.udtf_scopes)
        # `sources` also names every CTE the WITH defines; only those read are evaluated.
        stack.extend(s for _, s in scope.selected_sources.values() if isinstance(s, Scope))
    return out


def _set_branches(scope: Scope) -> list[Scope]:
    """The SELECT scopes whose projections are the output of `scope` (UNION branches)."""
    if isinstance(scope.expression, exp.SetOperation):
        out: list[Scope] = []
        for branch in scope.set_operation_scopes:
            out += _set_branches(branch)
        return out
    return [scope]


def _selects(scope: Scope) -> list[exp.Expr]:
    query = scope.expression
    return list(query.selects) if isinstance(query, exp.Query) else []


def _position(scope: Scope, name: str) -> int | None:
    for i, projection in enumerate(_selects(scope)):
        if projection.alias_or_name == name:
            return i
    return None


def _unexpanded_stars(scope: Scope) -> list[exp.Expr]:
    query = scope.expression
    if not isinstance(query, exp.Select):
        return []
    return [
        p
        for p in query.selects
        if isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
    ]


def _own_columns(node: exp.Expr) -> Sequence[exp.Column]:
    """Column nodes under `node`, not those of a subquery inside it (its own scope)."""
    out: list[exp.Column] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, exp.Column):
            out.append(current)
            continue
        if isinstance(current, exp.Query) and current is not node:
            continue
        stack.extend(current.iter_expressions())
    return out
