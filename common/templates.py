"""Notification templates: a tenant's text with ``{{ placeholders }}``, rendered safely.

Product teams will write the message of each event type themselves (issue 19); a template is
untrusted input that runs on our CPU, so this module renders it in Jinja2's
:class:`~jinja2.sandbox.SandboxedEnvironment` and bounds every way a template could hurt us:

* reaching Python objects (``__class__``, ``__globals__``, ``mro``…): refused at the
  attribute access, and only a short list of harmless ``str``/``dict``/``list`` methods may
  be called; ``str.format``/``format_map`` (a known sandbox escape and a way to pad to
  gigabytes) are refused outright; only JSON-like values may be printed or turned into
  text (a function or macro printed would show a Python object and its address);
* size: the source is at most :data:`MAX_SOURCE_CHARS` (10,000) characters, the output at
  most :data:`MAX_OUTPUT_CHARS` (10,000): the output is streamed (``generate()``) and counted,
  and every string or list the template builds (``~``, ``+``, ``*``, ``join``, ``replace``)
  is checked against :data:`MAX_VALUE_CHARS` *before* it is built, so no 100 MB string is
  ever made;
* time: :data:`MAX_RENDER_SECONDS` (50 ms) of wall clock, checked while streaming and at every
  loop step, call, attribute access and operator, so a loop that prints nothing is stopped
  too; ``range`` yields at most :data:`MAX_RANGE_ITEMS` (1,000) items and a render runs at
  most :data:`MAX_LOOP_STEPS` (10,000) loop iterations in all;
* depth: at most :data:`MAX_CALL_DEPTH` (20) nested calls (a macro calling itself), and
  Python's ``RecursionError`` is caught as a refusal;
* undefined names: :class:`~jinja2.StrictUndefined`, an error naming the variable (a typo
  in a template must not send "Hello ," to a million users).

Autoescape is OFF: a notification is plain text, and it reaches browsers as text (the SDK
sets ``textContent``, never ``innerHTML``), so HTML-escaping would show ``&amp;`` to users.

Every refusal is one exception, :class:`TemplateRefused`, with a reason a person can act on.
Pure: no I/O; the producer's preview route (:mod:`producer.catalog.preview`) and, later,
stored per-tenant templates use it.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

__all__ = [
    "COMPILED_CACHE",
    "DEFAULT_TEMPLATES",
    "MAX_CALL_DEPTH",
    "MAX_LOOP_STEPS",
    "MAX_OUTPUT_CHARS",
    "MAX_PRODUCED_CHARS",
    "MAX_RANGE_ITEMS",
    "MAX_RENDER_SECONDS",
    "MAX_SOURCE_CHARS",
    "MAX_VALUE_CHARS",
    "SNIPPET_CHARS",
    "TemplateRefused",
    "check",
    "names_read",
    "render",
]

MAX_SOURCE_CHARS = 10_000
"""A template's source: at most 10,000 characters (a message template is a line or two)."""
MAX_OUTPUT_CHARS = 10_000
"""A rendering: at most 10,000 characters; rendering stops as soon as the output passes it."""
MAX_VALUE_CHARS = 10_000
"""Any string or list a template builds: at most 10,000 characters (or items)."""
MAX_PRODUCED_CHARS = 100_000
"""All the text one rendering produces, printed or captured (``{% set x %}…{% endset %}``,
a macro's body): at most 100,000 characters, so output kept out of the stream (which
:data:`MAX_OUTPUT_CHARS` counts) cannot grow memory either."""
MAX_RENDER_SECONDS = 0.05
"""A rendering: at most 50 ms of wall clock."""
MAX_RANGE_ITEMS = 1_000
"""``range(n)``: at most 1,000 items."""
MAX_LOOP_STEPS = 10_000
"""All ``for`` loops of one rendering together: at most 10,000 iterations."""
MAX_CALL_DEPTH = 20
"""Calls within calls (macros calling macros or themselves): at most 20 deep."""
SNIPPET_CHARS = 80
"""The ``snippet`` filter's default length: the consumer's quote of a comment's text."""

DEFAULT_TEMPLATES: Mapping[str, str] = {
    "LIKE": '{{ actorId }}{% if others is defined and others %} and {{ others }} '
            'other{{ "s" if others > 1 }}{% endif %} liked your '
            '{{ "comment" if commentId else "post" }}',
    "COMMENT": '{{ actorId }} commented on your post: "{{ text|snippet }}"',
    "FOLLOW": '{{ actorId }}{% if others is defined and others %} and {{ others }} '
              'other{{ "s" if others > 1 }}{% endif %} started following you',
    "MENTION": '{% set quote = text|snippet %}{{ actorId }} mentioned you'
               '{% if quote %}: "{{ quote }}"{% endif %}',
    "SYSTEM": "{{ text|squish }}",
}
"""The five built-in types' messages as templates, keyed by event type
(:class:`common.models.EventType`'s values), rendered against an event's fields: they
produce exactly what :func:`consumer.rules.format_message` writes today
(tests/unit/test_templates.py holds them equal), the starting point a tenant edits. The two
types that digest (LIKE, FOLLOW) also say how many others joined (``others``: the digest's
distinct actors but the one named), "zoe and 11 others liked your post"."""


class TemplateRefused(Exception):
    """A template that may not be stored or rendered; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Budget:
    """What one rendering may still spend."""

    deadline: float
    loop_steps: int = 0
    produced: int = 0
    depth: int = 0
    clock: Callable[[], float] = field(default=time.monotonic)

    def tick(self) -> None:
        if self.clock() > self.deadline:
            raise TemplateRefused(f"too slow: rendering took over "
                                  f"{MAX_RENDER_SECONDS * 1000:.0f} ms")


_budget: ContextVar[_Budget | None] = ContextVar("herald_template_budget", default=None)


def _tick() -> _Budget | None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()
    return budget


def _value_size(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _check_size(size: int, what: str) -> None:
    if size > MAX_VALUE_CHARS:
        raise TemplateRefused(f"too long: {what} would be {size:,} long, over "
                              f"{MAX_VALUE_CHARS:,}")


_SPACES = re.compile(r"\s+")


_PRINTABLE = (str, int, float, bool, type(None))


def _printable(value: object) -> None:
    """Refuse a value that is not JSON-like (strings, numbers, booleans, ``None``, lists and
    mappings of them): a function, macro, loop or method turned into text would show a
    Python object (and its address). Undefined values pass: they raise their own error
    (naming the variable) when used, and ``default`` must see them."""
    stack = [value]
    seen = 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_VALUE_CHARS:
            raise TemplateRefused(f"too long: a value of over {MAX_VALUE_CHARS:,} items")
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif not isinstance(item, (*_PRINTABLE, Undefined)):
            raise TemplateRefused(f"unsafe output: a {type(item).__name__} cannot be printed")


def _text(value: object) -> str:
    """``str(value)`` of a :func:`_printable` value."""
    _printable(value)
    return str(value)


def _checked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter that only takes a :func:`_printable` value (``upper`` of a function
    would print it). ``functools.wraps`` keeps Jinja's ``pass_environment`` mark, so the
    value is the argument after the environment for those."""
    skip = 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(fn)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _tick()
        _printable(args[skip])
        return fn(*args, **kwargs)

    return checked


def _squish(text: object) -> str:
    """Whitespace runs as one space, stripped (``None`` as ``""``)."""
    return _SPACES.sub(" ", text if isinstance(text, str) else "").strip()


def _snippet(text: object, chars: int = SNIPPET_CHARS) -> str:
    """:func:`_squish`, cut at ``chars`` with an ellipsis: the consumer's quote of a text."""
    flat = _squish(text)
    return flat if len(flat) <= chars else flat[: chars - 1].rstrip() + "…"


def _join(items: Iterable[object], separator: str = "") -> str:
    parts = [_text(item) for item in items]
    _check_size(sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0), "a join")
    return separator.join(parts)


def _replace(text: object, old: str, new: str, count: int = -1) -> str:
    source = _text(text)
    hits = source.count(old) if old else len(source) + 1
    if count >= 0:
        hits = min(hits, count)
    _check_size(len(source) + hits * (len(new) - len(old)), "a replace")
    return source.replace(old, new, count)


def _bounded_range(*args: int) -> Iterator[int]:
    """``range``, at most :data:`MAX_RANGE_ITEMS` items (``range(10**9)`` is refused)."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE_ITEMS:
        raise TemplateRefused(f"too long: range of {len(numbers):,} items, over "
                              f"{MAX_RANGE_ITEMS:,}")
    return iter(numbers)


def _bounded_loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``for`` iterates (put there by :class:`_Guard`): counts the steps of the
    whole rendering and looks at the clock, so nested loops that print nothing still stop."""
    for item in iterable:
        budget = _tick()
        if budget is not None:
            budget.loop_steps += 1
            if budget.loop_steps > MAX_LOOP_STEPS:
                raise TemplateRefused(f"too slow: over {MAX_LOOP_STEPS:,} loop iterations")
        yield item


def _concat(*parts: object) -> str:
    """``a ~ b``, checked before it is built (``{% set s = s ~ s %}`` thirty times is 1 GB)."""
    _tick()
    texts = [_text(part) for part in parts]
    _check_size(sum(map(len, texts)), "a string")
    return "".join(texts)


def _out(value: object) -> str:
    """What every ``{{ }}`` and piece of text outputs (put there by :class:`_Guard`), counted
    against :data:`MAX_PRODUCED_CHARS` whether it is streamed or captured."""
    text = _text(value)
    budget = _tick()
    if budget is not None:
        budget.produced += len(text)
        if budget.produced > MAX_PRODUCED_CHARS:
            raise TemplateRefused(f"too long: the template produces over "
                                  f"{MAX_PRODUCED_CHARS:,} characters")
    return text


_OUT = "__herald_out"
_LOOP = "__herald_loop"
_CONCAT = "__herald_concat"


class _Guard(NodeTransformer):
    """Rewrites the parsed template: each ``for`` iterates through :func:`_bounded_loop`,
    each ``~`` is :func:`_concat`, each output goes through :func:`_out` (Jinja offers no
    hook for any of them)."""

    def _call(self, name: str, args: list[nodes.Node], lineno: int) -> nodes.Call:
        return nodes.Call(nodes.Name(name, "load", lineno=lineno), args, [], None, None,
                          lineno=lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._call(_LOOP, [node.iter], node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._call(_OUT, [child], child.lineno or node.lineno)
                      for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._call(_CONCAT, list(node.nodes), node.lineno)


_SAFE_METHODS = frozenset({
    # str
    "upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
    "endswith", "split", "count", "find", "isdigit", "isalpha", "isspace",
    # dict
    "get", "items", "keys", "values",
})
_UNSAFE_NAMES = frozenset({"mro", "func_globals", "func_code", "gi_frame", "gi_code",
                           "cr_frame", "cr_code", "ag_frame", "ag_code", "f_globals",
                           "f_locals", "f_builtins", "tb_frame"})


class _Sandbox(SandboxedEnvironment):
    """Jinja's sandbox, narrowed: attribute access, calls and operators pass through here."""

    intercepted_binops = frozenset({"+", "*", "**", "%", "//"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or attr in _UNSAFE_NAMES:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja wraps ``str.format`` in its own sandboxed formatter here; we refuse it: a
        known escape route, and ``"{:>999999999}".format(x)`` pads to a gigabyte."""
        if super().wrap_str_format(value) is not None:
            raise TemplateRefused("unsafe call: str.format and format_map are not allowed; "
                                  "write {{ value }} instead")
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        if attribute.startswith("_") or attribute in _UNSAFE_NAMES:
            raise TemplateRefused(f"unsafe attribute: {attribute!r} may not be read")
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        if isinstance(argument, str) and (argument.startswith("_")
                                          or argument in _UNSAFE_NAMES):
            raise TemplateRefused(f"unsafe attribute: {argument!r} may not be read")
        return super().getitem(obj, argument)

    def call(__self, __context: Any, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        budget = _tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | dict | list | tuple | int | float):
            name = getattr(__obj, "__name__", "?")
            if name not in _SAFE_METHODS:
                raise TemplateRefused(f"unsafe call: {type(owner).__name__}.{name} is not "
                                      "allowed in a template")
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.depth += 1
        try:
            if budget.depth > MAX_CALL_DEPTH:
                raise TemplateRefused(f"too deep: calls nested over {MAX_CALL_DEPTH} deep")
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            sized, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sized, str | list | tuple) and isinstance(times, int):
                _check_size(len(sized) * times, "a repetition")
        elif operator == "+":
            _check_size(_value_size(left) + _value_size(right), "a sum")
        elif operator == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise TemplateRefused("too long: an exponent over 64")
        elif operator == "%" and isinstance(left, str):
            raise TemplateRefused("unsafe call: %-formatting of strings is not allowed; "
                                  "write {{ value }} instead")
        return super().call_binop(context, operator, left, right)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        _tick()
        return super().call_unop(context, operator, arg)


_FILTERS = ("abs", "capitalize", "count", "default", "d", "first", "float", "int", "last",
            "length", "lower", "round", "string", "striptags", "title", "trim", "truncate",
            "upper", "wordcount", "attr")


def _environment() -> _Sandbox:
    env = _Sandbox(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
    kept = {name: _checked(env.filters[name]) for name in _FILTERS}
    env.filters.clear()
    env.filters.update(kept, join=_join, replace=_replace, squish=_squish, snippet=_snippet,
                       string=_text)
    env.tests = {name: env.tests[name] for name in
                 ("defined", "undefined", "none", "number", "string", "mapping", "sequence",
                  "even", "odd", "eq", "ne", "lt", "le", "gt", "ge", "in", "true", "false")}
    env.globals.clear()
    env.globals.update({"range": _bounded_range, _LOOP: _bounded_loop, _CONCAT: _concat,
                        _OUT: _out})
    return env


_ENV = _environment()


COMPILED_CACHE = 1024
"""Compiled templates kept (by source): a consumer renders the same few thousand at most."""


def _compile(source: str) -> Template:
    if not isinstance(source, str):
        raise TemplateRefused("a template is a string")
    return _compiled(source)[0]


@functools.lru_cache(maxsize=COMPILED_CACHE)
def _compiled(source: str) -> tuple[Template, frozenset[str]]:
    """The template and the names it reads from its data, compiled once per source (a
    refusal is not cached: it raises again)."""
    if not isinstance(source, str):
        raise TemplateRefused("a template is a string")
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateRefused(f"too long: the template is {len(source):,} characters, over "
                              f"{MAX_SOURCE_CHARS:,}")
    try:
        tree = _ENV.parse(source)
        names = frozenset(meta.find_undeclared_variables(tree))
        guarded = _Guard().visit(tree)
        tree.set_environment(_ENV)
        template = _ENV.template_class.from_code(_ENV, _ENV.compile(guarded),
                                                 _ENV.make_globals(None), None)
        return template, names
    except TemplateSyntaxError as exc:
        raise TemplateRefused(f"syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:
        raise TemplateRefused("too deep: the template nests too deeply") from None


def check(source: str) -> None:
    """Refuse what is wrong before any data: not a string, too long, a syntax error (its
    line named), an unknown filter or test."""
    _compile(source)


def names_read(source: str) -> frozenset[str]:
    """The top-level names ``source`` reads from its data (``{{ data.task }}`` reads
    ``data``): the consumer renders once per event and locale unless a template reads the
    recipient (``userId``). Raises :class:`TemplateRefused` as :func:`check` does."""
    if not isinstance(source, str):
        raise TemplateRefused("a template is a string")
    return _compiled(source)[1]


def render(source: str, data: Mapping[str, Any], *,
           clock: Callable[[], float] = time.monotonic) -> str:
    """``source`` rendered against ``data`` (JSON values), or :class:`TemplateRefused`."""
    template = _compile(source)
    budget = _Budget(clock() + MAX_RENDER_SECONDS, clock=clock)
    token = _budget.set(budget)
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(dict(data)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateRefused(f"too long: the output passes {MAX_OUTPUT_CHARS:,} "
                                      "characters")
            budget.tick()
            out.append(chunk)
    except TemplateRefused:
        raise
    except UndefinedError as exc:
        raise TemplateRefused(f"unknown variable: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateRefused(f"unsafe: {exc.message}") from None
    except RecursionError:
        raise TemplateRefused("too deep: the template recursed too deeply") from None
    except TemplateError as exc:
        raise TemplateRefused(f"template error: {exc.message}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, OverflowError) as exc:
        raise TemplateRefused(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        _budget.reset(token)
    return "".join(out)
