"""Words of a Dockerfile instruction as Docker's shell lexer reads them: quotes ('...'
literal, "..." expanding variables), the escape character, and $VAR, ${VAR},
${VAR:-word}, ${VAR:+word}, ${VAR-word}, ${VAR+word} from the build's variables."""

from __future__ import annotations

from darse.errors import InvalidArgument

_NAME_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_NAME = _NAME_START + "0123456789"


class _Lexer:
    def __init__(self, text: str, env: dict[str, str], escape: str) -> None:
        self.text, self.env, self.escape = text, env, escape
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def words(self, split: bool) -> list[str]:
        """The text's words (one word if not split); an unquoted variable whose value
        holds spaces gives several words, as Docker's ProcessWords does."""
        out: list[str] = []
        cur: list[str] = []
        started = False
        while self.pos < len(self.text):
            ch = self.next()
            if split and ch in " \t\r\n":
                if started:
                    out.append("".join(cur))
                    cur, started = [], False
                continue
            started = True
            if ch == "'":
                cur.append(self._until("'"))
            elif ch == '"':
                cur.append(self._double())
            elif ch == self.escape:
                cur.append(self.next())
            elif ch == "$":
                value = self._dollar()
                if split:
                    parts = value.split()
                    if parts and value[:1].isspace() and cur:
                        out.append("".join(cur))
                        cur = []
                    for part in parts[:-1]:
                        cur.append(part)
                        out.append("".join(cur))
                        cur = []
                    if parts:
                        cur.append(parts[-1])
                    if value[-1:].isspace() and parts:
                        out.append("".join(cur))
                        cur, started = [], False
                else:
                    cur.append(value)
            else:
                cur.append(ch)
        if started:
            out.append("".join(cur))
        return out

    def _until(self, end: str) -> str:
        start = self.pos
        found = self.text.find(end, start)
        if found < 0:
            raise InvalidArgument("unexpected end of statement while looking for matching "
                                  "single-quote")
        self.pos = found + 1
        return self.text[start:found]

    def _double(self) -> str:
        cur: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise InvalidArgument("unexpected end of statement while looking for "
                                      "matching double-quote")
            ch = self.next()
            if ch == '"':
                return "".join(cur)
            if ch == "$":
                cur.append(self._dollar())
            elif ch == self.escape and self.peek() in ('"', "$", self.escape):
                cur.append(self.next())
            else:
                cur.append(ch)

    def _name(self) -> str:
        start = self.pos
        if self.peek() and self.peek() in _NAME_START:
            self.pos += 1
            while self.peek() and self.peek() in _NAME:
                self.pos += 1
        return self.text[start:self.pos]

    def _dollar(self) -> str:
        if self.peek() != "{":
            name = self._name()
            return self.env.get(name, "") if name else "$"
        self.pos += 1
        name = self._name()
        if not name:
            raise InvalidArgument(f"bad substitution: {self.text}")
        op = ""
        if self.peek() == ":":
            op = self.next()
        if self.peek() in ("-", "+", "?"):
            op += self.next()
        elif op:
            raise InvalidArgument(f"unsupported modifier ({op}{self.peek()}) in substitution")
        word = self._word_until_brace() if op else ""
        if self.next() != "}":
            raise InvalidArgument(f"missing '}}' in substitution: {self.text}")
        value = self.env.get(name)
        if op in (":-", "-"):
            empty = value is None or (op == ":-" and value == "")
            return word if empty else value or ""
        if op in (":+", "+"):
            has = value is not None and (op == "+" or value != "")
            return word if has else ""
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise InvalidArgument(f"{name}: {word or 'is not allowed to be unset'}")
        return value or ""

    def _word_until_brace(self) -> str:
        cur: list[str] = []
        while self.peek() and self.peek() != "}":
            ch = self.next()
            if ch == "$":
                cur.append(self._dollar())
            elif ch == "'":
                cur.append(self._until("'"))
            elif ch == '"':
                cur.append(self._double())
            elif ch == self.escape and self.peek():
                cur.append(self.next())
            else:
                cur.append(ch)
        return "".join(cur)


def word(text: str, env: dict[str, str], escape: str = "\\") -> str:
    """One word, quotes removed and variables expanded (ENV values, WORKDIR, USER...)."""
    out = _Lexer(text, env, escape).words(split=False)
    return out[0] if out else ""


def words(text: str, env: dict[str, str], escape: str = "\\") -> list[str]:
    """The words of text, split on unquoted blanks (COPY sources, EXPOSE ports...)."""
    return _Lexer(text, env, escape).words(split=True)


def raw_words(text: str) -> list[str]:
    """text split on blanks outside quotes, the quotes kept (ENV/LABEL pairs, before each
    half is expanded)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in " \t":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
            if ch in "'\"":
                quote = ch
            elif ch == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
        i += 1
    if cur:
        out.append("".join(cur))
    return out


def expand_text(text: str, env: dict[str, str]) -> str:
    """$VAR and ${VAR...} in free text (a here-document): no quotes, no word splitting,
    the text kept as it is otherwise."""
    lexer = _Lexer(text, env, "\0")
    out: list[str] = []
    while lexer.pos < len(text):
        ch = lexer.next()
        out.append(lexer._dollar() if ch == "$" else ch)
    return "".join(out)
