"""Parse keyword rules and match them against articles, all rules in one automaton pass.

A query is terms, "quoted phrases", ``AND``/``OR``/``NOT``, parentheses, a trailing ``*`` for a
prefix, ``title:`` to look in the title only, and ``place:NAME`` / ``org:NAME`` for a place or
organisation the article names (the caller passes those names; any alias may be given).
Every distinct word sequence of every rule goes into one Aho-Corasick automaton over the folded
words of an article, so matching an article costs one scan of its title and one of its text,
then only the rules that a found term can make hold are evaluated: the cost follows the terms
found, not the number of rules. Snippets are cut only when read. Matching is pure: no
database, no network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, repeat
from operator import attrgetter
from typing import NamedTuple

import ahocorasick_rs

from monitor.snippets import merged_spans, snippet
from storage.textfold import Words, tokens

__all__ = ["Hit", "RuleSet", "RuleSpec", "RuleSyntaxError", "parse_query", "snippet"]

MAX_SNIPPETS = 5
_KEYWORDS = {"AND", "OR", "NOT"}
_SCOPE = "title:"
_ENTITY_SCOPES = ("place:", "org:")  # kinds of names an article carries besides its words
_BARE_END = re.compile(r"[\s()\"]")


class RuleSyntaxError(ValueError):
    """A query that cannot be parsed; `position` is the 1-based column of the culprit."""

    def __init__(self, rule: str, position: int, message: str) -> None:
        super().__init__(f"rule {rule!r}: position {position}: {message}")
        self.rule = rule
        self.position = position
        self.message = message


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A named query; `sources` limits it to those sources (None: every source)."""

    name: str
    query: str
    sources: tuple[str, ...] | None = None


class Hit:
    """A rule that matched an article: the query's terms found and text around them.

    `snippets` may be given as a function that cuts them, called on first read. Matching
    makes `_Found` hits, which work out their terms on first read too: an article hits dozens
    of rules, and describing every hit cost more than the matching itself.
    """

    __slots__ = ("_snippets", "_terms", "_words", "rule")

    def __init__(
        self,
        rule: str,
        terms: tuple[str, ...],
        snippets: tuple[str, ...] | Callable[[], tuple[str, ...]],
        words: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
    ) -> None:
        self.rule = rule
        self._terms = terms
        self._snippets = snippets
        self._words = words

    @property
    def terms(self) -> tuple[str, ...]:
        return self._terms

    @property
    def words(self) -> tuple[str, ...]:
        """The words found for the terms, as the article writes them (``Terrorismus`` for
        ``terror*``); a ``place:``/``org:`` term gives its name."""
        if callable(self._words):
            self._words = self._words()
        return self._words

    @property
    def snippets(self) -> tuple[str, ...]:
        if callable(self._snippets):
            self._snippets = self._snippets()
        return self._snippets

    def _key(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return self.rule, self.terms, self.snippets

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Hit(rule={self.rule!r}, terms={self.terms!r}, snippets={self.snippets!r})"


# --- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """A word, phrase or prefix; `pattern` is its key in the automaton."""

    text: str
    words: tuple[str, ...]
    prefix: bool
    position: int
    title: bool = False
    entity: str | None = None  # "place" or "org": a name the article carries, not a word

    @property
    def pattern(self) -> str:
        if self.entity:  # never found by the automaton: text patterns start with a space
            return entity_pattern(self.entity, self.words)
        joined = " " + " ".join(self.words)
        return joined if self.prefix else joined + " "


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    position: int


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or


# --- lexer -------------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # "(", ")", "AND", "OR", "NOT", "SCOPE", "ENTITY", "WORD", "PHRASE"
    value: str
    position: int  # 0-based offset in the query


def _lex(query: str, rule: str) -> list[_Token]:
    found: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            found.append(_Token(char, char, i))
            i += 1
        elif char == '"':
            i = _lex_phrase(query, i, rule, found)
        elif query[i : i + len(_SCOPE)].lower() == _SCOPE:
            found.append(_Token("SCOPE", _SCOPE, i))
            i += len(_SCOPE)
        elif scope := _entity_scope(query, i):
            found.append(_Token("ENTITY", scope, i))
            i += len(scope)
        else:
            i = _lex_bare(query, i, found)
    return found


def operator_lookalikes(query: str) -> list[tuple[int, str]]:
    """(1-based column, word) of each ``and``, ``or`` or ``not`` not written in capitals:
    the parser reads it as a word to find, which is rarely what its writer meant."""
    try:
        found = _lex(query, "query")
    except RuleSyntaxError:
        return []
    return [
        (token.position + 1, token.value)
        for before, token in zip([None, *found], found, strict=False)
        if token.kind == "WORD"
        and token.value.upper() in _KEYWORDS
        and (before is None or before.kind not in {"SCOPE", "ENTITY"})
    ]


# ``name:`` opening a word, as a field would, but no URL's scheme (``http://``); or a word
# that is ``name:`` alone, before a group or a phrase
_FIELD_LIKE = re.compile(r"([^\W\d_]+):(?!//)(?=[^\s:)])")
_FIELD_ALONE = re.compile(r"([^\W\d_]+):")


def field_lookalikes(query: str) -> list[tuple[int, str]]:
    """(1-based column, name) of each word written as a field that is none: the parser reads
    ``text:Dushanbe`` as the words "text dushanbe", and ``text:(a OR b)`` as "text" AND the
    group. A word inside a field's own value (``title:covid:19``, ``place:x:y``) is none."""
    try:
        found = _lex(query, "query")
    except RuleSyntaxError:
        return []
    named = []
    for at, token in enumerate(found):
        before = found[at - 1] if at else None
        after = found[at + 1] if at + 1 < len(found) else None
        if token.kind != "WORD" or (before is not None and before.kind in {"SCOPE", "ENTITY"}):
            continue
        field = _FIELD_LIKE.match(token.value)
        if field is None and after is not None and after.kind in {"(", "PHRASE"}:
            field = _FIELD_ALONE.fullmatch(token.value)
        if field is not None:
            named.append((token.position + 1, field.group(1)))
    return named


def _entity_scope(query: str, start: int) -> str | None:
    return next((s for s in _ENTITY_SCOPES if query[start : start + len(s)].lower() == s), None)


def _lex_phrase(query: str, start: int, rule: str, found: list[_Token]) -> int:
    end = query.find('"', start + 1)
    if end < 0:
        raise RuleSyntaxError(rule, start + 1, "unterminated quote")
    found.append(_Token("PHRASE", query[start + 1 : end], start))
    return end + 1


def _lex_bare(query: str, start: int, found: list[_Token]) -> int:
    stop = _BARE_END.search(query, start)
    end = stop.start() if stop else len(query)
    value = query[start:end]
    found.append(_Token(value if value in _KEYWORDS else "WORD", value, start))
    return end


# --- parser ------------------------------------------------------------------------------------

_OPERAND_START = {"WORD", "PHRASE", "(", "NOT", "SCOPE", "ENTITY"}
MAX_NESTING = 50


@dataclass
class _Parser:
    """Recursive descent with precedence NOT > AND > OR; adjacent operands mean AND."""

    rule: str
    items: list[_Token]
    at: int = 0
    depth: int = 0  # groups, NOTs and title: scopes open around the current token

    def deeper(self, token: _Token) -> None:
        """One more level, refused past MAX_NESTING: deeper would exhaust Python's stack (a
        traceback, a web page's 500) and no rule a person writes needs it."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(token, f"nested more than {MAX_NESTING} levels deep")

    def peek(self) -> _Token | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> _Token:
        token = self.items[self.at]
        self.at += 1
        return token

    def fail(self, token: _Token, message: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.rule, token.position + 1, message)

    def operand_after(self, operator: _Token) -> None:
        """Raise at `operator` unless an operand follows it."""
        following = self.peek()
        if following is None or following.kind not in _OPERAND_START:
            scoped = operator.kind in {"SCOPE", "ENTITY"}
            name = operator.value if scoped else repr(operator.value)
            raise self.fail(operator, f"{name} needs a term after it")

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.operand_after(token)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (token := self.peek()) is not None and token.kind in _OPERAND_START | {"AND"}:
            if token.kind == "AND":
                self.take()
                self.operand_after(token)
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        token = self.take()
        if token.kind == "NOT":
            self.operand_after(token)
            self.deeper(token)
            negated = Not(self.parse_unary(), token.position + 1)
            self.depth -= 1
            return negated
        if token.kind == "SCOPE":
            following = self.peek()
            if (
                following is None
                or following.position != token.position + len(_SCOPE)
                or following.kind not in {"WORD", "PHRASE", "("}
            ):
                raise self.fail(token, "title: needs a term, phrase or group right after it")
            self.deeper(token)
            scoped = _in_title(self.parse_unary())
            self.depth -= 1
            return scoped
        if token.kind == "ENTITY":
            return self.parse_entity(token)
        return self.parse_primary(token)

    def parse_entity(self, scope: _Token) -> Term:
        """``place:NAME`` or ``org:"MULTI WORD NAME"``: a whole name, never a prefix."""
        name = self.peek()
        if (
            name is None
            or name.position != scope.position + len(scope.value)
            or name.kind not in {"WORD", "PHRASE"}
        ):
            raise self.fail(scope, f"{scope.value} needs a name right after it")
        self.take()
        maker = _phrase if name.kind == "PHRASE" else _term
        term = maker(name.value, name.position, self.rule)
        if term.prefix:
            raise self.fail(scope, f"{scope.value} takes a whole name, not a prefix")
        kind = scope.value.removesuffix(":")
        text = f'"{term.text}"' if name.kind == "PHRASE" else term.text
        return replace(term, entity=kind, text=f"{kind}:{text}", position=scope.position + 1)

    def parse_primary(self, token: _Token) -> Node:
        if token.kind == "(":
            return self.parse_group(token)
        if token.kind == "WORD":
            return _term(token.value, token.position, self.rule)
        if token.kind == "PHRASE":
            return _phrase(token.value, token.position, self.rule)
        if token.kind == ")":
            raise self.fail(token, "unmatched ')'")
        raise self.fail(token, f"{token.value!r} needs a term before it")

    def parse_group(self, opening: _Token) -> Node:
        following = self.peek()
        if following is not None and following.kind == ")":
            raise self.fail(opening, "empty parentheses")
        if following is None:
            raise self.fail(opening, "unclosed '('")
        self.deeper(opening)
        inner = self.parse_or()
        self.depth -= 1
        closing = self.peek()
        if closing is None or closing.kind != ")":
            raise self.fail(opening, "unclosed '('")
        self.take()
        return inner


def _in_title(node: Node) -> Node:
    """Scope every term under `node` to the title."""
    if isinstance(node, Term):
        return node if node.entity else replace(node, title=True)
    if isinstance(node, Not):
        return replace(node, child=_in_title(node.child))
    return replace(node, children=tuple(_in_title(child) for child in node.children))


def _term(value: str, position: int, rule: str) -> Term:
    """A bare term; several words in it (``counter-terrorism``) match as a phrase."""
    words, prefix = _words(value, position, rule)
    if not words:
        raise RuleSyntaxError(rule, position + 1, f"term {value!r} has no letters or digits")
    return Term(value, words, prefix, position + 1)


def _phrase(value: str, position: int, rule: str) -> Term:
    words, prefix = _words(value, position + 1, rule)
    if not words:
        raise RuleSyntaxError(rule, position + 1, "empty phrase")
    return Term(" ".join(value.split()), words, prefix, position + 1)


def _words(value: str, offset: int, rule: str) -> tuple[tuple[str, ...], bool]:
    """Fold `value` (which starts at 0-based `offset` in the query) into words and a prefix flag."""
    star = value.find("*")
    if 0 <= star < len(value.rstrip()) - 1:
        raise RuleSyntaxError(rule, offset + star + 1, "'*' is only allowed at the end")
    stem = value.rstrip()
    prefix = stem.endswith("*")
    stem = stem.removesuffix("*")
    found = tokens(stem)
    if prefix and (not found or found[-1].end != len(stem)):
        raise RuleSyntaxError(rule, offset + len(stem) + 1, "'*' needs a word right before it")
    return tuple(token.word for token in found), prefix


def parse_query(query: str, rule: str = "query") -> Node:
    """Parse `query` into a tree; raise RuleSyntaxError naming `rule` and the column at fault."""
    parser = _Parser(rule, _lex(query, rule))
    if not parser.items:
        raise RuleSyntaxError(rule, 1, "empty query")
    tree = parser.parse_or()
    leftover = parser.peek()
    if leftover is not None:
        raise parser.fail(leftover, "unmatched ')'")
    if _holds(tree, frozenset(), frozenset()):
        raise RuleSyntaxError(
            rule, _negative_position(tree), "a rule needs at least one positive term"
        )
    return tree


def _negative_position(node: Node) -> int:
    """The column of the NOT that lets `node` match an article without any of its terms."""
    if isinstance(node, Not):
        return node.position
    if isinstance(node, Term):
        return node.position
    empty: frozenset[str] = frozenset()
    child = next(c for c in node.children if _holds(c, empty, empty))
    return _negative_position(child)


# --- evaluation --------------------------------------------------------------------------------


def _holds(node: Node, title: frozenset[str], anywhere: frozenset[str]) -> bool:
    """Evaluate `node` given the patterns found in the title and in title-or-text."""
    if isinstance(node, Term):
        return node.pattern in (title if node.title else anywhere)
    if isinstance(node, Not):
        return not _holds(node.child, title, anywhere)
    if isinstance(node, And):
        return all(_holds(child, title, anywhere) for child in node.children)
    return any(_holds(child, title, anywhere) for child in node.children)


def query_terms(node: Node) -> list[Term]:
    """Every term of a parsed query, in query order."""
    return [term for term, _ in _terms(node)]


def _terms(node: Node, positive: bool = True) -> Iterator[tuple[Term, bool]]:
    """Every term in query order with whether it counts for the rule (not negated)."""
    if isinstance(node, Term):
        yield node, positive
    elif isinstance(node, Not):
        yield from _terms(node.child, not positive)
    else:
        for child in node.children:
            yield from _terms(child, positive)


# A compiled query: given the keys found in an article (see `_key`), does it hold?
_Check = Callable[[frozenset[str]], bool]
_IN_TITLE = "title:"  # before a pattern found in the title; no pattern starts so


def _key(term: Term) -> str:
    """What finding `term` adds to the keys of an article: its pattern, marked as found in
    the title if it must be there. One set of keys lets every test be one set operation."""
    return _IN_TITLE + term.pattern if term.title else term.pattern


def _found_keys(title: frozenset[str], anywhere: frozenset[str]) -> frozenset[str]:
    """The keys of an article whose title holds the patterns `title`."""
    return anywhere.union(map(_IN_TITLE.__add__, title))


def _checker(node: Node) -> _Check:
    """`_holds` for one tree, with its keys worked out once: matching evaluates every
    candidate rule of every article, and rebuilding pattern strings there cost more than the
    automaton scan."""
    if isinstance(node, Term):
        key = _key(node)
        return lambda found: key in found
    if isinstance(node, Not):
        inner = _checker(node.child)
        return lambda found: not inner(found)
    if isinstance(node, And):
        return _all_of(node.children)
    return _any_of(node.children)


def _all_of(children: tuple[Node, ...]) -> _Check:
    """AND, with its terms, and those under ``NOT term`` or ``NOT (term OR …)``, tested as
    two set operations in one call: a Python call per node cost more than the tests."""
    needed: set[str] = set()
    barred: set[str] = set()
    parts: list[_Check] = []
    for child in children:
        if isinstance(child, Term):
            needed.add(_key(child))
        elif negated := _negated_terms(child):
            barred.update(map(_key, negated))
        else:
            parts.append(_checker(child))
    need, bar = frozenset(needed), frozenset(barred)
    if not parts:
        return lambda found: need <= found and bar.isdisjoint(found)
    rest = _every(parts)
    return lambda found: need <= found and bar.isdisjoint(found) and rest(found)


def _any_of(children: tuple[Node, ...]) -> _Check:
    """OR, with its terms tested as one set operation."""
    some = frozenset(_key(child) for child in children if isinstance(child, Term))
    parts = [_checker(child) for child in children if not isinstance(child, Term)]
    if not parts:
        return lambda found: not some.isdisjoint(found)
    rest = _some(parts)
    return lambda found: not some.isdisjoint(found) or rest(found)


def _every(parts: list[_Check]) -> _Check:
    if len(parts) == 1:
        return parts[0]
    return lambda found: all([part(found) for part in parts])


def _some(parts: list[_Check]) -> _Check:
    if len(parts) == 1:
        return parts[0]
    return lambda found: any([part(found) for part in parts])


def _negated_terms(node: Node) -> list[Term]:
    """The terms `node` excludes if it is ``NOT term`` or ``NOT (term OR …)``, else none."""
    if not isinstance(node, Not):
        return []
    inner = node.child.children if isinstance(node.child, Or) else (node.child,)
    terms = [term for term in inner if isinstance(term, Term)]
    return terms if len(terms) == len(inner) else []


def _keys(node: Node) -> frozenset[str] | None:
    """Keys of which `node` cannot hold without finding one: all those under an OR, the
    fewest of any operand under an AND; None where there are none to name (under NOT).
    Indexing a rule under these alone spares evaluating it for an article that has only its
    other terms, such as the second operand of ``a AND (b OR c)``."""
    if isinstance(node, Term):
        return frozenset({_key(node)})
    if isinstance(node, Not):
        return None
    found = [keys for keys in map(_keys, node.children) if keys is not None]
    if isinstance(node, Or):
        return frozenset().union(*found) if len(found) == len(node.children) else None
    return min(found, key=_commonness, default=None)


def _commonness(keys: frozenset[str]) -> tuple[int, int]:
    """How often `keys` may be expected in an article: more terms are found more often, and
    so are shorter ones (the commonest words are short, and a phrase is longer than any of
    its words)."""
    return len(keys), -min(map(len, keys))


def _decided_by_finding(node: Node) -> bool:
    """Whether a rule that is a candidate (see `_Rule.keys`) holds without evaluation: one
    term, or terms joined by OR, as many rules are."""
    children = node.children if isinstance(node, Or) else (node,)
    return all(isinstance(child, Term) for child in children)


class _Positive(NamedTuple):
    """A term that counts for the rule, as `_hit` needs it."""

    text: str
    pattern: str
    title: bool
    entity: bool


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: sets of candidates
class _Rule:
    number: int  # its place among the rules, the order of hits
    name: str
    check: _Check | None  # None: it holds whenever it is a candidate (`_decided_by_finding`)
    sources: frozenset[str] | None
    positive: tuple[_Positive, ...]
    patterns: frozenset[str]  # every pattern of the query, for the automaton
    keys: frozenset[str]  # keys of which the rule cannot hold without one


def _compile_rule(number: int, spec: RuleSpec) -> _Rule:
    tree = parse_query(spec.query, spec.name)
    found = list(_terms(tree))
    positive = tuple(
        _Positive(term.text, term.pattern, term.title, term.entity is not None)
        for term, counts in found
        if counts
    )
    sources = frozenset(spec.sources) if spec.sources is not None else None
    patterns = frozenset(t.pattern for t, _ in found)
    # A rule holds only if a term that counts for it is found: `parse_query` rejects rules
    # that hold for an empty article, and a negated term found only counts against.
    keys = _keys(tree) or frozenset(_key(term) for term, counts in found if counts)
    check = None if _decided_by_finding(tree) else _checker(tree)
    return _Rule(number, spec.name, check, sources, positive, patterns, keys)


@dataclass
class _Scan:
    """One field of an article after the automaton pass: the patterns found in it."""

    words: Words
    found: frozenset[str]
    snippets: dict[str, str] = field(default_factory=dict)  # pattern → its snippet, once cut

    def snippet(self, pattern: str) -> str:
        """The snippet around the first occurrence of `pattern`, worked back to the original
        text only now: most patterns found serve no snippet, and many rules share a term."""
        cut = self.snippets.get(pattern)
        if cut is None:
            cut = self.snippets[pattern] = snippet(self.words.text, *self.span(pattern))
        return cut

    def span(self, pattern: str) -> tuple[int, int]:
        """Where the first occurrence of `pattern` stands in the original text."""
        count = pattern.count(" ") - pattern.endswith(" ")
        # The automaton's first match of a pattern is where `find` finds it.
        return self.words.span(self.words.joined.find(pattern), count)

    def written(self, pattern: str) -> str:
        """The first occurrence of `pattern` as the text writes it."""
        start, end = self.span(pattern)
        return " ".join(self.words.text[start:end].split())


class RuleSet:
    """All rules compiled together into one automaton and an index key → rules."""

    def __init__(self, rules: list[_Rule], automaton: ahocorasick_rs.AhoCorasick | None) -> None:
        self._rules = rules
        self._automaton = automaton
        self._index = _index(rules)

    @classmethod
    def compile(cls, specs: Iterable[RuleSpec]) -> RuleSet:
        """Parse every rule (raising RuleSyntaxError on the first bad one) and build the index."""
        rules = [_compile_rule(number, spec) for number, spec in enumerate(specs)]
        patterns = {pattern for rule in rules for pattern in rule.patterns}
        if not patterns:
            return cls(rules, None)
        return cls(rules, ahocorasick_rs.AhoCorasick(sorted(patterns)))

    def __len__(self) -> int:
        return len(self._rules)

    def match(
        self,
        *,
        title: str,
        text: str,
        source: str | None = None,
        places: Iterable[str] = (),
        organisations: Iterable[str] = (),
    ) -> list[Hit]:
        """The rules the article satisfies, in rule order; `places` and `organisations` are
        the names it carries, for ``place:`` and ``org:``. Snippets are cut when read."""
        if self._automaton is None:
            return []
        in_title, in_text = self._scan(title), self._scan(text)
        named = _named(places, organisations)
        found = _found_keys(in_title.found, in_title.found | in_text.found | named)
        holding = [
            rule
            for rule in self._candidates(found)
            if (source is None or rule.sources is None or source in rule.sources)
            and (rule.check is None or rule.check(found))
        ]
        holding.sort(key=_NUMBER)  # the candidates unsorted: more of them than hold
        article = _Article(in_title, in_text, named)
        return [_Found(rule, article) for rule in holding]

    def _candidates(self, found: frozenset[str]) -> set[_Rule]:
        """The rules that a found key can make hold."""
        return set(chain.from_iterable(map(self._index.get, found, repeat(()))))

    def _scan(self, text: str) -> _Scan:
        """One automaton pass over the folded words of `text`, without a Python-level step
        per match: common words occur hundreds of times in a long article."""
        assert self._automaton is not None
        words = Words(text)
        found = self._automaton.find_matches_as_strings(words.joined, overlapping=True)
        return _Scan(words, frozenset(found))


def _index(rules: list[_Rule]) -> dict[str, tuple[_Rule, ...]]:
    """Key → the rules that finding it makes candidates. Rules, not their numbers: matching
    reads each candidate anyway, and an int object apart from it costs one more cache miss."""
    index: dict[str, list[_Rule]] = {}
    for rule in rules:
        for key in rule.keys:
            index.setdefault(key, []).append(rule)
    return {key: tuple(found) for key, found in index.items()}


_NUMBER = attrgetter("number")


def entity_pattern(kind: str, words: Iterable[str]) -> str:
    return f"{kind}:{' '.join(words)}"


def _named(places: Iterable[str], organisations: Iterable[str]) -> frozenset[str]:
    """The entity patterns an article's place and organisation names satisfy."""
    return frozenset(
        entity_pattern(kind, (token.word for token in tokens(name)))
        for kind, names in (("place", places), ("org", organisations))
        for name in names
    )


class _Article(NamedTuple):
    """What matching found in one article, as its hits describe themselves from it."""

    title: _Scan
    text: _Scan
    named: frozenset[str]


class _Found(Hit):
    """A hit as matching makes it: its terms are named, and where to cut its snippets said,
    when first read (`_describe`)."""

    __slots__ = ("_article", "_of")

    def __init__(self, rule: _Rule, article: _Article) -> None:
        self.rule = rule.name
        self._of: _Rule | None = rule  # until described
        self._article = article

    @property
    def terms(self) -> tuple[str, ...]:
        if self._of is not None:
            self._describe(self._of)
        return self._terms

    @property
    def snippets(self) -> tuple[str, ...]:
        if self._of is not None:
            self._describe(self._of)
        return super().snippets

    @property
    def words(self) -> tuple[str, ...]:
        if self._of is not None:
            self._describe(self._of)
        return super().words

    def _describe(self, rule: _Rule) -> None:
        terms, found, names = self._described(rule)
        self._terms = terms
        self._snippets = partial(_cut, found)
        self._words = partial(_written, found, names)
        self._of = None  # only once all are set

    def _described(self, rule: _Rule) -> tuple[tuple[str, ...], list[_At], list[str]]:
        """The terms found, where each found in the text is, and the names found."""
        in_title, in_text, named = self._article
        if len(rule.positive) == 1 and not rule.positive[0].entity:
            # As the rule holds, its one term that counts is found: nothing to look up but where.
            text, pattern, title, _ = rule.positive[0]
            scan = in_text if not title and pattern in in_text.found else in_title
            return (text,), [(scan, pattern)], []
        terms: list[str] = []
        found: list[_At] = []
        names: list[str] = []
        for text, pattern, title, entity in rule.positive:
            if text in terms:
                continue
            if entity:  # a name, not a place in the text: no snippet
                if pattern in named:
                    terms.append(text)
                    names.append(text.partition(":")[2].strip('"'))
                continue
            if not title and pattern in in_text.found:
                scan = in_text
            elif pattern in in_title.found:
                scan = in_title
            else:
                continue
            terms.append(text)
            found.append((scan, pattern))
        return tuple(terms), found, names


_At = tuple[_Scan, str]  # a pattern found in a field of the article


def _cut(found: list[_At]) -> tuple[str, ...]:
    """One snippet per stretch of text: terms whose snippets would overlap share one."""
    if len(found) == 1:
        scan, pattern = found[0]
        return (scan.snippet(pattern),)
    cut: list[str] = []
    scans: list[_Scan] = []  # the fields, in order of first use (a _Scan is not hashable)
    for scan, _ in found:
        if all(scan is not seen for seen in scans):
            scans.append(scan)
    for scan in scans:
        spans = merged_spans(scan.span(pattern) for at, pattern in found if at is scan)
        cut += [snippet(scan.words.text, start, end) for start, end in spans]
    return tuple(dict.fromkeys(cut))[:MAX_SNIPPETS]


def _written(found: list[_At], names: list[str]) -> tuple[str, ...]:
    """The words found, as written, each once (whatever its case), then the names found."""
    written: dict[str, str] = {}
    for scan, pattern in found:
        word = scan.written(pattern)
        written.setdefault(word.casefold(), word)
    return (*written.values(), *names)
