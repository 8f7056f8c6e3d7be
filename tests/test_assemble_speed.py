"""Property tests: where the assembler and the HTML and plain-text helpers take a
shortcut, they give what the plain computation gives.

Each shortcut is compared with the straightforward way of working out the same value,
written out here (markdown-it's own renderer, the text joined and split, the Token
copied), over generated notes made of the blocks and inline markup notes are made of.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it.token import Token

from storydeck.config import default_config
from storydeck.errors import NotesError
from storydeck.model import Location, Step, Text
from storydeck.parse import _front_matter, vocabulary
from storydeck.parse import assemble as assemble_module
from storydeck.parse import blocks as blocks_module
from storydeck.parse.assemble import (
    _DASH_SPLIT,
    _SENTENCE_END,
    Assembler,
    _bold_lead,
    _head,
    _is_lead_in,
    _join_text,
    _with_content,
)
from storydeck.parse.blocks import (
    ITEM,
    PARAGRAPH,
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
from storydeck.parse.labels import Vocabulary, strip_markup
from storydeck.parse.stories import StoryFinder
from test_parse_properties import HTML_CONFIG, note

CONFIG = default_config()

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


# --- the assembler ----------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from([*_BITS, "?", ":", "？", "：", "<summary>", "⭐"]), max_size=12))
def test_reducing_a_line_makes_no_colon_or_question_mark(pieces: list[str]) -> None:
    """What `_is_lead_in` and `_question_of` rest on: a line without a colon (question
    mark) is not reduced to find one at its end."""
    text = "".join(pieces)
    words = strip_markup(text)
    assert ":" not in words or ":" in text
    assert "?" not in words or "?" in text
    stripped = text.strip()
    assert _is_lead_in(text) == (strip_markup(stripped).endswith(":") and "\n" not in stripped)


def _first_bold_lead(inline: Token | None) -> tuple[str, list[Token]] | None:
    """`_bold_lead` as first written: the children copied and trimmed, the rest's first
    token copied through `Token.copy`."""
    if inline is None or not inline.children:
        return None
    children = list(inline.children)
    while children and children[0].type == "text" and not children[0].content.strip():
        children.pop(0)
    if not children or children[0].type not in {"strong_open", "em_open"}:
        return None
    depth = 0
    close = -1
    for index, tok in enumerate(children):
        depth += tok.nesting
        if depth == 0:
            close = index
            break
    if close < 0:
        return None
    lead = _plain_inline(children[1:close]).strip().rstrip(":").strip()
    rest = list(children[close + 1 :])
    if not rest:
        return lead, []
    first = rest[0]
    if first.type == "text":
        match = re.match(r"^\s*(?:[:—–]|--|-(?=\s))\s*", first.content)
        if not match and not first.content.startswith(":"):
            return lead, []
        if match:
            rest[0] = first.copy(content=first.content[match.end() :])
    return lead, rest


def _first_head(entry: Block) -> Block | None:
    if entry.kind == PARAGRAPH:
        return entry
    if entry.kind == ITEM and entry.children and entry.children[0].kind == PARAGRAPH:
        first = entry.children[0]
        return first if _plain_block(first) else None
    return None


class _FirstAssembler(Assembler):
    """The assembler with the methods it takes shortcuts in as first written: every
    text's plain text and HTML worked out in full (through markdown-it's renderer),
    every question asked of every line."""

    def _text(self, blocks: Sequence[Block]) -> Text | None:
        shown = [b for b in blocks if _plain_block(b)]
        if not shown:
            return None
        plain = "\n".join(p for p in map(_plain_block, shown) if p)
        return Text(plain, _stock_render_blocks(shown, self.md), self._at(shown[0]))

    def _split_step(self, head: Block, more: Sequence[Block]) -> Step:
        at = self._at(head)
        extra = self._text(more)
        lead = _first_bold_lead(head.inline)
        if lead is not None and lead[1]:
            headline, rest = lead
            rest_text = Text(_plain_inline(rest), _stock_render_tokens(rest, self.md), at)
            return Step(self._plain_text(headline, at), _join_text(rest_text, extra, at))
        plain = _plain_inline(head.inline.children if head.inline else None)
        for pattern in (_DASH_SPLIT, assemble_module._COLON_SPLIT):
            match = pattern.match(plain)
            if match and len(match.group("head").split()) <= 10:
                return Step(
                    self._plain_text(match.group("head").strip(), at),
                    _join_text(self._plain_text(match.group("rest").strip(), at), extra, at),
                )
        parts = _SENTENCE_END.split(plain, maxsplit=1)
        sentence = parts[0]
        after = parts[1] if len(parts) > 1 else ""
        if not after and lead is None:
            whole = self._text([head])
            assert whole is not None
            return Step(whole, extra or Text("", "", at))
        return Step(
            self._plain_text(sentence.strip(), at),
            _join_text(self._plain_text(after.strip(), at) if after else None, extra, at),
        )

    def _question_of(self, entry: Block) -> tuple[Text, list[Block]] | None:
        at = self._at(entry)
        if entry.kind == "heading":
            return self._plain_text(assemble_module._question_text(entry.text), at), []
        head = (
            _first_head(entry) if entry.kind == ITEM else entry if entry.kind == PARAGRAPH else None
        )
        if head is None or head.inline is None:
            return None
        qa_prefix, question_text = assemble_module._QA_PREFIX, assemble_module._question_text
        source = head.text
        first, _, more = source.partition("\n")
        split = assemble_module._A_SPLIT.split(source, maxsplit=1)
        if len(split) == 2 and qa_prefix.match(split[0]):
            question, answer_src = split
            return self._plain_text(question_text(question), at), self._parse(answer_src, head)
        lead = _first_bold_lead(head.inline)
        first_plain = strip_markup(first)
        if (
            qa_prefix.match(first)
            or first_plain.endswith("?")
            or (lead is not None and not lead[1] and "\n" not in source.strip())
        ):
            answer = self._parse(more, head) if more.strip() else []
            if not answer and "?" in first_plain and not first_plain.endswith("?"):
                q, _, a = first_plain.partition("?")
                return self._plain_text(question_text(q + "?"), at), self._parse(a, head)
            if entry.kind == ITEM:
                answer += entry.children[1:]
            return self._plain_text(question_text(first), at), answer
        return None


#: The parts of a story whose text the assembler reads: action steps in every shape,
#: results with lead-ins, follow-ups asked in every way.
_STORY_FORMS = [
    "## Situation\n{a}\n",
    "## Task\n{a}\n\n{b}\n",
    "## Action\n1. {a}\n2. {b}\n   - {c}\n",
    "## Action\n- {a}\n\n- {b}\n",
    "## Action\n{a}\n- {b}\n- {c}\n",
    "## Action\n### {a}\n{b}\n",
    "## Result\n- {a}\n- Lessons learned:\n  - {b}\n",
    "## Result\n{a}:\n- {b}\n- {c}\n",
    "## Lessons\n- {a}\n- {b}\n",
    "## Follow-ups\n### {a}?\n{b}\n",
    "## Follow-ups\n**Q:** {a}? **A:** {b}\n",
    "## Follow-ups\nQ: {a}\nA: {b}\n",
    "## Follow-ups\n- {a}?\n  - {b}\n",
    "## Follow-ups\n**{a}**\n\n{b}\n",
    "## Follow-ups\n1. {a}? {b}\n",
    "## Follow-ups\n{a}? {b}\n{c}\n",
]


#: Lines that ask, answer or lead in, in the ways follow-ups and results do.
_ASKING = st.sampled_from(
    [
        "Why?",
        "**Why?**",
        "Why? Because.",
        "Q: why not",
        "Question 2) how",
        "**Q:** what? **A:** that",
        "Q: why? A: so",
        "A: because",
        "**Asked**",
        "**Asked:**",
        "**Asked** — answered",
        "Looking back:",
        "",
    ]
)


@st.composite
def story_note(draw: st.DrawFn) -> str:
    lines = st.one_of(_LINE, _LEAD_LINE, _ASKING, _ASKING)
    forms = draw(st.lists(st.sampled_from(_STORY_FORMS), min_size=1, max_size=6))
    head = draw(st.sampled_from(["", "---\nthemes: [conflict, Leadership, made up]\n---\n"]))
    # A Situation first: the sections after it make a story with it.
    return head + "\n".join(
        form.format(a=draw(lines), b=draw(lines), c=draw(lines))
        for form in [_STORY_FORMS[0], *forms]
    )


def _assemble(source: str, config: Any, assembler: type[Assembler]) -> list[Any]:
    md = markdown(config.allow_html)
    tokens = md.parse(source)
    try:
        front = _front_matter(tokens, source, "n.md")
    except NotesError:  # front matter never closed: no stories either way
        return []
    findings = StoryFinder(vocabulary(config), md).run(to_blocks(tokens))
    diagnostics: list[Any] = []
    made = assembler(
        vocab=vocabulary(config), md=md, path="n.md", stem="n", front=front, diagnostics=diagnostics
    ).stories(findings.stories)
    return [made, diagnostics]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(story_note(), note()), st.booleans())
@example("## Action\n- **Lead** — a & b\n- **Opened** a bridge\n\n## Result\n- x\n", False)
@example("## Follow-ups\n- **Q1:** why? **A:** because\n- **Asked** \n", False)
@example("## Situation\nx\n\n## Follow-ups\nQ: why not\n", False)
def test_the_assembler_gives_what_working_everything_out_in_full_gives(
    source: str, allow_html: bool
) -> None:
    config = HTML_CONFIG if allow_html else CONFIG
    assert _assemble(source, config, Assembler) == _assemble(source, config, _FirstAssembler)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(markdown_note(), story_note()))
def test_bold_leads_and_heads_are_found_as_before(source: str) -> None:
    for block in (inner for top in to_blocks(markdown().parse(source)) for inner in top.walk()):
        assert _head(block) is _first_head(block)
        if block.inline is not None:
            assert _bold_lead(block.inline) == _first_bold_lead(block.inline)


def test_a_token_with_other_content_is_its_copy() -> None:
    token = Token(
        "text",
        "t",
        1,
        attrs={"a": "b"},
        map=[1, 2],
        level=3,
        children=[Token("x", "", 0)],
        content="old",
        markup="**",
        info="i",
        meta={"m": 1},
        block=True,
        hidden=True,
    )
    assert assemble_module._TOKEN_IN_ORDER  # this markdown-it's Token: the quick copy
    assert _with_content(token, "new") == token.copy(content="new")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_BITS) | st.characters(), max_size=12).map("".join))
@example("a > b")
@example("a < b")
@example("a & b")
@example('"a"')
def test_a_plain_text_is_escaped_as_html_escapes_it(plain: str) -> None:
    assembler = _assembler()
    at = Location("n.md", 1)
    assert assembler._plain_text(plain, at) == Text(plain, html.escape(plain, quote=False), at)


def _assembler() -> Assembler:
    return Assembler(
        vocab=vocabulary(CONFIG),
        md=markdown(),
        path="n.md",
        stem="n",
        front=_front_matter([], "", "n.md"),
        diagnostics=[],
    )


def test_a_theme_is_looked_up_once_per_config() -> None:
    vocab = Vocabulary(CONFIG)
    names = ["conflict", "Conflict", " leadership ", "production incidents", "nope", ""]
    assert [vocab.theme_id(n) for n in names] == [vocab._theme_id(n) for n in names]
    assert [vocab.theme_id(n) for n in names] == [vocab._theme_id(n) for n in names]
