"""--format: Go's text/template, the subset docker users write.

Actions {{.Field.Sub}}, {{.}}, pipelines with |, functions (json, join, index, upper,
lower, title, split, len, println, printf, print, truncate, pad), {{if}} / {{else}} /
{{else if}}, {{range}}, {{with}}, {{end}}, trim markers {{- -}}, variables $ and $x := .
Values print as Go prints them: maps as map[k:v] (keys sorted), lists as [a b], nil as
<no value> at the top and <nil> inside.
"""

from __future__ import annotations

from darse.cli import fastjson as json
from darse.errors import InvalidArgument

TYPE_CHECKING = False  # typing costs milliseconds on every command
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# Scanned by hand rather than with re: importing and compiling re costs 3 ms of every
# `ps --format`, more than the rest of the template's work on a thousand containers.


def _actions(text: str) -> Iterator[tuple[int, int, bool, str, bool]]:
    r"""Each {{...}}: (start, end, trim left, action, trim right); what
    r"{{(-?)\s*(.*?)\s*(-?)}}" (dot matching newlines) finds."""
    pos = 0
    while (start := text.find("{{", pos)) >= 0:
        close = text.find("}}", start + 2)
        if close < 0:
            return
        inner = text[start + 2:close]
        left = inner.startswith("-")
        if left:
            inner = inner[1:]
        right = inner.endswith("-")
        if right:
            inner = inner[:-1]
        yield start, close + 2, left, inner.strip(), right
        pos = close + 2


def _tokens(action: str) -> list[str]:
    r"""What r'"(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||:=|[^\s()|]+' finds in an action."""
    out: list[str] = []
    i, n = 0, len(action)
    while i < n:
        c = action[i]
        if c.isspace():
            i += 1
            continue
        end = -1
        if c == '"':
            j = i + 1
            while j < n:
                if action[j] == '"':
                    end = j + 1
                    break
                if action[j] == "\\":
                    if j + 1 >= n or action[j + 1] == "\n":
                        break
                    j += 2
                else:
                    j += 1
        elif c == "`":
            close = action.find("`", i + 1)
            end = close + 1 if close > 0 else -1
        elif c in "()|":
            end = i + 1
        elif action.startswith(":=", i):
            end = i + 2
        if end < 0:
            end = i + 1
            while end < n and not action[end].isspace() and action[end] not in "()|":
                end += 1
        # (x).Field: the field of the parenthesised value, marked so by a leading NUL
        glued = c == "." and out and out[-1] == ")" and i > 0 and action[i - 1] == ")"
        out.append(("\0" if glued else "") + action[i:end])
        i = end
    return out


class _Node:
    def __init__(self, kind: str, arg: str = "", body: list | None = None,
                 else_body: list | None = None) -> None:
        self.kind, self.arg = kind, arg
        self.body = body or []
        self.else_body = else_body or []


def parse(text: str) -> list:
    """Template text -> a tree of str and _Node."""
    items: list[Any] = []
    pos = 0
    for start, end, left, action, right in _actions(text):
        literal = text[pos:start]
        if left:
            literal = literal.rstrip()
        if items and isinstance(items[-1], tuple) and items[-1][1]:
            literal = literal.lstrip()
        items.append(literal)
        items.append((action, right))
        pos = end
    tail = text[pos:]
    if items and isinstance(items[-1], tuple) and items[-1][1]:
        tail = tail.lstrip()
    items.append(tail)
    tree, rest = _build(iter(items), top=True)
    return tree


def _build(items: Any, top: bool = False) -> tuple[list, str | None]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            if item:
                out.append(item)
            continue
        action = item[0]
        word = action.split(None, 1)[0] if action else ""
        rest = action[len(word):].strip()
        if word in ("if", "range", "with"):
            body, stop = _build(items)
            node = _Node(word, rest, body)
            while stop is not None and stop.startswith("else"):
                cond = stop[4:].strip()
                if cond.startswith("if"):
                    inner_body, stop = _build(items)
                    inner = _Node("if", cond[2:].strip(), inner_body)
                    node_chain = node
                    while node_chain.else_body and isinstance(node_chain.else_body[0], _Node):
                        node_chain = node_chain.else_body[0]
                    node_chain.else_body = [inner]
                    continue
                else_body, stop = _build(items)
                target = node
                while target.else_body and isinstance(target.else_body[0], _Node) \
                        and target.else_body[0].kind == "if":
                    target = target.else_body[0]
                target.else_body = else_body
            if stop != "end":
                raise InvalidArgument(f"template: unexpected EOF in {word}")
            out.append(node)
        elif word == "end" or word == "else":
            if top:
                raise InvalidArgument(f"template: unexpected {{{{{word}}}}}")
            return out, action
        elif word.startswith("/*"):
            continue
        else:
            out.append(_Node("print", action))
    if not top:
        return out, None
    return out, None


# Docker API structs that --format prints as Go does ({a b c}, every field, in order):
# the CLI decodes them into structs, so absent fields print as their zero value.
STRUCTS = [
    ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation"),
]
_ZERO = {"RW": False}


def _struct_fields(value: dict) -> tuple[str, ...] | None:
    for fields in STRUCTS:
        if "Destination" in value and "Type" in value and set(value) <= set(fields):
            return fields
    return None


def go_format(value: Any, top: bool = True) -> str:
    if value is None:
        return "<no value>" if top else "<nil>"
    kind = type(value).__name__
    if kind == "Nil":
        return "<nil>"
    if kind in ("GoTime", "GoDuration"):
        return value.go()
    if kind == "GoStruct" and value.complete:
        if value.pointer and not top:
            return "0xc000010000"  # Go prints a nested pointer's address
        # text/template prints the value a top-level pointer points to
        return "{" + " ".join(go_format(v, False) for v in value.values_in_order()) + "}"
    if kind == "GoMap" and value.set_of_empty:
        return "map[" + " ".join(f"{k}:{{}}" for k in sorted(value)) + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        fields = _struct_fields(value)
        if fields:
            return "{" + " ".join(go_format(value.get(f, _ZERO.get(f, "")), False)
                                  for f in fields) + "}"
        return "map[" + " ".join(f"{k}:{go_format(value[k], False)}"
                                 for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v, False) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Scope:
    def __init__(self, dot: Any, variables: dict[str, Any]) -> None:
        self.dot, self.vars = dot, variables


# Go field names whose JSON names differ (the template sees the Go struct's names).
_GO_NAMES = {"APIVersion": "ApiVersion"}


class MissingKey(InvalidArgument):
    """A key the raw JSON lacks, in the docker CLI's raw fallback (missingkey=error)."""

    def __init__(self, chain: str, name: str) -> None:
        super().__init__(name)
        self.chain, self.name = chain, name


_STRICT = [False]  # set while a template runs on raw JSON in inspect's fallback


def _field(value: Any, chain: str) -> Any:
    for name in filter(None, chain.split(".")):
        kind = type(value).__name__
        if kind == "GoStruct":
            value = value.field(name)
        elif kind == "Nil":  # a field of a nil pointer: the typed run fails
            from darse.cli.gotypes import NoField

            raise NoField(name)
        elif isinstance(value, dict):
            if name not in value:
                name = _GO_NAMES.get(name, name)
                if name not in value:
                    if _STRICT[0] and kind != "GoMap":
                        raise MissingKey(chain, name)
                    return None
            value = value[name]
        else:
            return None
    return value


def _split_pipeline(tokens: list[str]) -> list[list[str]]:
    cmds, cur, depth = [], [], 0
    for t in tokens:
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        if t == "|" and depth == 0:
            cmds.append(cur)
            cur = []
        else:
            cur.append(t)
    cmds.append(cur)
    return cmds


def _arg(tokens: list[str], scope: _Scope) -> tuple[Any, list[str]]:
    t = tokens[0]
    if t == "(":
        depth, end = 0, 0
        while end < len(tokens):
            depth += (tokens[end] == "(") - (tokens[end] == ")")
            if depth == 0:
                break
            end += 1
        value, rest = _pipeline(tokens[1:end], scope), tokens[end + 1:]
        if rest and rest[0].startswith("\0"):
            value, rest = _field(value, rest[0][1:]), rest[1:]
        return value, rest
    if t.startswith('"'):
        return json.loads(t), tokens[1:]
    if t.startswith("`"):
        return t[1:-1], tokens[1:]
    if t == ".":
        return scope.dot, tokens[1:]
    if t.startswith("."):
        return _field(scope.dot, t), tokens[1:]
    if t.startswith("$"):
        name, _, chain = t.partition(".")
        return _field(scope.vars.get(name), chain), tokens[1:]
    if (t[1:] if t.startswith("-") else t).isdecimal():
        return int(t), tokens[1:]
    if t in ("true", "false"):
        return t == "true", tokens[1:]
    if t == "nil":
        return None, tokens[1:]
    raise InvalidArgument(f'template: function "{t}" not defined')


def _call(name: str, args: list[Any]) -> Any:
    if name == "json":
        if type(args[0]).__name__ == "Nil" or getattr(args[0], "nil", False):
            return "null"
        return json.dumps(args[0], separators=(",", ":"))
    if name == "join":
        return args[1].join(go_format(v, False) for v in args[0] or [])
    if name == "index":
        value = args[0]
        for key in args[1:]:
            elem = getattr(value, "elem", None)  # a typed map: its element's zero value
            value = value.get(key) if isinstance(value, dict) else (
                value[key] if isinstance(value, list) and key < len(value) else None)
            if value is None and elem is not None:
                from darse.cli.gotypes import zero

                value = zero(elem)
        return value
    if name in ("upper", "lower", "title"):
        return getattr(go_format(args[0], False), name)()
    if name == "split":
        return go_format(args[0], False).split(args[1])
    if name == "len":
        return len(args[0] or [])
    if name == "println":
        return " ".join(go_format(a, False) for a in args) + "\n"
    if name == "print":
        return "".join(go_format(a, False) for a in args)
    if name == "printf":
        fmt = args[0].replace("%v", "%s")
        return fmt % tuple(go_format(a, False) if not isinstance(a, int) or
                           isinstance(a, bool) else a for a in args[1:])
    if name == "truncate":
        return go_format(args[0], False)[:args[1]]
    if name == "pad":
        return " " * args[1] + go_format(args[0], False) + " " * args[2]
    if name == "eq":
        return all(args[0] == a for a in args[1:])
    if name == "ne":
        return args[0] != args[1]
    if name == "not":
        return not _truthy(args[0])
    if name == "and":
        return all(_truthy(a) for a in args)
    if name == "or":
        return next((a for a in args if _truthy(a)), args[-1] if args else None)
    raise InvalidArgument(f'template: function "{name}" not defined')


FUNCTIONS = {"json", "join", "index", "upper", "lower", "title", "split", "len", "println",
             "print", "printf", "truncate", "pad", "eq", "ne", "not", "and", "or"}


def _pipeline(tokens: list[str], scope: _Scope) -> Any:
    value: Any = None
    first = True
    for cmd in _split_pipeline(tokens):
        if not cmd:
            raise InvalidArgument("template: missing value for command")
        if cmd[0] in FUNCTIONS:
            args = []
            rest = cmd[1:]
            while rest:
                a, rest = _arg(rest, scope)
                args.append(a)
            if not first:
                args.append(value)
            value = _call(cmd[0], args)
        else:
            value, rest = _arg(cmd, scope)
            if rest:
                raise InvalidArgument(f"template: can't give argument to non-function {cmd[0]}")
        first = False
    return value


def _truthy(v: Any) -> bool:
    return bool(v) and v != 0


_token_cache: dict[str, list[str]] = {}


def _eval_action(action: str, scope: _Scope) -> Any:
    # Once per action, not once per listed object: `ps --format` renders each row.
    tokens = _token_cache.get(action)
    if tokens is None:
        tokens = _token_cache[action] = _tokens(action)
    if len(tokens) == 1 and tokens[0].startswith(".") and len(tokens[0]) > 1:
        return _field(scope.dot, tokens[0])
    if len(tokens) >= 2 and tokens[0].startswith("$") and tokens[1] == ":=":
        value = _pipeline(tokens[2:], scope)
        scope.vars[tokens[0]] = value
        return ""
    return _pipeline(tokens, scope)


def _render(tree: list, scope: _Scope, out: list[str]) -> None:
    for node in tree:
        if isinstance(node, str):
            out.append(node)
        elif node.kind == "print":
            value = _eval_action(node.arg, scope)
            if not (node.arg.split() and node.arg.split()[0].startswith("$") and ":=" in node.arg):
                out.append(value if type(value) is str else go_format(value))
        elif node.kind == "if":
            branch = node.body if _truthy(_eval_action(node.arg, scope)) else node.else_body
            _render(branch, scope, out)
        elif node.kind == "with":
            value = _eval_action(node.arg, scope)
            if _truthy(value):
                _render(node.body, _Scope(value, scope.vars), out)
            else:
                _render(node.else_body, scope, out)
        elif node.kind == "range":
            arg = node.arg
            names: list[str] = []
            if ":=" in arg:
                left, arg = arg.split(":=", 1)
                names = [n.strip() for n in left.split(",")]
            value = _eval_action(arg.strip(), scope)
            items = list(value.items()) if isinstance(value, dict) else \
                list(enumerate(value or []))
            if not items:
                _render(node.else_body, scope, out)
            for key, item in (sorted(items, key=lambda kv: str(kv[0]))
                              if isinstance(value, dict) else items):
                inner = _Scope(item, dict(scope.vars))
                if len(names) == 1:
                    inner.vars[names[0]] = item
                elif len(names) == 2:
                    inner.vars[names[0]], inner.vars[names[1]] = key, item
                _render(node.body, inner, out)


class Template:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = parse(text)

    def render(self, data: Any, root: str | None = None) -> str:
        """root: the Engine API type data is (gotypes.ROOTS), read as the docker CLI
        reads it; a field that type lacks sends the template to the raw JSON."""
        if root is None:
            return self._render(data)
        from darse.cli import gotypes

        try:
            return self._render(gotypes.typed(data, gotypes.ROOTS[root]))
        except gotypes.NoField:
            pass
        _STRICT[0] = True
        try:
            return self._render(data)
        except MissingKey as exc:
            failing = exc.chain[:exc.chain.find("." + exc.name) + 1 + len(exc.name)]
            col = self.text.find(exc.chain) + len(failing) - len(exc.name) - 1
            raise InvalidArgument(f'template: :1:{col}: executing "" at <{exc.chain}>: map '
                                  f'has no entry for key "{exc.name}"') from None
        finally:
            _STRICT[0] = False

    def _render(self, data: Any) -> str:
        out: list[str] = []
        _render(self.tree, _Scope(data, {"$": data}), out)
        return "".join(out)
