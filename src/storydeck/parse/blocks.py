"""markdown-it tokens -> a tree of blocks that keep their tokens and line numbers.

The story finder works on blocks (a heading, a paragraph, a list item...) rather
than on the flat token stream; each block keeps its own slice of tokens so its
HTML is rendered from what was parsed once, never by parsing its text again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MethodType
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, isMdAsciiPunct, isPunctChar, isWhiteSpace
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore, normalize, text_join
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

#: Block kinds.
HEADING = "heading"
PARAGRAPH = "paragraph"
LIST = "list"
ITEM = "item"
FENCE = "fence"
RULE = "rule"
TABLE = "table"
QUOTE = "quote"
HTML = "html"


@cache
def markdown(allow_html: bool = False) -> MarkdownIt:
    """The one markdown-it instance per HTML setting: CommonMark plus tables, with
    plain lines made into text tokens by `_inline`."""
    md = stock_markdown(allow_html)
    stock = stock_markdown(allow_html)  # what each shortcut is checked against
    if (
        tuple(md.inline.ruler.get_active_rules()) == _INLINE_RULES
        and tuple(md.inline.ruler2.get_active_rules()) == _INLINE_AFTER
    ):
        bold = all(_bold_line(line) == stock.parseInline(line)[0].children for line in _BOLD_PROBES)
        md.core.ruler.at("inline", _inline_with_bold if bold else _inline)
    if tuple(md.core.ruler.get_active_rules()) == _CORE_RULES:
        md.core.ruler.at("normalize", _normalize)
        md.core.ruler.at("text_join", _text_join)
        if any(md.parse(probe) != stock.parse(probe) for probe in _CORE_PROBES):
            md.core.ruler.at("normalize", normalize)
            md.core.ruler.at("text_join", text_join)
    rules = [(rule.name, rule.fn) for rule in md.block.ruler.__rules__ if rule.enabled]
    if tuple(name for name, _ in rules) == _BLOCK_RULES:
        md.block.tokenize = MethodType(_BlockRules(rules), md.block)  # type: ignore[method-assign]
        if any(md.parse(probe) != stock.parse(probe) for probe in _BLOCK_PROBES):
            del md.block.tokenize  # back to markdown-it's own
    return md


def stock_markdown(allow_html: bool = False) -> MarkdownIt:
    """A new markdown-it as storydeck sets it up, with markdown-it's own inline rule."""
    md = MarkdownIt("commonmark", {"html": allow_html, "typographer": False})
    md.enable("table")
    md.use(front_matter_plugin)
    return md


#: The inline rules _inline knows, as this markdown-it's CommonMark preset has them;
#: with any others the inline parse is left as it is.
_INLINE_RULES = (
    "text",
    "newline",
    "escape",
    "backticks",
    "emphasis",
    "link",
    "image",
    "autolink",
    "html_inline",
    "entity",
)
_INLINE_AFTER = ("balance_pairs", "emphasis", "fragments_join")

#: Where an inline rule other than plain text may start (a line break, an escape, a
#: code span, emphasis, a link or image, an autolink or HTML tag, an entity), and the
#: brackets, which close them.
_MARKUP = re.compile(r"[\n\\`*_\[\]!<>&]")


def _inline(state: Any, *, bold: bool = False) -> None:
    """The core rule that parses each inline token's content into its children.

    Most lines of a note are plain words, numbers and punctuation: no character of
    theirs can start any inline rule but plain text, so markdown-it would hand back
    one text token holding the whole line. That token is made here, without starting
    the inline parser; so are, with `bold`, the tokens of a plain line that opens
    with a bold phrase (see `_bold_line`). Every other line goes through the parser.
    """
    md = state.md
    for token in state.tokens:
        if token.type != "inline":
            continue
        if token.children is None:
            token.children = []
        content = token.content
        if _MARKUP.search(content) is None:
            if content:
                token.children.append(Token("text", "", 0, content=content))
            continue
        made = _bold_line(content) if bold and content.startswith("**") else None
        if made is not None:
            token.children.extend(made)
        else:
            md.inline.parse(content, md, state.env, token.children)


def _inline_with_bold(state: Any) -> None:
    _inline(state, bold=True)


#: The core rules `_normalize` and `_text_join` stand in for, with the ones between.
_CORE_RULES = ("normalize", "block", "inline", "text_join")
_CORE_PROBES = ("a\r\nb\rc\0d\n\n\\*e\\* **f** &amp; `g`\n", "plain\n\n**Bold** rest\n")


def _normalize(state: Any) -> None:
    """markdown-it's `normalize` (every line ending made `\\n`, NUL made U+FFFD), without
    rewriting a text that has neither: a note read from a file never does."""
    src = state.src
    if "\r" in src:
        src = src.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in src:
        src = src.replace("\0", "\ufffd")
    state.src = src


def _text_join(state: Any) -> None:
    """markdown-it's `text_join` (escaped characters joined to the text around them),
    given only the inline tokens with more than one plain text token to look at."""
    joined = [
        token
        for token in state.tokens
        if token.type == "inline"
        and token.children
        and (len(token.children) > 1 or token.children[0].type != "text")
    ]
    if joined:
        text_join(StateCore("", state.md, state.env, joined))


#: `**Bold phrase** rest of the line`, with no other markup character in either part.
_BOLD_LINE = re.compile(r"\*\*([^\n\\`*_\[\]!<>&]+)\*\*([^\n\\`*_\[\]!<>&]*)")
#: Lines the tokens of `_bold_line` are checked against markdown-it's own, once per
#: setup: where this markdown-it makes other tokens of them, the shortcut is not used.
_BOLD_PROBES = ("**Led the fix** — on call.", "**Result:** 40% fewer pages", "**Done**")


def _bold_line(content: str) -> list[Token] | None:
    """The inline tokens markdown-it makes of a line that is a bold phrase and plain text
    after it (`**Cut the cycle** — then ...`); None for any other line.

    Each `**` is a delimiter run: the first can open when the phrase does not start
    with a space, and the second can close when the phrase does not end with one and,
    ending with punctuation, is followed by a space, punctuation or the line's end
    (CommonMark's flanking rules, as markdown-it reads them). Then the two make one
    strong span: markdown-it leaves an empty text token where each outer `*` was, the
    closing one joined to the text after it.
    """
    match = _BOLD_LINE.fullmatch(content)
    if match is None:
        return None
    phrase, rest = match.group(1), match.group(2)
    last, after = phrase[-1], rest[:1] or " "
    if isWhiteSpace(ord(phrase[0])) or isWhiteSpace(ord(last)):
        return None
    if _punctuation(last) and not (isWhiteSpace(ord(after)) or _punctuation(after)):
        return None
    return [
        Token("text", "", 0, content=""),
        Token("strong_open", "strong", 1, markup="**"),
        Token("text", "", 0, level=1, content=phrase),
        Token("strong_close", "strong", -1, markup="**"),
        Token("text", "", 0, content=rest),
    ]


def _punctuation(char: str) -> bool:
    return isMdAsciiPunct(ord(char)) or isPunctChar(char)


#: The block rules `_BlockRules` knows, in markdown-it's order (front matter first).
_BLOCK_RULES = (
    "front_matter",
    "table",
    "code",
    "fence",
    "blockquote",
    "hr",
    "list",
    "reference",
    "html_block",
    "heading",
    "lheading",
    "paragraph",
)
#: The rules that only match a line whose first character (after the block's indent)
#: is one of these: each of them looks at that character before anything else it
#: could match. Front matter only ever starts the first line.
_LEADS = {
    "fence": "~`",
    "blockquote": ">",
    "hr": "*-_",
    "list": "*-+0123456789",
    "reference": "[",
    "html_block": "<",
    "heading": "#",
}
#: Notes the dispatch is checked on against markdown-it's own, once per setup.
_BLOCK_PROBES = (
    "---\ntitle: x\n---\n\n## Situation\nText.\n\n## Action\n1. **Step** — detail\n"
    "   - nested\n2. Two\n\n---\n\n> **Result:** 40%\n\n```\nSituation: a\n```\n",
    "- a--\n  ---\n\nTitle\n=====\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[x]: /u\n\n"
    "<div>\n*x*\n</div>\n\n    code\n\n* * *\n#no\n### Q?\nA.\n",
)


class _BlockRules:
    """markdown-it's block tokenizer, trying at each line only the rules that can start
    with that line's first character (see `_LEADS`) instead of every rule in turn.

    The loop is markdown-it's: skip empty lines, stop below the block's indent or at
    the nesting limit, let the first rule that matches take its lines, and note an
    empty line for the next block's tightness. Nested blocks (list items, quotes) come
    back through it.
    """

    def __init__(self, rules: list[tuple[str, Any]]) -> None:
        self.first = tuple(fn for _, fn in rules)
        self.other = tuple(
            fn for name, fn in rules if name not in _LEADS and name != "front_matter"
        )
        self.by_lead = {
            lead: tuple(
                fn
                for name, fn in rules
                if name != "front_matter" and (name not in _LEADS or lead in _LEADS[name])
            )
            for lead in set("".join(_LEADS.values()))
        }

    def __call__(self, _parser: Any, state: Any, start: int, end: int) -> None:
        """Tokenize lines `start` to `end` of `state` (bound to the block parser)."""
        line = start
        nesting = state.md.options.maxNesting
        empty_before = False
        src, by_lead, other = state.src, self.by_lead, self.other
        while line < end:
            state.line = line = state.skipEmptyLines(line)
            if line >= end or state.sCount[line] < state.blkIndent:
                break
            if state.level >= nesting:
                state.line = end
                break
            if line == 0:
                rules = self.first
            else:
                at = state.bMarks[line] + state.tShift[line]
                rules = by_lead.get(src[at], other) if at < len(src) else other
            for rule in rules:
                if rule(state, line, end, False):
                    if state.line <= line:
                        raise RuntimeError("block rule didn't increment state.line")
                    break
            else:
                raise RuntimeError("none of the block rules matched")
            state.tight = not empty_before
            line = state.line
            if line - 1 < end and state.isEmpty(line - 1):
                empty_before = True
            if line < end and state.isEmpty(line):
                empty_before = True
                line += 1
                state.line = line


@dataclass(slots=True, eq=False)
class Block:
    """One block of a note. `line` is 1-based and already includes any offset."""

    kind: str
    line: int
    end: int
    tokens: list[Token]
    inline: Token | None = None
    level: int = 0
    children: list[Block] = field(default_factory=list)
    ordered: bool = False
    content: str = ""
    info: str = ""
    #: For a list item: the line of the list it belongs to.
    owner: int = 0
    #: Its plain text, once `block_plain` has worked it out.
    plain: str | None = None

    @property
    def text(self) -> str:
        """The markdown source of a heading or paragraph (inline content)."""
        return self.inline.content if self.inline is not None else ""

    def walk(self) -> Iterator[Block]:
        yield self
        for child in self.children:
            yield from child.walk()


_CONTAINERS = {
    "bullet_list_open": LIST,
    "ordered_list_open": LIST,
    "list_item_open": ITEM,
    "blockquote_open": QUOTE,
    "table_open": TABLE,
}


def _closes(tokens: Sequence[Token]) -> list[int]:
    """For each token that opens something, the index of the token that closes it (the
    last index when nothing does); other tokens get their own index."""
    closes = list(range(len(tokens)))
    opened: list[int] = []
    for index, token in enumerate(tokens):
        if token.nesting == 1:
            opened.append(index)
        elif token.nesting == -1 and opened:
            closes[opened.pop()] = index
    for index in opened:
        closes[index] = len(tokens) - 1
    return closes


def to_blocks(tokens: Sequence[Token], offset: int = 0) -> list[Block]:
    """Group a token stream into blocks. `offset` is added to every line number."""
    return _blocks(tokens, _closes(tokens), 0, len(tokens), offset)


def _blocks(
    tokens: Sequence[Token], closes: list[int], start: int, stop: int, offset: int
) -> list[Block]:
    """The blocks of `tokens[start:stop]`, a run that closes all it opens."""
    blocks: list[Block] = []
    i = start
    while i < stop:
        tok = tokens[i]
        kind = tok.type
        line, end = tok.map if tok.map else (0, 0)
        first, last = line + offset + 1, end + offset
        if kind in {"heading_open", "paragraph_open"}:
            j = min(closes[i], stop - 1)
            heading = kind == "heading_open"
            blocks.append(
                Block(
                    HEADING if heading else PARAGRAPH,
                    first,
                    last,
                    list(tokens[i : j + 1]),
                    tokens[i + 1],
                    int(tok.tag[1]) if heading else 0,
                )
            )
            i = j + 1
        elif kind in _CONTAINERS:
            j = min(closes[i], stop - 1)
            block = Block(_CONTAINERS[kind], first, last, list(tokens[i : j + 1]))
            if block.kind == LIST:
                block.ordered = kind == "ordered_list_open"
                inner = _blocks(tokens, closes, i + 1, j, offset)
                block.children = [b for b in inner if b.kind == ITEM]
                block.info = tok.markup
                for item in block.children:
                    item.owner = block.line
                    item.ordered = block.ordered
            elif block.kind in {ITEM, QUOTE}:
                block.children = _blocks(tokens, closes, i + 1, j, offset)
                block.info = tok.info
            blocks.append(block)
            i = j + 1
        else:
            if kind in {"fence", "code_block"}:
                blocks.append(
                    Block(FENCE, first, last, [tok], content=tok.content, info=tok.info.strip())
                )
            elif kind == "hr":
                blocks.append(Block(RULE, first, last, [tok]))
            elif kind == "html_block":
                blocks.append(Block(HTML, first, last, [tok], content=tok.content))
            # front_matter and anything unforeseen: not note content
            i += 1
    return blocks


# --- text -------------------------------------------------------------------------------


def inline_plain(children: Sequence[Token] | None) -> str:
    """Plain text of inline tokens: markup dropped, line breaks as spaces."""
    if not children:
        return ""
    if len(children) == 1 and children[0].type == "text":
        return _single_spaced(children[0].content)  # most lines of a note: one plain text
    out: list[str] = []
    for tok in children:
        if tok.type in {"text", "code_inline", "html_inline"}:
            out.append(tok.content)
        elif tok.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif tok.type == "image":
            out.append(inline_plain(tok.children))
    return _single_spaced("".join(out))


def _single_spaced(text: str) -> str:
    """`" ".join(text.split())`: runs of space made one, none at either end.

    Most text already is so, and is seen to be without splitting it into words: every
    space character but the plain space is unprintable, so a printable text with no
    two spaces in a row and none at its ends has nothing to fold.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def block_plain(block: Block) -> str:
    """Plain text of a block and everything in it, one line per paragraph.

    Worked out once per block: the finder and the assembler ask again and again.
    """
    plain = block.plain
    if plain is None:
        plain = block.plain = _block_plain(block)
    return plain


def _block_plain(block: Block) -> str:
    if block.inline is not None:
        return inline_plain(block.inline.children)
    if block.kind == FENCE:
        return block.content.strip()
    if block.kind == TABLE:
        cells = [inline_plain(t.children) for t in block.tokens if t.type == "inline"]
        return " | ".join(c for c in cells if c)
    if block.kind == HTML:
        return block.content.strip()
    children = block.children
    if len(children) == 1:
        return block_plain(children[0])  # a list item holding one paragraph, mostly
    return "\n".join([p for p in map(block_plain, children) if p])


@dataclass(slots=True, eq=False)
class TableRow:
    """One row of a table: its line, its cells (markdown source and plain text), and a
    block standing for the row alone."""

    line: int
    cells: list[str]
    plain: list[str]
    block: Block


def table_rows(table: Block) -> list[TableRow]:
    """The rows of a TABLE block, header first."""
    tokens = table.tokens
    if table.kind != TABLE or not tokens or not tokens[0].map:
        return []
    first = tokens[0].map[0]
    rows: list[TableRow] = []
    start = 0
    cells: list[Token] = []
    for index, tok in enumerate(tokens):
        if tok.type == "tr_open":
            start, cells = index, []
        elif tok.type == "inline":
            cells.append(tok)
        elif tok.type == "tr_close":
            opener = tokens[start]
            line = table.line + ((opener.map[0] - first) if opener.map else 0)
            row = Block(TABLE, line, line, list(tokens[start : index + 1]))
            source = [c.content for c in cells]
            rows.append(TableRow(line, source, [inline_plain(c.children) for c in cells], row))
    return rows


def blocks_plain(blocks: Sequence[Block]) -> str:
    return "\n".join([p for p in map(block_plain, blocks) if p])


def render_blocks(blocks: Sequence[Block], md: MarkdownIt) -> str:
    """HTML of blocks, rendered from their tokens. A lone item renders as its content."""
    html = _html(md)
    if html is not None and len(blocks) == 1:
        made = html.lone(blocks[0])
        if made is not None:
            return made
    tokens: list[Token] = []
    for block in blocks:
        if block.kind == ITEM:
            tokens.extend(_item_tokens(block))
        else:
            tokens.extend(block.tokens)
    if not tokens:
        return ""
    if html is None:
        return str(md.renderer.render(tokens, md.options, {})).strip()
    return html.render(tokens).strip()


def _item_tokens(item: Block) -> list[Token]:
    """The tokens inside a list item, with tight-list paragraphs made visible again."""
    out: list[Token] = []
    for child in item.children:
        if child.kind == ITEM:
            out.extend(_item_tokens(child))
            continue
        for tok in child.tokens:
            if tok.hidden and not tok.attrs and tok.type in _SHOWN:
                out.append(_SHOWN[tok.type])
            else:
                out.append(tok)
    return out


#: A tight list's hidden paragraph tokens, shown: what the renderer reads of one (its
#: tag, nesting, attributes, block and hidden flags) is the same for every paragraph
#: without attributes, so one token of each stands for them all (copying each costs
#: more than rendering it).
_SHOWN = {
    "paragraph_open": Token("paragraph_open", "p", 1, block=True),
    "paragraph_close": Token("paragraph_close", "p", -1, block=True),
}


def render_tokens(children: Sequence[Token], md: MarkdownIt) -> str:
    """HTML of inline tokens."""
    html = _html(md)
    if html is None:
        renderer: Any = md.renderer
        return str(renderer.renderInline(children, md.options, {})).strip()
    return html.inline(children, None).strip()


# --- HTML -------------------------------------------------------------------------------


def _escape(text: str) -> str:
    """markdown-it's `escapeHtml`, which most text of a note (no `&`, `<`, `>` or `"`)
    passes through unchanged: then without its four replacements."""
    if "&" in text or "<" in text or ">" in text or '"' in text:
        return escapeHtml(text)
    return text


#: The rules of markdown-it's HTML renderer that `_Html` follows itself. Tokens of every
#: other type with a rule (fences, code blocks, images, raw HTML) go to markdown-it's.
_OWN_RULES = ("text", "softbreak", "hardbreak", "code_inline", "list_item_open")


class _Html:
    """markdown-it's HTML renderer for the tokens notes are made of, at less cost.

    markdown-it renders each token through a method looked up by its type, and each
    tag through a general routine that works out its attributes and line breaks from
    scratch; a story's texts are some twenty short runs of tokens, each rendered apart.
    This does what those rules do, token for token (`_tag` is markdown-it's
    `renderToken` line by line), with plain text, breaks, code spans, list items and
    tags done in place and the commonest blocks (`lone`) in one step. Tokens it does
    not follow (a fence, an image, raw HTML, a task list item, a code span with
    attributes) go to markdown-it's own rule for them, as in markdown-it.
    """

    def __init__(self, md: MarkdownIt) -> None:
        renderer: Any = md.renderer
        self.options = md.options
        #: markdown-it's rules for the token types not followed here.
        self.rules = {k: v for k, v in renderer.rules.items() if k not in _OWN_RULES}
        self.own = renderer.rules
        #: The types `lone` renders (none markdown-it has a rule for).
        self.lone_types = {
            opener: closer
            for opener, closer in _LONE.items()
            if opener not in renderer.rules and closer not in renderer.rules
        }
        self.xhtml = bool(self.options["xhtmlOut"])
        # What the breaks are depends only on the options: asked of markdown-it once.
        probe = [Token("softbreak", "br", 0), Token("hardbreak", "br", 0)]
        self.softbreak = str(renderer.rules["softbreak"](probe, 0, self.options, {}))
        self.hardbreak = str(renderer.rules["hardbreak"](probe, 1, self.options, {}))

    def lone(self, block: Block) -> str | None:
        """What `render_blocks` makes of one paragraph or heading, or of a list item that
        holds one paragraph (nearly every text of a story): its inline HTML between its
        tags. None for any other block, or tags with attributes or hidden (a paragraph
        of a tight list outside its item)."""
        shown = block.kind == ITEM
        if shown:
            if len(block.children) != 1:
                return None
            block = block.children[0]
        tokens = block.tokens
        if len(tokens) != 3 or block.inline is not tokens[1]:
            return None
        opener, inline, closer = tokens
        if (
            self.lone_types.get(opener.type) != closer.type
            or opener.attrs
            or closer.attrs
            or not opener.block
            or not closer.block
            or opener.nesting != 1
            or closer.nesting != -1
        ):
            return None
        if opener.hidden or closer.hidden:
            if not (shown and opener.hidden and closer.hidden and opener.type in _SHOWN):
                return None
            opener, closer = _SHOWN[opener.type], _SHOWN[closer.type]
        # Rendered whole and stripped, the tags need no line break but the last, which
        # the strip takes off.
        html = self.inline(inline.children, None) if inline.children else ""
        return "<" + opener.tag + ">" + html + "</" + closer.tag + ">"

    def render(self, tokens: Sequence[Token]) -> str:
        """What markdown-it's `render` makes of block tokens."""
        out: list[str] = []
        env: dict[str, Any] = {}
        rules = self.rules
        for index, token in enumerate(tokens):
            kind = token.type
            if kind == "inline":
                if token.children:
                    out.append(self.inline(token.children, env))
            elif kind in rules:
                out.append(rules[kind](tokens, index, self.options, env))
            else:
                out.append(self._own(tokens, index, env))
        return "".join(out)

    def inline(self, children: Sequence[Token], env: dict[str, Any] | None) -> str:
        """What markdown-it's `renderInline` makes of inline tokens."""
        if len(children) == 1 and children[0].type == "text":
            return _escape(children[0].content)  # most lines of a note: one plain text
        if env is None:
            env = {}
        out: list[str] = []
        rules = self.rules
        for index, token in enumerate(children):
            kind = token.type
            if kind == "text":
                out.append(_escape(token.content))
            elif kind in rules:
                out.append(rules[kind](children, index, self.options, env))
            else:
                out.append(self._own(children, index, env))
        return "".join(out)

    def _own(self, tokens: Sequence[Token], index: int, env: dict[str, Any]) -> str:
        """A token of one of the `_OWN_RULES` types, or a tag (a token of a type with no
        rule of its own)."""
        token = tokens[index]
        kind = token.type
        if kind == "text":
            return _escape(token.content)
        if kind == "softbreak":
            return self.softbreak
        if kind == "hardbreak":
            return self.hardbreak
        if kind == "code_inline" and not token.attrs:
            return "<code>" + _escape(token.content) + "</code>"
        if kind in _OWN_RULES and (kind != "list_item_open" or "checked" in token.meta):
            # a code span with attributes or a task list item: markdown-it's own rule
            return str(self.own[kind](tokens, index, self.options, env))
        return self._tag(tokens, index)

    def _tag(self, tokens: Sequence[Token], index: int) -> str:
        """markdown-it's `renderToken`: the tag of a token, with its attributes, and a
        line break after it unless it holds inline content or nothing."""
        token = tokens[index]
        if token.hidden:
            return ""  # a tight list's paragraph
        nesting = token.nesting
        html = ("</" if nesting == -1 else "<") + token.tag
        if token.attrs:
            html += RendererHTML.renderAttrs(token)
        if nesting == 0 and self.xhtml:
            html += " /"
        if not token.block:
            return html + ">"
        if nesting != -1 and index and tokens[index - 1].hidden:
            # a block opening right after a tight list's paragraph starts a line
            html = "\n" + html
        if nesting == 1 and index + 1 < len(tokens):
            after = tokens[index + 1]
            if (
                after.type == "inline"
                or after.hidden
                or (after.nesting == -1 and after.tag == token.tag)
            ):
                return html + ">"
        return html + ">\n"


#: The blocks `_Html.lone` renders: their opening and closing token types.
_LONE = {"paragraph_open": "paragraph_close", "heading_open": "heading_close"}

#: Notes and lines `_Html` is checked on against markdown-it's own renderer, once per
#: setup: where the two differ, markdown-it's renders every note.
_HTML_PROBES = (
    '## Situation *now*\nText & <more> "quoted".\n\n1. **Step** — `a < b` here\n'
    "   - nested\n   - tight\n2. Two  \n   broken\n\n- loose\n\n  second\n\n  > quoted\n"
    '- [link](http://x.io "t") ![img *alt*](i.png) <http://auto.io>\n\n---\n\n'
    "```python\nx = 1 < 2\n```\n\n    indented\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
    "<div>\n*x*\n</div>\n\nSetext\n======\n\nline<br>inline &amp; &#35; \\*\n",
)

_HTMLS: dict[int, tuple[MarkdownIt, Any, _Html | None]] = {}


def _html(md: MarkdownIt) -> _Html | None:
    """The `_Html` of a markdown-it instance, made once; None where markdown-it's renderer
    is not its stock one, or renders the probes otherwise."""
    made = _HTMLS.get(id(md))
    if made is not None and made[0] is md and made[1] is md.options:
        return made[2]
    html: _Html | None = None
    renderer: Any = md.renderer
    if type(renderer) is RendererHTML and all(
        getattr(renderer.rules.get(name), "__func__", None) is getattr(RendererHTML, name)
        for name in _OWN_RULES
    ):
        html = _Html(md)
        if not all(_agrees(html, md, probe) for probe in _HTML_PROBES):
            html = None
    _HTMLS[id(md)] = (md, md.options, html)
    return html


def _agrees(html: _Html, md: MarkdownIt, probe: str) -> bool:
    """Whether `html` renders a note as markdown-it does: whole, each inline token's
    children, and each block `lone` takes."""
    renderer: Any = md.renderer
    options = md.options
    tokens = md.parse(probe)
    if html.render(tokens) != renderer.render(tokens, options, {}):
        return False
    for token in tokens:
        children = token.children
        if children and html.inline(children, None) != renderer.renderInline(children, options, {}):
            return False
    for block in (inner for top in to_blocks(tokens) for inner in top.walk()):
        made = html.lone(block)
        if made is not None:
            shown = _item_tokens(block) if block.kind == ITEM else block.tokens
            if made != renderer.render(shown, options, {}).strip():
                return False
    return True
