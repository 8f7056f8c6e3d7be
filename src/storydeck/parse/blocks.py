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
from markdown_it.common.utils import isMdAsciiPunct, isPunctChar, isWhiteSpace
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
    if (
        tuple(md.inline.ruler.get_active_rules()) == _INLINE_RULES
        and tuple(md.inline.ruler2.get_active_rules()) == _INLINE_AFTER
    ):
        stock = stock_markdown(allow_html)
        bold = all(_bold_line(line) == stock.parseInline(line)[0].children for line in _BOLD_PROBES)
        md.core.ruler.at("inline", _inline_with_bold if bold else _inline)
    if tuple(md.core.ruler.get_active_rules()) == _CORE_RULES:
        stock = stock_markdown(allow_html)
        md.core.ruler.at("normalize", _normalize)
        md.core.ruler.at("text_join", _text_join)
        if any(md.parse(probe) != stock.parse(probe) for probe in _CORE_PROBES):
            md.core.ruler.at("normalize", normalize)
            md.core.ruler.at("text_join", text_join)
    rules = [(rule.name, rule.fn) for rule in md.block.ruler.__rules__ if rule.enabled]
    if tuple(name for name, _ in rules) == _BLOCK_RULES:
        stock = stock_markdown(allow_html)
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
        if kind in {"heading_open", "paragraph_open"}:
            j = min(closes[i], stop - 1)
            line, end = tok.map if tok.map else (0, 0)
            blocks.append(
                Block(
                    HEADING if kind == "heading_open" else PARAGRAPH,
                    line + offset + 1,
                    end + offset,
                    list(tokens[i : j + 1]),
                    tokens[i + 1],
                    int(tok.tag[1]) if kind == "heading_open" else 0,
                )
            )
            i = j + 1
        elif kind in _CONTAINERS:
            j = min(closes[i], stop - 1)
            line, end = tok.map if tok.map else (0, 0)
            block = Block(
                _CONTAINERS[kind], line + offset + 1, end + offset, list(tokens[i : j + 1])
            )
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
            line, end = tok.map if tok.map else (0, 0)
            if kind in {"fence", "code_block"}:
                blocks.append(
                    Block(
                        FENCE,
                        line + offset + 1,
                        end + offset,
                        [tok],
                        content=tok.content,
                        info=tok.info.strip(),
                    )
                )
            elif kind == "hr":
                blocks.append(Block(RULE, line + offset + 1, end + offset, [tok]))
            elif kind == "html_block":
                blocks.append(
                    Block(HTML, line + offset + 1, end + offset, [tok], content=tok.content)
                )
            # front_matter and anything unforeseen: not note content
            i += 1
    return blocks


# --- text -------------------------------------------------------------------------------


def inline_plain(children: Sequence[Token] | None) -> str:
    """Plain text of inline tokens: markup dropped, line breaks as spaces."""
    if not children:
        return ""
    out: list[str] = []
    for tok in children:
        if tok.type in {"text", "code_inline", "html_inline"}:
            out.append(tok.content)
        elif tok.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif tok.type == "image":
            out.append(inline_plain(tok.children))
    return " ".join("".join(out).split())


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
    return "\n".join(p for p in (block_plain(c) for c in block.children) if p)


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
    return "\n".join(p for p in (block_plain(b) for b in blocks) if p)


def render_blocks(blocks: Sequence[Block], md: MarkdownIt) -> str:
    """HTML of blocks, rendered from their tokens. A lone item renders as its content."""
    tokens: list[Token] = []
    for block in blocks:
        if block.kind == ITEM:
            tokens.extend(_item_tokens(block))
        else:
            tokens.extend(block.tokens)
    return md.renderer.render(tokens, md.options, {}).strip() if tokens else ""


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
    renderer: Any = md.renderer
    return str(renderer.renderInline(children, md.options, {})).strip()
