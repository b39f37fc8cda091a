"""The local stand-in for AWS IoT Core's rules engine: the SQL subset our rules use.

The rules in iot/rules/*.json are deployed to AWS unchanged, so this module has to agree with
AWS IoT SQL version 2016-03-23 on every case the rules (and their tests) can reach. Anything
outside the subset is rejected when the rule is compiled rather than approximated, so a rule
that would behave differently in the cloud fails loudly on a laptop first.

Supported:
    SELECT  *  |  item [, item ...]      item := * | expr [AS name]
    FROM    '<MQTT topic filter>'
    [WHERE  expr]
    expr    := OR / AND / NOT over comparisons (=, <>, !=, <, <=, >, >=) of operands
    operand := field path (a.b.c) | literal ('text', 12, -1.5, true, false, null)
             | topic() | topic(n) | timestamp() | clientid() | encode(*, 'base64') | ( expr )

Semantics worth knowing (they follow AWS, not Python):
    * A missing field is *Undefined*, not null: it is left out of the output, and any
      comparison or logical operator that touches it is Undefined too, so a WHERE that
      references a missing field is false.
    * ``SELECT *`` merges the payload object with the other items (later items win).
    * A payload that is not JSON can only go through a bare ``SELECT *`` (the bytes pass
      unchanged) or a select list without payload fields (e.g. ``encode(*, 'base64')``);
      anything else raises RuleEvaluationError, which the caller routes to the error action.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, cast

from chalicelib.domain import json_limits
from chalicelib.topics import topic_matches

__all__ = [
    "CompiledRule",
    "RuleEvaluationError",
    "RuleSqlError",
    "compile_sql",
    "evaluate",
    "topic_matches",
]


class RuleSqlError(ValueError):
    """The SQL is outside the supported subset; raised when the rule is compiled."""


class RuleEvaluationError(ValueError):
    """This message cannot be evaluated by this rule (AWS would run the error action)."""


# --------------------------------------------------------------------------- values


class _UndefinedType:
    """AWS's *Undefined*: distinct from JSON null, it vanishes from the output object."""

    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED: Final = _UndefinedType()


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Const:
    """A constant from the SQL text (string, number, boolean or null)."""

    value: Any


@dataclass(frozen=True)
class Field:
    """A payload field; ``path`` has one entry per dotted segment."""

    path: tuple[str, ...]


@dataclass(frozen=True)
class Star:
    """The whole payload; only meaningful as a select item or encode()'s argument."""


@dataclass(frozen=True)
class Call:
    """One of the supported functions; arguments are validated at parse time."""

    name: str
    args: tuple[Expr, ...]


CompareOp: TypeAlias = Literal["=", "<>", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp:
    op: Literal["AND", "OR"]
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr: TypeAlias = Const | Field | Star | Call | Compare | BoolOp | Not


@dataclass(frozen=True)
class SelectItem:
    """``name`` is the output key; None only for ``*``, whose keys come from the payload."""

    expr: Expr
    name: str | None


@dataclass(frozen=True)
class CompiledRule:
    """A parsed rule statement, ready for :func:`evaluate` on many messages."""

    topic_filter: str
    select: tuple[SelectItem, ...]
    where: Expr | None
    sql: str = field(default="", compare=False)

    @property
    def is_bare_star(self) -> bool:
        """``SELECT *`` alone passes any payload through untouched, JSON or not."""
        return len(self.select) == 1 and isinstance(self.select[0].expr, Star)

    @property
    def select_needs_json(self) -> bool:
        """Whether a non-JSON payload makes the SELECT fail (AWS's binary-payload rules)."""
        if self.is_bare_star:
            return False
        return any(_refers_to_payload_json(item.expr) for item in self.select)


def _refers_to_payload_json(expr: Expr) -> bool:
    match expr:
        case Field() | Star():
            return True
        case Call(name="encode"):
            # encode(*, ...) reads the raw bytes, not the JSON document.
            return False
        case Call(args=args):
            return any(_refers_to_payload_json(a) for a in args)
        case Compare(left=left, right=right) | BoolOp(left=left, right=right):
            return _refers_to_payload_json(left) or _refers_to_payload_json(right)
        case Not(operand=operand):
            return _refers_to_payload_json(operand)
        case _:
            return False


# --------------------------------------------------------------------------- tokenizer


TokenKind: TypeAlias = Literal["ident", "string", "number", "op", "punct", "end"]


@dataclass(frozen=True)
class _Token:
    kind: TokenKind
    text: str
    pos: int
    value: Any = None


_KEYWORDS: Final = frozenset({"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT"})
_LITERAL_WORDS: Final[dict[str, Any]] = {"TRUE": True, "FALSE": False, "NULL": None}

_NUMBER_RE: Final = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS: Final = ("<>", "!=", "<=", ">=", "=", "<", ">")
_PUNCT: Final = frozenset("(),.*")


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(sql):
        ch = sql[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "'":
            text, i_end = _read_string(sql, i)
            tokens.append(_Token("string", sql[i:i_end], i, text))
            i = i_end
            continue
        # A '-' is only a sign when a number follows; there is no arithmetic to confuse it with.
        number = _NUMBER_RE.match(sql, i) if ch.isdigit() or ch in "-." else None
        if number and not (ch == "." and tokens and tokens[-1].kind == "ident"):
            raw = number.group()
            value: int | float = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(_Token("number", raw, i, value))
            i = number.end()
            continue
        ident = _IDENT_RE.match(sql, i)
        if ident:
            tokens.append(_Token("ident", ident.group(), i))
            i = ident.end()
            continue
        op = next((o for o in _OPERATORS if sql.startswith(o, i)), None)
        if op:
            tokens.append(_Token("op", "<>" if op == "!=" else op, i))
            i += len(op)
            continue
        if ch in _PUNCT:
            tokens.append(_Token("punct", ch, i))
            i += 1
            continue
        raise RuleSqlError(f"unexpected character {ch!r} at position {i}")
    tokens.append(_Token("end", "", len(sql)))
    return tokens


def _read_string(sql: str, start: int) -> tuple[str, int]:
    """A single-quoted literal; '' inside it is an escaped quote, as in standard SQL."""
    parts: list[str] = []
    i = start + 1
    while i < len(sql):
        if sql[i] == "'":
            if sql.startswith("''", i):
                parts.append("'")
                i += 2
                continue
            return "".join(parts), i + 1
        parts.append(sql[i])
        i += 1
    raise RuleSqlError(f"unterminated string literal starting at position {start}")


# --------------------------------------------------------------------------- parser


_FUNCTIONS: Final = frozenset({"topic", "timestamp", "clientid", "encode"})


class _Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, sql: str) -> None:
        self.tokens = _tokenize(sql)
        self.i = 0

    # -- token helpers

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def _advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def _is_keyword(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() == word

    def _is_punct(self, ch: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == ch

    def _expect_keyword(self, word: str) -> None:
        if not self._is_keyword(word):
            raise self._error(f"expected {word}")
        self._advance()

    def _expect_punct(self, ch: str) -> None:
        if not self._is_punct(ch):
            raise self._error(f"expected {ch!r}")
        self._advance()

    def _error(self, what: str) -> RuleSqlError:
        found = "end of statement" if self.tok.kind == "end" else repr(self.tok.text)
        return RuleSqlError(f"{what} at position {self.tok.pos}, found {found}")

    # -- statement

    def statement(self, sql: str) -> CompiledRule:
        self._expect_keyword("SELECT")
        select = self._select_list()
        self._expect_keyword("FROM")
        if self.tok.kind != "string":
            raise self._error("expected a quoted topic filter after FROM")
        topic_filter = str(self._advance().value)
        _validate_topic_filter(topic_filter)
        where: Expr | None = None
        if self._is_keyword("WHERE"):
            self._advance()
            where = self._or_expr()
        if self.tok.kind != "end":
            raise self._error("unexpected text after the statement")
        return CompiledRule(topic_filter=topic_filter, select=select, where=where, sql=sql)

    def _select_list(self) -> tuple[SelectItem, ...]:
        items = [self._select_item()]
        while self._is_punct(","):
            self._advance()
            items.append(self._select_item())
        if sum(isinstance(item.expr, Star) for item in items) > 1:
            raise RuleSqlError("SELECT lists * more than once")
        names = [item.name for item in items if item.name is not None]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise RuleSqlError(f"SELECT names {', '.join(duplicates)} more than once")
        return tuple(items)

    def _select_item(self) -> SelectItem:
        if self._is_punct("*"):
            self._advance()
            if self._is_keyword("AS"):
                raise self._error("* cannot be renamed with AS")
            return SelectItem(Star(), None)
        expr = self._or_expr()
        if self._is_keyword("AS"):
            self._advance()
            if self.tok.kind != "ident" or self.tok.text.upper() in _KEYWORDS:
                raise self._error("expected a name after AS")
            return SelectItem(expr, self._advance().text)
        match expr:
            case Field(path=path):
                return SelectItem(expr, path[-1])
            case Call(name=name):
                return SelectItem(expr, name)
            case _:
                raise self._error("this SELECT item needs an AS name")

    # -- expressions, lowest precedence first: OR < AND < NOT < comparison

    def _or_expr(self) -> Expr:
        left = self._and_expr()
        while self._is_keyword("OR"):
            self._advance()
            left = BoolOp("OR", left, self._and_expr())
        return left

    def _and_expr(self) -> Expr:
        left = self._not_expr()
        while self._is_keyword("AND"):
            self._advance()
            left = BoolOp("AND", left, self._not_expr())
        return left

    def _not_expr(self) -> Expr:
        if self._is_keyword("NOT"):
            self._advance()
            return Not(self._not_expr())
        return self._comparison()

    def _comparison(self) -> Expr:
        left = self._operand()
        if self.tok.kind != "op":
            return left
        op = cast(CompareOp, self._advance().text)
        right = self._operand()
        if self.tok.kind == "op":
            raise self._error("comparisons cannot be chained; use AND")
        return Compare(op, left, right)

    def _operand(self) -> Expr:
        tok = self.tok
        if self._is_punct("("):
            self._advance()
            inner = self._or_expr()
            self._expect_punct(")")
            return inner
        if tok.kind in ("string", "number"):
            self._advance()
            return Const(tok.value)
        if tok.kind == "ident":
            upper = tok.text.upper()
            if upper in _LITERAL_WORDS:
                self._advance()
                return Const(_LITERAL_WORDS[upper])
            if upper in _KEYWORDS:
                raise self._error("expected a value")
            self._advance()
            if self._is_punct("("):
                return self._call(tok)
            return self._field(tok.text)
        raise self._error("expected a value")

    def _field(self, first: str) -> Field:
        path = [first]
        while self._is_punct("."):
            self._advance()
            if self.tok.kind != "ident":
                raise self._error("expected a field name after '.'")
            path.append(self._advance().text)
        return Field(tuple(path))

    def _call(self, name_tok: _Token) -> Call:
        name = name_tok.text.lower()
        if name not in _FUNCTIONS:
            raise RuleSqlError(
                f"function {name_tok.text}() at position {name_tok.pos} is not supported "
                f"(supported: {', '.join(sorted(_FUNCTIONS))})"
            )
        self._expect_punct("(")
        args: list[Expr] = []
        if not self._is_punct(")"):
            args.append(self._argument())
            while self._is_punct(","):
                self._advance()
                args.append(self._argument())
        self._expect_punct(")")
        call = Call(name, tuple(args))
        _check_call(call, name_tok.pos)
        return call

    def _argument(self) -> Expr:
        if self._is_punct("*"):
            self._advance()
            return Star()
        return self._or_expr()


def _check_call(call: Call, pos: int) -> None:
    """Each function's arguments are fixed by the subset, so mistakes surface at compile time."""
    where = f"{call.name}() at position {pos}"
    match call.name, call.args:
        case (("timestamp" | "clientid"), ()):
            return
        case "topic", ():
            return
        case "topic", (Const(value=int() as n),) if not isinstance(n, bool) and n >= 1:
            return
        case "topic", _:
            raise RuleSqlError(f"{where} takes no argument or one integer literal >= 1")
        case "encode", (Star(), Const(value=str() as encoding)) if encoding == "base64":
            return
        case "encode", _:
            raise RuleSqlError(f"{where} is only supported as encode(*, 'base64')")
        case _:
            raise RuleSqlError(f"{where} takes no arguments")


def _validate_topic_filter(topic_filter: str) -> None:
    if not topic_filter:
        raise RuleSqlError("FROM topic filter is empty")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise RuleSqlError(f"'#' must be a whole, final level in {topic_filter!r}")
        if "+" in level and level != "+":
            raise RuleSqlError(f"'+' must be a whole level in {topic_filter!r}")


def compile_sql(sql: str) -> CompiledRule:
    """Parse a rule statement once, so each message only pays for evaluation."""
    return _Parser(sql).statement(sql)


# --------------------------------------------------------------------------- topics


# --------------------------------------------------------------------------- evaluation


class _NotJson:
    """Marker for a payload that did not parse, so fields read as Undefined in WHERE."""


_NOT_JSON: Final = _NotJson()


# AWS documents no nesting limit; ours sits far above any real payload and far below what
# Python's parser can take, so a hostile document is "not JSON" (encode(*) still carries it
# to the action, a rule that needs its fields runs the error action), never an exception.
MAX_PAYLOAD_DEPTH: Final = 256


def _parse_payload(payload: bytes) -> Any:
    try:
        return json_limits.loads(payload, max_depth=MAX_PAYLOAD_DEPTH)
    except json_limits.JsonRejected:
        return _NOT_JSON


@dataclass(frozen=True)
class _Message:
    topic: str
    raw: bytes
    document: Any  # the parsed JSON value, or _NOT_JSON
    client_id: str
    now_ms: int


def evaluate(
    rule: CompiledRule, topic: str, payload: bytes, *, client_id: str, now_ms: int
) -> dict[str, Any] | bytes | None:
    """Run one message through one rule, the way IoT Core decides whether to fire actions.

    Returns None when the rule does not fire (topic outside FROM, or WHERE not true), the
    raw bytes when a bare ``SELECT *`` meets a payload that is not a JSON object, and the
    output object otherwise. ``now_ms`` is injected so that tests and replays are stable.
    """
    if not topic_matches(rule.topic_filter, topic):
        return None
    message = _Message(topic, payload, _parse_payload(payload), client_id, now_ms)

    if rule.where is not None and _as_bool(_eval(rule.where, message)) is not True:
        return None

    if rule.is_bare_star:
        return message.document if isinstance(message.document, dict) else payload
    if isinstance(message.document, _NotJson) and rule.select_needs_json and payload:
        raise RuleEvaluationError(
            f"payload on {topic!r} is not JSON, and rule SELECT needs JSON: "
            "only a bare SELECT * or functions such as encode(*, 'base64') accept it"
        )

    output: dict[str, Any] = {}
    for item in rule.select:
        if isinstance(item.expr, Star):
            output.update(_payload_object(message))
            continue
        value = _eval(item.expr, message)
        if value is not UNDEFINED:
            assert item.name is not None  # every non-* item is named at parse time
            output[item.name] = value
    return output


def _payload_object(message: _Message) -> dict[str, Any]:
    """What ``*`` contributes when merged with other items."""
    if isinstance(message.document, dict):
        return dict(message.document)
    if not message.raw:
        # AWS lets a rule add data to an empty payload.
        return {}
    raise RuleEvaluationError(
        f"payload on {message.topic!r} is not a JSON object, so SELECT * cannot be merged "
        "with other fields"
    )


def _eval(expr: Expr, message: _Message) -> Any:
    match expr:
        case Const(value=value):
            return value
        case Field(path=path):
            return _lookup(message.document, path)
        case Star():
            return message.document if not isinstance(message.document, _NotJson) else UNDEFINED
        case Call():
            return _call(expr, message)
        case Compare(op=op, left=left, right=right):
            return _compare(op, _eval(left, message), _eval(right, message))
        case BoolOp(op=op, left=left, right=right):
            lhs, rhs = _as_bool(_eval(left, message)), _as_bool(_eval(right, message))
            if lhs is UNDEFINED or rhs is UNDEFINED:
                return UNDEFINED
            return (lhs and rhs) if op == "AND" else (lhs or rhs)
        case Not(operand=operand):
            value = _as_bool(_eval(operand, message))
            return UNDEFINED if value is UNDEFINED else not value
    raise AssertionError(f"unhandled expression {expr!r}")


def _lookup(document: Any, path: tuple[str, ...]) -> Any:
    value = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return UNDEFINED
        value = value[key]
    return value


def _call(call: Call, message: _Message) -> Any:
    match call.name, call.args:
        case "topic", ():
            return message.topic
        case "topic", (Const(value=int() as n),):
            levels = message.topic.split("/")
            return levels[n - 1] if n <= len(levels) else UNDEFINED
        case "timestamp", ():
            return message.now_ms
        case "clientid", ():
            return message.client_id
        case "encode", _:
            return base64.b64encode(message.raw).decode("ascii")
    raise AssertionError(f"unchecked call {call!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: CompareOp, left: Any, right: Any) -> Any:
    """AWS compares like with like; mixed types are unequal and have no order.

    Deliberately no string-to-number coercion: the rules compare fields with literals of the
    field's own type, and a silent coercion would hide a wrong literal in a rule.
    """
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    same_kind = (_is_number(left) and _is_number(right)) or (
        type(left) is type(right) and not _is_number(left)
    )
    if op == "=":
        return same_kind and left == right
    if op == "<>":
        return not (same_kind and left == right)
    orderable = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not orderable:
        return UNDEFINED
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _as_bool(value: Any) -> Any:
    """AWS's logical operators also accept the strings 'true'/'false', case-insensitively."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return UNDEFINED
