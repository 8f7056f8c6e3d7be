"""Property tests: where the HTML and plain-text helpers take a shortcut, they give
what the plain computation gives.

Each shortcut is compared with the straightforward way of working out the same value,
written out here (markdown-it's own renderer, the text joined and split), over
generated notes made of the blocks and inline markup notes are made of.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it.token import Token

from storydeck.parse import blocks as blocks_module
from storydeck.parse.blocks import (
    ITEM,
    Block,
    _html,
    _single_spaced,
    block_plain,
    inline_plain,
    markdown,
    render_blocks,
    render_tokens,
    stock_markdown,
    to_blocks,
)
from test_parse_properties import note

# --- generated markdown -----------------------------------------------------------------

#: Bits of a line: words, the characters HTML escapes, spaces of every kind, and inline
#: markup of every kind markdown-it knows (emphasis, code, links, images, raw HTML,
#: entities, escapes, breaks).
_BITS = [
    *"ab Z9.,:;?!-—()\"'&<>*_`\\[]\t",
    "word",
    "  ",
    "\u00a0",
    "\u2003",
    "\u200b",
    "\x1f",
    "**b**",
    "*i*",
    "__u__",
    "`x`",
    "``y ` z``",
    "`a<b`",
    '`"q" & x`',
    "&amp;",
    "&#35;",
    "&nope;",
    "[a](http://x.io)",
    '[t](/u "title")',
    "![i *alt*](s.png)",
    "<b>",
    "</b>",
    "<http://x.io>",
    "\\*",
    " — ",
    ": ",
]
_LINE = st.lists(st.sampled_from(_BITS) | st.characters(), max_size=12).map("".join)
#: Lines that open with a bold lead, as action steps and questions do.
_LEAD_LINE = st.builds(
    lambda lead, sep, rest: f"**{lead}**{sep}{rest}",
    _LINE,
    st.sampled_from(["", " ", " — ", " - ", ": ", " -- ", ":", " – "]),
    _LINE,
)
#: Block forms: paragraphs with soft and hard breaks, headings, tight, loose and nested
#: lists, lists holding quotes, fences and nothing, quotes, fences, code, rules, tables
#: and raw HTML.
_FORMS = [
    "{a}",
    "{a}\n{b}",
    "{a}  \n{b}",
    "{a}\\\n{b}",
    "# {a}",
    "### {a}",
    "{a}\n===",
    "- {a}\n- {b}",
    "- {a}\n\n- {b}",
    "1. {a}\n2. {b}\n   - {c}",
    "* {a}\n  * {b}\n    * {c}",
    "- {a}\n\n  {b}",
    "- {a}\n  > {b}",
    "- {a}\n\n  > {b}",
    "- {a}\n  ```\n  {b}\n  ```",
    "- \n  - {a}",
    "-\n\n  {a}",
    "> {a}\n> - {b}",
    "> # {a}\n> {b}",
    "```\n{a}\n```",
    "```python {b}\n{a}\n```",
    "    {a}",
    "---",
    "| {a} | {b} |\n|---|:-:|\n| {c} | x |",
    "<div>\n{a}\n</div>",
    "<details>\n<summary>{a}</summary>\n\n{b}\n\n</details>",
    "- [ ] {a}\n- [x] {b}",
    "1) {a}\n1) {b}",
    "{a}\n\n[{b}]: /u",
]


@st.composite
def markdown_note(draw: st.DrawFn) -> str:
    out = ""
    for _ in range(draw(st.integers(1, 6))):
        form = draw(st.sampled_from(_FORMS))
        lines = st.one_of(_LINE, _LEAD_LINE)
        out += form.format(a=draw(lines), b=draw(lines), c=draw(lines))
        out += draw(st.sampled_from(["\n", "\n\n", "\n\n\n"]))
    return out


#: Notes whose blocks render in every way the fast renderer tells apart.
_EDGES = [
    "- a\n- b\n  > q\n",  # a tag right after a tight list's hidden paragraph
    "- a\n\n  b\n\n- c\n",  # a loose item
    '- **Lead** — a & b < c > "d"\n',
    "a  \nb\nc\\\nd\n",
    "# \n\n-\n\n- \n  - a\n",  # empty heading, empty item, item without a paragraph
    "`code` & <b>x</b> ![alt *x*](i.png) [l](/u 'T')\n",
    "> a\n> - b\n>\n> c\n",
    "| a | `b` |\n|---|--:|\n| **c** | d |\n",
    "- [ ] task\n",
    "<div>\n*x*\n</div>\n",
    "1. **Step** — detail\n   - nested\n2. two\n",
]


# --- the renderer -----------------------------------------------------------------------


def _stock_item_tokens(item: Block) -> list[Token]:
    """The tokens inside a list item, its hidden paragraph tokens copied and shown."""
    out: list[Token] = []
    for child in item.children:
        if child.kind == ITEM:
            out.extend(_stock_item_tokens(child))
            continue
        for tok in child.tokens:
            shown = tok.hidden and not tok.attrs and tok.type.startswith("paragraph_")
            out.append(tok.copy(hidden=False) if shown else tok)
    return out


def _stock_render_blocks(blocks: Sequence[Block], md: Any) -> str:
    """`render_blocks` through markdown-it's own renderer."""
    tokens: list[Token] = []
    for block in blocks:
        tokens.extend(_stock_item_tokens(block) if block.kind == ITEM else block.tokens)
    return md.renderer.render(tokens, md.options, {}).strip() if tokens else ""


def _stock_render_tokens(children: Sequence[Token], md: Any) -> str:
    return str(md.renderer.renderInline(children, md.options, {})).strip()


def _runs(blocks: list[Block]) -> Iterator[list[Block]]:
    """Each block alone, each run of up to three blocks side by side, and all of them,
    at every depth."""
    for start in range(len(blocks)):
        for stop in range(start + 1, min(start + 3, len(blocks)) + 1):
            yield blocks[start:stop]
    if len(blocks) > 3:
        yield blocks
    for block in blocks:
        yield from _runs(block.children)


#: What parts a bold lead from the rest of its line (as the assembler cuts it off).
_SEPARATOR = re.compile(r"^\s*(?:[:—–]|--|-(?=\s))\s*")


def _inline_runs(tokens: Sequence[Token]) -> Iterator[list[Token]]:
    """Each inline token's children, and what follows each closing tag in them (a bold
    lead's rest), also with its first text cut as a lead's separator is."""
    for token in tokens:
        children = token.children
        if token.type != "inline" or not children:
            continue
        yield children
        for index, child in enumerate(children):
            if child.nesting == -1 and index + 1 < len(children):
                rest = children[index + 1 :]
                yield rest
                if rest[0].type == "text":
                    cut = _SEPARATOR.match(rest[0].content)
                    if cut:
                        yield [rest[0].copy(content=rest[0].content[cut.end() :]), *rest[1:]]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(markdown_note(), note()), st.booleans())
@example(_EDGES[0], False)
@example("".join(_EDGES), False)
@example("".join(_EDGES), True)
def test_the_renderer_gives_the_html_markdown_it_gives(source: str, allow_html: bool) -> None:
    md = markdown(allow_html)
    assert _html(md) is not None  # what is tested here is the fast renderer
    tokens = md.parse(source)
    for run in _runs(to_blocks(tokens)):
        assert render_blocks(run, md) == _stock_render_blocks(run, md), run
    for children in _inline_runs(tokens):
        assert render_tokens(children, md) == _stock_render_tokens(children, md), children


def test_a_renderer_with_rules_of_its_own_renders_every_note() -> None:
    """Where markdown-it's renderer is not its stock one, it renders: the fast renderer
    is left off."""
    md = stock_markdown()

    def loud(_renderer: Any, tokens: Sequence[Token], idx: int, *_: Any) -> str:
        return tokens[idx].content.upper()

    md.add_render_rule("text", loud)
    assert _html(md) is None
    blocks = to_blocks(md.parse("- shown *as* given\n"))
    assert render_blocks(blocks, md) == "<ul>\n<li>SHOWN <em>AS</em> GIVEN</li>\n</ul>"
    assert render_blocks(blocks[0].children, md) == "<p>SHOWN <em>AS</em> GIVEN</p>"
    assert render_tokens(blocks[0].children[0].children[0].tokens[1].children or [], md) == (
        "SHOWN <em>AS</em> GIVEN"
    )


def test_the_renderer_is_checked_on_every_kind_of_token() -> None:
    """The probes hold every token type a note's markdown makes, with either setting."""
    seen: set[str] = set()
    for allow_html in (False, True):
        for probe in blocks_module._HTML_PROBES:
            for token in markdown(allow_html).parse(probe):
                seen.add(token.type)
                seen.update(child.type for child in token.children or ())
    kinds = set(blocks_module._OWN_RULES) | {"inline", "text", "code_block", "fence", "image"}
    kinds |= {"html_block", "html_inline", "link_open", "strong_open", "em_open", "hr"}
    kinds |= {"heading_open", "bullet_list_open", "ordered_list_open", "blockquote_open"}
    kinds |= {"table_open", "thead_open", "th_open", "tbody_open", "tr_open", "td_open"}
    assert kinds <= seen, kinds - seen


# --- plain text -------------------------------------------------------------------------


def _plain_inline(children: Sequence[Token] | None) -> str:
    """`inline_plain` as first written: the pieces joined, split and joined again."""
    out: list[str] = []
    for tok in children or ():
        if tok.type in {"text", "code_inline", "html_inline"}:
            out.append(tok.content)
        elif tok.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif tok.type == "image":
            out.append(_plain_inline(tok.children))
    return " ".join("".join(out).split())


def _plain_block(block: Block) -> str:
    if block.inline is not None:
        return _plain_inline(block.inline.children)
    if block.kind in {"fence", "html"}:
        return block.content.strip()
    if block.kind == "table":
        cells = [_plain_inline(t.children) for t in block.tokens if t.type == "inline"]
        return " | ".join(c for c in cells if c)
    return "\n".join(p for p in (_plain_block(c) for c in block.children) if p)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(markdown_note(), note()), st.booleans())
@example("".join(_EDGES), True)
@example("a\u2003 b\u00a0\n\u200b\n- \x1f\n", False)
def test_plain_text_is_the_text_joined_and_single_spaced(source: str, allow_html: bool) -> None:
    md = markdown(allow_html)
    tokens = md.parse(source)
    for children in _inline_runs(tokens):
        assert inline_plain(children) == _plain_inline(children)
    for block in (inner for top in to_blocks(tokens) for inner in top.walk()):
        assert block_plain(block) == _plain_block(block)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\x1c"]) | _LINE))
def test_single_spacing_is_splitting_and_joining(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _single_spaced(text) == " ".join(text.split())


def test_no_space_but_the_space_is_printable() -> None:
    """What `_single_spaced` rests on, over every code point of this Python."""
    printable = [
        hex(point)
        for point in range(sys.maxunicode + 1)
        if chr(point).isspace() and chr(point).isprintable() and point != 0x20
    ]
    assert printable == []
