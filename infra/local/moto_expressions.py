"""moto 5.2.5's DynamoDB expression handling, made cheaper for the local stack, the tests and
the benchmarks. `install()` patches moto in this process; it is idempotent.

What moto does, per update item (UpdateItem, and every Update of a TransactWriteItems): it
parses the UpdateExpression string (twice for a transaction: once in the handler to list the
names used, once in the backend), deep-copies the parsed tree in `Validator.__init__` with
`copy.deepcopy`, then walks the copy ten times (`DepthFirstTraverser`), rebuilding the
processor map twice per node visited and running `isinstance` against ABCMeta classes. Two of
those walks (action counts, overlapping paths) call `find_clauses` at every node: quadratic
in the size of the expression. Every ConditionExpression is lexed and parsed again on each
evaluation (twice per transaction item: once in the transaction, once in put/update/delete).
Our credits send a handful of expression strings, again and again, with new values.

What this module does (results unchanged; each piece falls back to moto's code whenever the
input is not the plain kind it was written for):

- Parse each UpdateExpression string once. `UpdateExpressionParser.make` returns one shared
  tree per string (bounded cache). Nothing mutates the tree moto returns: the handler only
  reads it (`find_clauses`) and the backend hands it to `Validator`, which copies it first.
  Trees holding anything but nodes, lists and atoms are not cached.
- Copy the tree structurally. `Validator.__init__` (moto's body) copies with `_copy_tree`, which
  does exactly what `copy.deepcopy` does to such a graph (parent links included, shared
  objects stay shared, through a memo), and falls back to `deepcopy` for anything else.
- Skip the three checks that depend only on the expression, the attribute names and the
  table's key attributes (ActionCountValidator, OverlappingPathsValidator,
  UpdateHashRangeKeyValidator: they raise or change nothing) once they passed for that
  (tree, names, key attributes). A check that raised is never remembered, so the same
  error comes back every time.
- Walk faster. `DepthFirstTraverser.traverse` for moto's own validators (module
  moto.dynamodb.parsing.validators) builds the processor map once per walk and dispatches
  on the node's class through a cache; same order of visits, hooks, replacements.
- Condition expressions: `ConditionExpressionParser.parse` keeps the built condition per
  (expression, names, values) (conditions are stateless: `expr(item)` only reads), parsed
  from a private JSON copy of names and values; `_lex_condition_expression` keeps the
  tokens per expression string (immutable namedtuples) for the misses.

The patch depends on moto's internals: `EXPECTED_SOURCES` pins the source of the modules and
functions it replaces or relies on. `check()` reports any difference; `install()` then
patches nothing and logs a warning, and tests/emulator/test_moto_expressions.py fails with
instructions.
"""

from __future__ import annotations

import copy
import inspect
import json
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from moto.dynamodb import comparisons
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import ast_nodes, expressions, tokens, validators
from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
    DepthFirstTraverser,
    Node,
)
from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
    UpdateExpressionParser,
)
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateExpressionValidator,
    UpdateHashRangeKeyValidator,
    Validator,
)
from moto.dynamodb.responses import DynamoHandler

from infra.local import moto_pins

# sha256 (first 16 hex digits) of inspect.getsource() of what the patch replaces or relies on.
# Whole modules where the patch relies on what every function in them does or does not do:
# the parsers are pure functions of the string, the validators' processor maps are constant
# per instance, nothing mutates a tree `make` returns or a condition `parse` returns.
EXPECTED_SOURCES: dict[str, str] = {
    "moto.dynamodb.parsing.ast_nodes": "ab97413e907e4054",
    "moto.dynamodb.parsing.expressions": "fc933923742bf9b0",
    "moto.dynamodb.parsing.tokens": "c689a013be6c5d7c",
    "moto.dynamodb.parsing.validators": "345c1740c0c674a7",
    "moto.dynamodb.comparisons": "db64ea9ba9afffae",
    # the callers that receive the shared trees and conditions
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "DynamoDBBackend.put_item": "f5d9a5042c77b89e",
    "DynamoDBBackend.delete_item": "083a4bb1af18f6fd",
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "Table.put_item": "de23933013ef8426",
    "DynamoHandler.update_item": "638893af1afd43d2",
    "DynamoHandler.transact_write_items": "61c163fff213f33a",
}

_MARK = "_gimhae_moto_expressions"
_install_lock = threading.Lock()
_cache_lock = threading.Lock()
_SAVED: list[tuple[type, str, Any]] = []  # (owner, name, its own attribute before install)

MAX_UPDATE_TREES = 512
MAX_CONDITIONS = 4096
MAX_LEXED = 512

_ORIGINAL_MAKE = vars(UpdateExpressionParser)["make"]  # a classmethod object
_ORIGINAL_VALIDATOR_INIT = Validator.__init__
_ORIGINAL_TRAVERSE = DepthFirstTraverser.traverse
_ORIGINAL_PARSE = ConditionExpressionParser.parse
_ORIGINAL_LEX = ConditionExpressionParser._lex_condition_expression


def _pinned() -> dict[str, Any]:
    found: dict[str, Any] = {
        "moto.dynamodb.parsing.ast_nodes": ast_nodes,
        "moto.dynamodb.parsing.expressions": expressions,
        "moto.dynamodb.parsing.tokens": tokens,
        "moto.dynamodb.parsing.validators": validators,
        "moto.dynamodb.comparisons": comparisons,
    }
    for name in ("update_item", "put_item", "delete_item", "transact_write_items"):
        found[f"DynamoDBBackend.{name}"] = getattr(DynamoDBBackend, name)
    found["Table.put_item"] = Table.put_item
    found["DynamoHandler.update_item"] = DynamoHandler.update_item
    found["DynamoHandler.transact_write_items"] = DynamoHandler.transact_write_items
    return found


def _original(obj: Any) -> Any:
    """moto's own function under moto_transactions' lock wrapper or its replacement."""
    obj = inspect.unwrap(obj)
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("infra.local.moto_transactions"):
        from infra.local import moto_transactions

        for owner, name, own in moto_transactions._SAVED:
            current = getattr(owner, name, None)
            if own is not None and current is not None and inspect.unwrap(current) is obj:
                return own
    return obj


def source_hashes() -> dict[str, str]:
    return {name: moto_pins.source_digest(_original(obj)) for name, obj in _pinned().items()}


def check() -> list[str]:
    """What differs from the moto this patch was written against (empty: nothing)."""
    return moto_pins.differences(_pinned(), EXPECTED_SOURCES, _original)


def installed() -> bool:
    return bool(getattr(DepthFirstTraverser, _MARK, False))


def install() -> None:
    """Patch moto in this process (idempotent); patches nothing if moto changed."""
    with _install_lock:
        consequence = "moto's own expression handling, slower"
        if installed() or not moto_pins.still_fits(__name__, consequence, check()):
            return
        patches: list[tuple[type, str, Any]] = [
            (UpdateExpressionParser, "make", classmethod(_make)),
            (Validator, "__init__", _validator_init),
            (DepthFirstTraverser, "traverse", _traverse),
            (ConditionExpressionParser, "parse", _parse),
            (ConditionExpressionParser, "_lex_condition_expression", _lex),
        ]
        for owner, name, fn in patches:
            _SAVED.append((owner, name, vars(owner).get(name)))
            setattr(owner, name, fn)
        setattr(DepthFirstTraverser, _MARK, True)


def uninstall() -> None:
    """Put moto back as it was (for tests that compare with moto's own behaviour)."""
    with _install_lock:
        if not installed():
            return
        while _SAVED:
            owner, name, own = _SAVED.pop()
            if own is None:
                delattr(owner, name)
            else:
                setattr(owner, name, own)
        delattr(DepthFirstTraverser, _MARK)
        clear_caches()


def clear_caches() -> None:
    with _cache_lock:
        _UPDATE_TREES.clear()
        _TREES_BY_ID.clear()
        _CONDITIONS.clear()
        _LEXED.clear()


# --- update expressions: one parse per string ------------------------------------------


class _Tree:
    """A cached parse: the shared tree and the (names, key attributes) it passed checks for."""

    __slots__ = ("passed", "plan", "tree")

    def __init__(self, tree: Node) -> None:
        self.tree = tree
        self.passed: set[tuple[Any, ...]] = set()
        self.plan = _plan(tree)

    def copy(self) -> Any:
        """copy.deepcopy(self.tree), from the plan: no recursion, no memo."""
        plan = self.plan
        new = [[] if cls is list else cls.__new__(cls) for cls, _ in plan]
        for target, (cls, fields) in zip(new, plan, strict=True):
            if cls is list:
                target.extend(new[v] if ref else v for ref, v in fields)
            else:
                state = target.__dict__
                for key, ref, v in fields:
                    state[key] = new[v] if ref else v
        return new[0]


_UPDATE_TREES: dict[str, _Tree] = {}
_TREES_BY_ID: dict[int, _Tree] = {}  # id(tree) of the cached trees (kept alive by the cache)


def _make(cls: type, expression_str: Any) -> Any:
    own = _ORIGINAL_MAKE.__func__
    if cls is not UpdateExpressionParser or type(expression_str) is not str:
        return own(cls, expression_str)
    entry = _UPDATE_TREES.get(expression_str)
    if entry is not None:
        return entry.tree
    tree = own(cls, expression_str)  # a bad expression raises here, every time
    if not _plain(tree):
        return tree
    with _cache_lock:
        if len(_UPDATE_TREES) >= MAX_UPDATE_TREES:
            _UPDATE_TREES.clear()
            _TREES_BY_ID.clear()
        entry = _UPDATE_TREES.setdefault(expression_str, _Tree(tree))
        _TREES_BY_ID[id(entry.tree)] = entry
    return entry.tree


# --- a structural copy, the same as copy.deepcopy for trees of nodes, lists and atoms --------

_ATOMS = frozenset({str, int, float, bool, type(None)})
_COPYABLE: dict[type, bool] = {}


class _NotPlain(Exception):
    pass


def _copyable_node_class(cls: type) -> bool:
    """A Node class that copy.deepcopy copies as `cls.__new__(cls)` plus its `__dict__`."""
    known = _COPYABLE.get(cls)
    if known is None:
        known = (
            issubclass(cls, Node)
            and not hasattr(cls, "__deepcopy__")
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
            and not hasattr(cls, "__setstate__")
            and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
            and not any("__slots__" in vars(k) for k in cls.__mro__)
            and copy._deepcopy_dispatch.get(cls) is None  # type: ignore[attr-defined]
        )
        _COPYABLE[cls] = known
    return known


def _copy(obj: Any, memo: dict[int, Any]) -> Any:
    cls = type(obj)
    if cls in _ATOMS:
        return obj
    found = memo.get(id(obj))
    if found is not None:
        return found
    if cls is list:
        new_list: list[Any] = []
        memo[id(obj)] = new_list
        for element in obj:
            new_list.append(_copy(element, memo))
        return new_list
    if _copyable_node_class(cls):
        new = cls.__new__(cls)  # type: ignore[call-overload]
        memo[id(obj)] = new
        state = obj.__dict__
        if state:
            new.__dict__.update({key: _copy(value, memo) for key, value in state.items()})
        return new
    raise _NotPlain(cls)


def _copy_tree(tree: Any) -> Any:
    """copy.deepcopy(tree), faster for graphs of plain nodes, lists and atoms."""
    try:
        return _copy(tree, {})
    except _NotPlain:
        return copy.deepcopy(tree)


def _plan(tree: Any) -> list[tuple[Any, list[Any]]]:
    """The graph of a plain tree (see `_copy`) as a list, the root first: per node its class
    and (attribute, is a reference, index or atom) in `__dict__` order, per list its class
    and (is a reference, index or atom). Shared objects appear once, as with deepcopy's memo."""
    index: dict[int, int] = {}
    plan: list[tuple[Any, list[Any]]] = []

    def ref(obj: Any) -> tuple[bool, Any]:
        if type(obj) in _ATOMS:
            return (False, obj)
        found = index.get(id(obj))
        if found is not None:
            return (True, found)
        position = index[id(obj)] = len(plan)
        fields: list[Any] = []
        plan.append((type(obj), fields))
        if type(obj) is list:
            fields.extend(ref(element) for element in obj)
        else:
            fields.extend((key, *ref(value)) for key, value in obj.__dict__.items())
        return (True, position)

    ref(tree)
    return plan


def _plain(tree: Any) -> bool:
    try:
        _copy(tree, {})
    except _NotPlain:
        return False
    return True


# --- Validator: moto's __init__ with the structural copy; the pure checks once --------------

_PURE_CHECKS = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)


class _Passed:
    """Put after the pure checks: reached only if none of them raised."""

    def __init__(self, entry: _Tree, key: tuple[Any, ...]) -> None:
        self.entry = entry
        self.key = key

    def traverse(self, node: Any) -> Any:
        self.entry.passed.add(self.key)
        return node


def _checks_key(names: Any, table: Any) -> tuple[Any, ...] | None:
    if names is None:
        frozen_names: tuple[Any, ...] | None = None
    elif type(names) is dict and all(type(k) is str and type(v) is str for k, v in names.items()):
        frozen_names = tuple(names.items())
    else:
        return None
    key_attrs = table.table_key_attrs
    if not all(type(a) is str for a in key_attrs):
        return None
    return (frozen_names, tuple(key_attrs))


def _validator_init(
    self: Validator,
    expression: Node,
    expression_attribute_names: dict[str, str],
    expression_attribute_values: dict[str, dict[str, Any]],
    item: Any,
    table: Table,
) -> None:
    """moto 5.2.5's Validator.__init__ with `_copy_tree` (or a cached tree's plan) for
    `deepcopy`, and the pure checks
    skipped when they passed before for this cached tree, these names and key attributes."""
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    self.processors = self.get_ast_processors()
    entry = _TREES_BY_ID.get(id(expression))
    if entry is None or entry.tree is not expression:
        self.node_to_validate = _copy_tree(expression)
        return
    self.node_to_validate = entry.copy()
    if type(self) is not UpdateExpressionValidator:
        return
    processors = self.processors
    if len(processors) < 3 or tuple(type(p) for p in processors[:3]) != _PURE_CHECKS:
        return
    key = _checks_key(expression_attribute_names, table)
    if key is None:
        return
    if key in entry.passed:
        self.processors = processors[3:]
    else:
        self.processors = [*processors[:3], _Passed(entry, key), *processors[3:]]


# --- DepthFirstTraverser: the same walk, the processor map built once ----------------------

_NOT_A_NODE = object()
_DISPATCH: dict[tuple[type, type], Any] = {}  # (traverser class, node class) -> map key|None
_ORIGINAL_PRE = DepthFirstTraverser.pre_processing_of_child


def _fast_walk_allowed(cls: Any) -> bool:
    return (
        cls.__module__ == validators.__name__
        and cls.traverse_node_recursively is DepthFirstTraverser.traverse_node_recursively
        and cls.process is DepthFirstTraverser.process
        and cls.nodes_to_be_processed is DepthFirstTraverser.nodes_to_be_processed
    )


def _traverse(self: DepthFirstTraverser, node: Any) -> Any:
    """DepthFirstTraverser.traverse_node_recursively(node), with `_processing_map()` (a
    constant literal for every traverser in moto.dynamodb.parsing.validators) read once."""
    cls = type(self)
    if not _fast_walk_allowed(cls):
        return self.traverse_node_recursively(node)
    processing_map = self._processing_map()
    keys = tuple(processing_map)
    pre: Callable[[Any, int], None] | None = (
        self.pre_processing_of_child if cls.pre_processing_of_child is not _ORIGINAL_PRE else None
    )

    def dispatch(node_cls: type) -> Any:
        # isinstance(node, Node), then the first key of the map the node is an instance of
        if not issubclass(node_cls, Node):
            return _NOT_A_NODE
        for key in keys:
            if issubclass(node_cls, key):
                return key
        return None

    def walk(node: Any, child_id: int) -> Any:
        node_cls = type(node)
        slot = (cls, node_cls)
        key = _DISPATCH.get(slot, _DISPATCH)
        if key is _DISPATCH:
            key = _DISPATCH[slot] = dispatch(node_cls)
        if key is _NOT_A_NODE:
            return node
        parent_node = node.parent
        children = node.children
        if children is not None:
            for i, child_node in enumerate(children):
                if pre is not None:
                    pre(node, i)
                walk(child_node, i)
        if key is not None:
            node = processing_map[key](node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    return walk(node, -1)


# --- condition expressions --------------------------------------------------------------

_CONDITIONS: dict[tuple[str, str, str], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
_LEXED: dict[str, tuple[Any, ...]] = {}


def _frozen(value: Any) -> str | None:
    """A JSON text of names or values that loads back equal, else None (then: no cache)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == value else None


def _parse(self: ConditionExpressionParser) -> Any:
    """ConditionExpressionParser.parse, remembered per (expression, names, values)."""
    expression = self.condition_expression
    if not expression or type(expression) is not str:
        return _ORIGINAL_PARSE(self)
    names = _frozen(self.expression_attribute_names)
    values = _frozen(self.expression_attribute_values)
    if names is None or values is None:
        return _ORIGINAL_PARSE(self)
    key = (expression, names, values)
    hit = _CONDITIONS.get(key)
    if hit is None:
        # parsed from private copies: the condition keeps no reference to a request
        fresh = ConditionExpressionParser(expression, json.loads(names), json.loads(values))
        try:
            op = _ORIGINAL_PARSE(fresh)
        except BaseException:
            self.expr_attr_names_found.extend(fresh.expr_attr_names_found)
            self.expr_attr_values_found.extend(fresh.expr_attr_values_found)
            raise
        hit = (op, tuple(fresh.expr_attr_names_found), tuple(fresh.expr_attr_values_found))
        with _cache_lock:
            if len(_CONDITIONS) >= MAX_CONDITIONS:
                _CONDITIONS.clear()
            _CONDITIONS[key] = hit
    self.expr_attr_names_found.extend(hit[1])
    self.expr_attr_values_found.extend(hit[2])
    return hit[0]


def _lex(self: ConditionExpressionParser) -> deque[Any]:
    """ConditionExpressionParser._lex_condition_expression, remembered per expression."""
    expression = self.condition_expression
    if type(expression) is not str:
        return _ORIGINAL_LEX(self)
    lexed = _LEXED.get(expression)
    if lexed is None:
        lexed = tuple(_ORIGINAL_LEX(self))  # a bad expression raises here, every time
        with _cache_lock:
            if len(_LEXED) >= MAX_LEXED:
                _LEXED.clear()
            _LEXED[expression] = lexed
    return deque(lexed)
