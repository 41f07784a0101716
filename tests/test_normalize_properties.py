"""Invariants of the normaliser: same words under different markup -> same text and hash."""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from diffing.normalize import normalize, text_hash

_VOCABULARY = (
    "privacy personal data we collect use share cookies your account rights delete access "
    "partners legal basis consent retention security contact us email café naïve über 2024 "
    "Policy Information Services third parties processing"
)
WORDS = tuple(_VOCABULARY.split())


@dataclass(frozen=True)
class Block:
    kind: str  # "p", "h2", "h3", "ul"
    items: tuple[tuple[str, ...], ...]  # one word tuple, or one per list item


@dataclass(frozen=True)
class Style:
    """A markup-only variation of the same document."""

    spacing: tuple[str, ...]  # whitespace used between words / tags, cycled
    nbsp_every: int  # 0: never; n: every n-th word gap is a no-break space
    wrap_spans: bool
    wrap_divs: bool
    attributes: bool
    chrome: bool


words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=40).map(tuple)
blocks = st.one_of(
    st.builds(Block, st.sampled_from(["p", "p", "h2", "h3"]), words.map(lambda w: (w,))),
    st.builds(Block, st.just("ul"), st.lists(words, min_size=1, max_size=5).map(tuple)),
)
documents = st.lists(blocks, min_size=1, max_size=12).map(tuple)
styles = st.builds(
    Style,
    spacing=st.lists(st.sampled_from([" ", "  ", "\n", "\t", " \n  "]), min_size=1, max_size=4).map(
        tuple
    ),
    nbsp_every=st.integers(0, 4),
    wrap_spans=st.booleans(),
    wrap_divs=st.booleans(),
    attributes=st.booleans(),
    chrome=st.booleans(),
)
PLAIN = Style((" ",), 0, False, False, False, False)


def render(doc: tuple[Block, ...], style: Style) -> bytes:
    gaps = iter(style.spacing * 10_000)

    def gap() -> str:
        return next(gaps)

    def text(ws: tuple[str, ...]) -> str:
        out = []
        for i, word in enumerate(ws):
            word = html_lib.escape(word)
            if style.wrap_spans and i % 3 == 0:
                word = f"<span>{word}</span>"
            out.append(word)
            if i < len(ws) - 1:
                nbsp = style.nbsp_every and i % style.nbsp_every == 0
                out.append("&nbsp;" if nbsp else gap())
        return "".join(out)

    attr = ' class="content-block" data-id="7" style="color: red"' if style.attributes else ""
    parts = []
    if style.chrome:
        parts.append(
            '<nav class="menu"><ul><li><a href="/">Home</a></li><li><a href="/about">About us'
            '</a></li><li><a href="/jobs">Jobs</a></li></ul></nav><script>var token="9f8e7d";'
            "</script>"
        )
    for block in doc:
        if block.kind == "ul":
            items = "".join(f"<li{attr}>{gap()}{text(item)}{gap()}</li>" for item in block.items)
            html = f"<ul{attr}>{items}</ul>"
        else:
            html = f"<{block.kind}{attr}>{gap()}{text(block.items[0])}{gap()}</{block.kind}>"
        if style.wrap_divs:
            html = f"<div>{gap()}{html}{gap()}</div>"
        parts.append(html + gap())
    if style.chrome:
        parts.append('<footer><a href="/terms">Terms</a> | <a href="/help">Help</a></footer>')
    body = "".join(parts)
    return f"<html><head><title>Policy</title></head><body>{gap()}{body}</body></html>".encode()


def as_html(markdown: str) -> bytes:
    """Markdown as the normaliser writes it, back to simple HTML."""
    out = []
    for para in markdown.split("\n\n"):
        if para.startswith("#"):
            level = len(para) - len(para.lstrip("#"))
            out.append(f"<h{level}>{html_lib.escape(para[level + 1 :])}</h{level}>")
        elif para.startswith("* "):
            items = "".join(f"<li>{html_lib.escape(x[2:])}</li>" for x in para.split("\n"))
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{html_lib.escape(para).replace(chr(10), '<br>')}</p>")
    return ("<html><body>" + "".join(out) + "</body></html>").encode()


@settings(max_examples=150, deadline=None)
@given(documents, styles)
def test_markup_only_variations_keep_the_hash(doc: tuple[Block, ...], style: Style) -> None:
    base = normalize(render(doc, PLAIN))
    varied = normalize(render(doc, style))
    assert varied.text == base.text
    assert varied.text_hash == base.text_hash == text_hash(base.text)


@settings(max_examples=50, deadline=None)
@given(documents, styles)
def test_deterministic(doc: tuple[Block, ...], style: Style) -> None:
    body = render(doc, style)
    assert normalize(body) == normalize(body)


@settings(max_examples=100, deadline=None)
@given(documents)
def test_normalising_the_output_again_changes_nothing(doc: tuple[Block, ...]) -> None:
    first = normalize(render(doc, PLAIN))
    again = normalize(as_html(first.text))
    assert again.text == first.text


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["", "text/html", "text/plain", "image/png"]))
def test_never_raises(body: bytes, content_type: str) -> None:
    doc = normalize(body, content_type=content_type)
    assert doc.text_hash == text_hash(doc.text)
