"""Archived HTML -> policy markdown (a :class:`~diffing.records.Document`).

One pass of a Lexbor (selectolax) tree walk turns the page into blocks (headings, paragraphs, list
items, table cells) that remember the element they sit in. Boilerplate is then removed in two ways:

* elements that are chrome by tag, ARIA role, class or id (navigation, site header/footer, cookie
  banners, ads, the Wayback toolbar) are dropped -- unless a "weak" flag (nav, header, sidebar...)
  sits on an element holding a large share of the page's prose, which means the site wrapped its
  content in it;
* the content root is the deepest element holding nearly all of the page's prose (long blocks of
  low link density); everything outside it is chrome.

The text is then normalised so that the same words under different markup hash the same: entities,
non-breaking and exotic spaces, soft hyphens and zero-width characters, Cloudflare e-mail
obfuscation, whitespace inside paragraphs, Unicode NFC.

Every capture gets a verdict (ok, empty, JavaScript shell, stub, error page, not a policy,
unsupported); :func:`normalize` never raises on bad input.
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import itertools
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

from selectolax.lexbor import LexborHTMLParser, LexborNode

from diffing.extract_rules import ExtractionRule, rules_for
from diffing.records import Document, Verdict

__all__ = [
    "NORMALISER_VERSION",
    "decode_html",
    "iter_warc_documents",
    "normalize",
    "seed_markdown",
    "text_hash",
]

NORMALISER_VERSION = "1"

# --------------------------------------------------------------------------------------------------
# decoding

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:+-]+)", re.I)
# WHATWG encoding labels whose Python codec differs (browsers decode these as the superset)
_CODEC_ALIASES = {
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "tis-620": "cp874",
    "unicode": "utf-8",
    "utf-16": "utf-8",  # a <meta> cannot be read in UTF-16 bytes: the label lies
    "x-user-defined": "cp1252",
}
_LATIN_GUESSES = frozenset(
    codecs.lookup(name).name
    for name in (
        "cp1250",
        "cp1252",
        "latin_1",
        "iso8859_2",
        "iso8859_15",
        "mac_latin2",
        "mac_roman",
        "cp775",
        "cp850",
        "cp858",
        "hp_roman8",
        "iso8859_4",
        "iso8859_13",
        "cp1257",
    )
)
_SINGLE_BYTE = frozenset(
    codecs.lookup(name).name
    for name in (
        "cp1250",
        "cp1251",
        "cp1252",
        "cp1253",
        "cp1254",
        "cp1257",
        "latin_1",
        "iso8859_15",
    )
)


def _codec(label: str) -> str | None:
    label = label.strip().strip("\"'").lower()
    label = _CODEC_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode a page's bytes: (text, codec used).

    BOM, then the HTTP charset, then ``<meta charset>``/http-equiv; a declared single-byte charset
    loses to valid multi-byte UTF-8 (archived pages often carry a stale declaration); otherwise
    UTF-8 if it decodes, else charset-normalizer's guess on the first 64 KiB.
    """
    text, codec, _ = _decode(body, content_type)
    return text, codec


def _decode(body: bytes, content_type: str) -> tuple[str, str, bool]:
    """:func:`decode_html`, and whether the text is ``body`` read as strict UTF-8 (BOM-less)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name, False
    declared: list[str] = []
    match = _HEADER_CHARSET.search(content_type)
    if match:
        declared.append(match.group(1))
    meta = _META_CHARSET.search(body, 0, 16384)
    if meta:
        declared.append(meta.group(1).decode("ascii", "replace"))
    utf8: str | None = None  # the body decoded as UTF-8, once tried
    tried = False
    for label in declared:
        codec = _codec(label)
        if codec is None:
            continue
        if codec in _SINGLE_BYTE and not body.isascii():
            if not tried:
                utf8, tried = _utf8(body), True
            if utf8 is not None:
                return utf8, "utf-8", True
        try:
            return body.decode(codec), codec, codec == "utf-8"
        except (UnicodeDecodeError, LookupError):
            continue
    if not tried:
        utf8 = _utf8(body)
    if utf8 is not None:
        return utf8, "utf-8", True
    guess = _detect(body[:65536])
    return body.decode(guess, errors="replace"), guess, False


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _detect(sample: bytes) -> str:
    from charset_normalizer import from_bytes  # imported lazily: only undeclared legacy pages

    best = from_bytes(sample).best()
    name = _codec(best.encoding) if best is not None else None
    if name is None or name in _LATIN_GUESSES:
        # on short Western text the detector wavers between Latin code pages (cp1250, cp775,
        # mac-latin2...); windows-1252 is by far the most common undeclared legacy encoding
        try:
            sample.decode("cp1252")
        except UnicodeDecodeError:
            return name or "cp1252"
        return "cp1252"
    return name


# --------------------------------------------------------------------------------------------------
# text clean-up

_INVISIBLE = "\u00ad\u200b\u2060\ufeff\u180e\u200e\u200f"
# \s covers the no-break and typographic spaces (U+00A0, U+2000-U+200A, U+202F, U+3000...)
_WHITESPACE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_BR = "\x00"  # a <br> in a text buffer (the HTML parser turns real NULs into U+FFFD)
_WORD = re.compile(r"\w+")
_ALNUM = re.compile(r"[^\W_]")


def _clean(text: str) -> str:
    """Whitespace-like characters to spaces, invisible ones removed, runs of spaces collapsed."""
    return _WHITESPACE.sub(" ", _INVISIBLE_RE.sub("", text))


def text_hash(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decode_cfemail(hexdata: str) -> str | None:
    """Cloudflare's e-mail obfuscation: the first byte is an XOR key for the rest."""
    try:
        raw = bytes.fromhex(hexdata.strip())
    except ValueError:
        return None
    if len(raw) < 2:
        return None
    key = raw[0]
    try:
        return bytes(b ^ key for b in raw[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


# --------------------------------------------------------------------------------------------------
# boilerplate heuristics


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SKIP_TAGS = _names(
    "script style noscript template iframe frame svg math canvas object embed applet select "
    "option datalist button input textarea head title meta link base audio video source "
    "track map img picture param"
)
_BLOCK_TAGS = _names(
    "address article aside blockquote body center dd details dialog dir div dl dt fieldset "
    "figcaption figure footer form header hgroup html legend main nav noframes p pre "
    "section summary table caption thead tbody tfoot tr td th frameset"
)
_LIST_TAGS = frozenset(("ul", "ol", "menu", "dir"))
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_FLAGGABLE = _names("div section ul ol table td tr form nav aside header footer")
_FLAGGED_TAGS = frozenset(("nav", "aside", "header", "footer"))  # flagged by their tag alone
_ATTR_TAGS = _FLAGGABLE | {"ol"}
_INLINE_TAGS = _names(
    "a abbr b bdi bdo big br cite code data del dfn em font i ins kbd label mark nobr q rp "
    "rt ruby s samp small span strike strong sub sup time tt u var wbr"
)

# Strong: never real policy text, dropped whatever they hold.
_STRONG_CLASS = re.compile(
    r"(?:^|[-_ ])(?:"
    r"cookie-?(?:banner|bar|notice|consent|law|popup|modal|message|warning|alert|notification)s?"
    r"|cookiebanner|cookienotice|cookieconsent|cookie-law-info\w*|cc-(?:window|banner)"
    r"|consent-(?:banner|manager|bar|modal|popup)|gdpr-(?:banner|notice|consent)"
    r"|onetrust\w*|ot-sdk\w*|optanon\w*|cybotcookiebot\w*|cookiebot\w*|didomi\w*|truste\w*"
    r"|trustarc\w*|qc-cmp\w*|usercentrics\w*|osano\w*|iubenda\w*|tarteaucitron\w*|axeptio\w*"
    r"|cky-(?:consent|modal|preference|banner|overlay)\w*|cookieyes\w*|borlabs-cookie\w*"
    r"|moove-gdpr\w*|cmplz-cookiebanner|cookie-script\w*|termly-\w*|sp_message\w*"
    r"|adsbygoogle|advert\w*|ad-?(?:slot|unit|banner|container|wrapper|bar)\d*|adbar\d*"
    r"|wm-ipp\w*|donato\w*"
    r")(?:$|[-_ ])",
    re.I,
)
# Weak: usually chrome, but sites do wrap whole policies in e.g. a "content-menu" div.
_WEAK_CLASS = re.compile(
    r"(?:^|[-_ ])(?:"
    r"nav|navbar|navigation|nav-?menu|menu|menubar|main-?menu|breadcrumbs?|sidebar|side-?bar"
    r"|skip-?(?:link|links|to-content|nav)?|footer|site-?footer|header|site-?header|masthead"
    r"|top-?bar|toolbar|social|share-?(?:buttons|bar|links)|sharethis|addthis|newsletter"
    r"|(?:right|left)-?(?:container|column|col|side|bar|panel|box|nav|menu)"
    r"|subscribe|login|sign-?in|logo|search-?(?:form|box|bar)?|popup|modal|lang(?:uage)?-?(?:switch"
    r"|switcher|select|selector|picker|menu)|pagination|pager|related-?(?:posts|links|articles)"
    r")(?:$|[-_ ])",
    re.I,
)
# the same patterns for lower-cased ASCII names (they hold no capital letter)
_STRONG_CLASS_LOWER = re.compile(_STRONG_CLASS.pattern)
_WEAK_CLASS_LOWER = re.compile(_WEAK_CLASS.pattern)
_OFFSCREEN = re.compile(r"(?:left|top|text-indent|margin-left)\s*:\s*-\d{4,}", re.I)
_COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b)", re.I)
_CAMEL = re.compile(r"([a-z])([A-Z])")
_WEAK_ROLES = frozenset(("navigation", "banner", "contentinfo", "complementary", "search", "menu"))
_STRONG_ROLES = frozenset(("alertdialog",))
_GUARD_SHARE = 0.25  # a weakly flagged element holding this share of the prose is content
_GOOD_MIN_CHARS = 40  # a block this long with few links counts as prose
_GOOD_MAX_LINK_DENSITY = 0.35
_ROOT_SHARE = 0.9  # the content root holds this share of the prose
_ROOT_TEXT_SHARE = 0.8  # ...and keeps this share of the text of the element above it
_ROOT_PREFIX_CHARS = 300  # heading/date lines just above the root that are taken in
_LINK_LIST_DENSITY = 0.75  # share of link text that makes a block or a list navigation


@dataclass(slots=True)
class _List:
    ordered: bool
    counter: int


@dataclass(slots=True)
class _Page:
    """What the walk found: the elements that hold blocks, in document order, and the blocks.

    Element ``i``'s subtree is the index range ``[i, ends[i])`` of the elements; its blocks are
    the index range ``[first_blocks[i], end_blocks[i])`` of the blocks (the blocks flushed while
    it was open), so a subtree's total of any per-block value is a difference of two prefix sums
    over the blocks (see :func:`_prefix_sums`).

    A block (a heading, paragraph, list item or preformatted text) is an index into the block
    columns: a page has thousands, and an object each would be thousands of allocations that
    the garbage collector keeps scanning while they live.
    """

    parents: list[int]  # -1: a top-level element
    ends: list[int]
    flags: list[str]  # "" or why the element is chrome
    strong: list[bool]
    first_blocks: list[int]
    end_blocks: list[int]
    kinds: list[str]  # "p", "li", "h1".."h6", "pre"
    texts: list[str]
    elems: list[int]  # innermost registered element
    chars: list[int]  # non-space chars
    link_chars: list[int]
    links: list[int]  # number of links
    depths: list[int]  # list nesting
    masses: list[int]  # chars of a long block with few links (prose), else 0
    markers: list[str]  # a list item's "*" or "3."
    list_seqs: list[int]  # which top-level list an item belongs to


# What the walker does with a node, by its tag name (LexborNode.tag)
_TEXT, _INLINE, _LINK, _BREAK, _SKIP, _ELEMENT = range(6)
_MAX_DEPTH = 400
# the elements that start a block; every _FLAGGABLE tag is one, so a flag never makes a block
_BLOCKISH = _BLOCK_TAGS | _LIST_TAGS | _HEADINGS.keys() | {"li"}
_PLAIN_BLOCKS = _BLOCKISH - _LIST_TAGS - _HEADINGS.keys() - {"li", "pre"}
_NO_ATTRS: dict[str, str | None] = {}
_HEADING_KINDS = ("", "h1", "h2", "h3", "h4", "h5", "h6")
# how element() opens a block, by tag: 0 a plain block, 1-6 a heading, 7 li, 8 a list, 9 pre
_BLOCK_ROLES = {
    **dict.fromkeys(_PLAIN_BLOCKS, 0),
    **_HEADINGS,
    "li": 7,
    **dict.fromkeys(_LIST_TAGS, 8),
    "pre": 9,
}


def _kind(tag: str) -> int:
    if tag == "-text":
        return _TEXT
    if tag in _INLINE_TAGS:
        return _LINK if tag == "a" else _BREAK if tag == "br" else _INLINE
    if tag[0] == "-" or tag in _SKIP_TAGS:  # comments, doctype
        return _SKIP
    return _ELEMENT  # a block-level or unknown element


def _kinds_by_tag_id() -> dict[int, tuple[int, str]]:
    """(kind, tag name) by Lexbor tag id, for the text node, comments and every tag named above.

    ``LexborNode.tag`` decodes a new string on every call; ``tag_id`` is a small int read off the
    node. Lexbor numbers its own tags with small fixed ids and custom ones (``<o:p>``,
    ``<my-widget>``) with per-document addresses: only the fixed ids are listed, other nodes fall
    back to ``.tag``.
    """
    probe = LexborHTMLParser("<p>text<!-- comment --></p>")
    table = {
        node.tag_id: (_kind(node.tag), node.tag)
        for node in probe.root.traverse(include_text=True)  # type: ignore[union-attr]
        if node.tag in ("-text", "-comment")
    }
    names = _SKIP_TAGS | _BLOCKISH | _INLINE_TAGS | {"hr"}
    for name in names:
        node = probe.create_node(name)
        if node.tag == name and node.tag_id < 1 << 16:
            table[node.tag_id] = (_kind(name), name)
    return table


_KINDS_BY_TAG_ID = _kinds_by_tag_id()


def _collapse(raw: str) -> str:
    """A buffer's text without invisible characters, spaces collapsed, one line per ``<br>``."""
    if not raw.isascii() and _INVISIBLE_RE.search(raw):  # rare: search before building
        raw = _INVISIBLE_RE.sub("", raw)
    # str.split() and re's \s agree on what whitespace is (Py_UNICODE_ISSPACE): this is
    # _WHITESPACE.sub(" ", line).strip(), several times faster
    lines = [" ".join(line.split()) for line in raw.split(_BR)]
    return "\n".join(line for line in lines if line)


def _squeeze(text: str) -> str:
    """:func:`_collapse` for a printable text: runs of spaces to one, stripped.

    Spaces are then its only whitespace, so this is ``" ".join(text.split())``, without the word
    list: ``replace`` halves every run of spaces, a handful of passes at memchr speed.
    """
    while "  " in text:
        text = text.replace("  ", " ")
    return text.strip(" ")


def _walk(start: LexborNode | None, selected: Sequence[LexborNode] = ()) -> _Page:
    """Turn the page below ``start`` (or the ``selected`` elements themselves) into blocks.

    The walk spends a few microseconds on each of hundreds of thousands of nodes, so its state
    lives in local variables shared by the nested functions (closure cells are cheaper to reach
    than attributes); a text node is told apart by its ``text_content`` (None for any other
    node), which it needs read anyway, and an element by its integer tag id.
    """
    parents: list[int] = []
    ends: list[int] = []
    flags: list[str] = []
    strong: list[bool] = []
    first_blocks: list[int] = []
    end_blocks: list[int] = []
    kinds: list[str] = []
    texts: list[str] = []
    elems: list[int] = []
    block_chars: list[int] = []
    block_link_chars: list[int] = []
    block_links: list[int] = []
    depths: list[int] = []
    masses: list[int] = []
    markers: list[str] = []
    list_seqs: list[int] = []
    buf: list[str] = []  # the text of the current block, in pieces; _BR for a <br>
    add = buf.append
    buf_text = False  # the buffer holds more than whitespace
    buf_links = 0  # chars of link text in the buffer
    buf_nlinks = 0  # links opened since the last block
    cur = -1  # innermost registered element
    link_depth = 0
    inline_only = 0  # inside a heading: nested blocks do not split it
    pre = 0
    in_article = 0
    heading = 0
    lists: list[_List] = []
    list_seq = 0
    pending_li = ""  # marker of a list item whose first block is not flushed yet
    kind_of = _KINDS_BY_TAG_ID.get

    def flush() -> None:
        nonlocal buf_text, buf_links, buf_nlinks, pending_li
        if not buf_text:
            buf.clear()
            return
        buf_text = False
        raw = "".join(buf)
        buf.clear()
        links = buf_links
        nlinks = buf_nlinks
        buf_links = buf_nlinks = 0
        if raw.isprintable():
            # the usual case: spaces are the only whitespace (every other whitespace character,
            # the invisible ones and _BR are unprintable), often single already
            text = raw.strip(" ") if "  " not in raw else _squeeze(raw)
            chars = len(text) - text.count(" ")
        else:
            # most other buffers only add no-break spaces and the HTML source's line breaks and
            # tabs: as plain spaces they are squeezed the same way, without splitting the text
            # into words as _collapse() does
            spaced = raw.replace("\xa0", " ").replace("\n", " ").replace("\t", " ")
            spaced = spaced.replace("\u202f", " ")
            if spaced.isprintable():
                text = _squeeze(spaced)
                chars = len(text) - text.count(" ")
            else:
                text = _collapse(raw)
                chars = len(text) - text.count(" ") - text.count("\n")
        # [^\W_] is str.isalnum(): the first character usually settles it
        if not text or not (text[0].isalnum() or _ALNUM.search(text)):
            return
        marker, seq = "*", 0
        if heading:
            kind = _HEADING_KINDS[heading]
            text = text.replace("\n", " ")
        elif pending_li:
            kind, marker, seq = "li", pending_li, list_seq
            pending_li = ""
        elif pre:
            kind = "pre"
        else:
            kind = "p"
        link_chars = links if links < chars else chars
        kinds.append(kind)
        texts.append(text)
        elems.append(cur)
        block_chars.append(chars)
        block_link_chars.append(link_chars)
        block_links.append(nlinks)
        depths.append(len(lists))
        good = chars >= _GOOD_MIN_CHARS and link_chars <= _GOOD_MAX_LINK_DENSITY * chars
        masses.append(chars if good else 0)
        markers.append(marker)
        list_seqs.append(seq)

    def add_text(text: str) -> None:  # the text branch of walk(), for its rarer callers
        nonlocal buf_text, buf_links
        if pre:
            text = text.replace("\n", _BR)
        elif text.isspace():
            add(" ")
            return
        buf_text = True
        if link_depth:
            buf_links += len(text.strip())
        add(text)

    def br() -> None:
        # two line breaks in a row separate paragraphs; one is a line break inside one
        for piece in reversed(buf):
            if piece == _BR:
                flush()
                return
            if not piece.isspace():
                break
        else:
            return
        add(_BR)

    def walk(node: LexborNode, depth: int) -> None:
        nonlocal buf_text, buf_links, buf_nlinks, link_depth
        depth += 1
        if depth > _MAX_DEPTH:  # pathological nesting: keep the words, drop the structure
            add_text(" " + node.text(separator=" ") + " ")
            return
        for child in node.iter(include_text=True):
            text = child.text_content
            if text is not None:  # add_text(), inlined: half of all nodes are text
                if not text:
                    continue
                if pre:
                    text = text.replace("\n", _BR)
                elif text.isspace():  # most text nodes are the gaps between tags
                    add(" ")
                    continue
                buf_text = True
                if link_depth:
                    buf_links += len(text.strip())
                add(text)
                continue
            entry = kind_of(child.tag_id)
            if entry is None:  # a custom element (or a node type the table does not list)
                tag = child.tag or "-"
                kind = _kind(tag)
            else:
                kind, tag = entry
            if kind == _INLINE:  # no attributes, no bookkeeping
                walk(child, depth)
            elif kind == _ELEMENT:
                element(child, tag, depth)
            elif kind == _LINK:
                buf_nlinks += 1
                link_depth += 1
                walk(child, depth)
                link_depth -= 1
            elif kind == _BREAK:
                br()

    def element(node: LexborNode, tag: str, depth: int) -> None:
        """A block-level (or unknown) element."""
        nonlocal buf_text, cur, in_article, heading, inline_only, list_seq, pending_li, pre
        role = _BLOCK_ROLES.get(tag)
        if role is None or inline_only:
            if tag == "hr":
                flush()
                return
            # add_text(" "), walk(), add_text(" ")
            if pre:
                buf_text = True
            add(" ")
            walk(node, depth)
            if pre:
                buf_text = True
            add(" ")
            return
        attrs = _NO_ATTRS
        flag, is_strong = "", False
        if tag in _FLAGGABLE:
            attrs = node.attributes
            if attrs or tag in _FLAGGED_TAGS:  # _flag() of the rest is ("", False)
                flag, is_strong = _flag(tag, attrs, in_article)
        if buf_text:
            flush()
        else:
            buf.clear()
        saved_cur = cur
        cur = index = len(parents)
        parents.append(saved_cur)
        ends.append(index)  # set below
        first_blocks.append(len(kinds))
        end_blocks.append(0)  # set below
        flags.append(flag)
        strong.append(is_strong)
        article = tag == "article" or tag == "main"
        in_article += article
        if role == 0:
            walk(node, depth)
        elif role == 7:  # li
            marker = "*"
            if lists and lists[-1].ordered:
                lists[-1].counter += 1
                marker = f"{lists[-1].counter}."
            pending_li = marker
            walk(node, depth)
            if buf_text:
                flush()
            pending_li = ""
        elif role < 7:  # h1..h6
            heading = role
            inline_only += 1
            walk(node, depth)
            if buf_text:
                flush()
            inline_only -= 1
            heading = 0
        elif role == 8:  # a list
            start = attrs.get("start") if attrs else None
            counter = int(start) - 1 if start and start.strip().lstrip("-").isdigit() else 0
            list_seq += not lists
            lists.append(_List(tag == "ol", counter))
            walk(node, depth)
            if buf_text:
                flush()
            lists.pop()
        else:  # pre
            pre += 1
            walk(node, depth)
            if buf_text:
                flush()
            pre -= 1
        if buf_text:
            flush()
        else:
            buf.clear()
        ends[index] = len(parents)
        end_blocks[index] = len(kinds)
        in_article -= article
        cur = saved_cur

    if selected:
        for node in selected:
            tag = node.tag
            if tag and tag not in _SKIP_TAGS:
                element(node, tag, 1)
    elif start is not None:
        walk(start, 0)
    flush()
    return _Page(
        parents,
        ends,
        flags,
        strong,
        first_blocks,
        end_blocks,
        kinds,
        texts,
        elems,
        block_chars,
        block_link_chars,
        block_links,
        depths,
        masses,
        markers,
        list_seqs,
    )


def _flag(tag: str, attrs: dict[str, str | None], in_article: int) -> tuple[str, bool]:
    """(why an element is chrome or "", strong?) from its tag and attributes."""
    if tag in ("nav", "aside"):
        return tag, False
    if tag in ("header", "footer") and not in_article:
        return tag, False
    if not attrs:
        return "", False
    style = attrs.get("style")
    if style and _OFFSCREEN.search(style):  # hidden SEO spam, screen-reader-only chrome
        return "off-screen", True
    role = (attrs.get("role") or "").lower()
    if role in _STRONG_ROLES:
        return f"role={role}", True
    if role in _WEAK_ROLES:
        return f"role={role}", False
    names = f"{attrs.get('id') or ''} {attrs.get('class') or ''}".strip()
    if not names:
        return "", False
    name, strong = _classify_names(names)
    if not strong and in_article and ("header" in name or "footer" in name):
        return "", False
    return name, strong


@functools.lru_cache(maxsize=4096)
def _classify_names(names: str) -> tuple[str, bool]:
    """(chrome name, strong?) for an element's ``id class`` string; ("", False) if content."""
    if not names.islower():  # no capital letter, nothing to split
        names = _CAMEL.sub(r"\1-\2", names)  # navSection -> nav-Section
    strong_re, weak_re, subject = _STRONG_CLASS, _WEAK_CLASS, names
    if names.isascii():
        # re.I folds the case of every character it compares: on ASCII, the patterns without it
        # find the same spans in the lower-cased names three times faster
        strong_re, weak_re, subject = _STRONG_CLASS_LOWER, _WEAK_CLASS_LOWER, names.lower()
    match = strong_re.search(subject)
    if match:
        return names[match.start() : match.end()].strip(" -_"), True
    match = weak_re.search(subject)
    if match:
        return names[match.start() : match.end()].strip(" -_").lower(), False
    return "", False


def _is_link_block(links: int, link_chars: int, chars: int) -> bool:
    return links >= 1 and link_chars >= 0.8 * chars


def _prefix_sums(values: list[int]) -> list[int]:
    """Running totals with a leading 0: the subtree ``[i, end)`` sums to ``p[end] - p[i]``."""
    return list(itertools.accumulate(values, initial=0))


def _select_blocks(page: _Page, use_root: bool, drop_link_lists: bool = True) -> list[int]:
    """Drop chrome: flagged subtrees, link lists and everything outside the content root.

    Returns the indices of the blocks kept, in document order.
    """
    ends, flags, strong = page.ends, page.flags, page.strong
    firsts, lasts = page.first_blocks, page.end_blocks
    block_chars, block_link_chars, block_links = page.chars, page.link_chars, page.links
    mass = _prefix_sums(page.masses)
    chars, links = _prefix_sums(block_chars), _prefix_sums(block_link_chars)
    nlinkblocks = _prefix_sums(
        [
            _is_link_block(nl, lc, c)
            for nl, lc, c in zip(block_links, block_link_chars, block_chars, strict=True)
        ]
    )
    total = mass[-1]
    # a dropped element's blocks are out, and a dropped subtree is skipped whole
    out = bytearray(len(block_chars))
    n = len(ends)
    i = 0
    while i < n:
        lo, hi = firsts[i], lasts[i]  # the element's blocks
        if flags[i]:
            # a weak flag on an element holding much of the prose is a wrapper, not chrome
            sub_mass = mass[hi] - mass[lo]
            drop = strong[i] or sub_mass < _GUARD_SHARE * total or sub_mass == 0
        elif drop_link_lists and hi - lo >= 3 and mass[hi] == mass[lo]:
            sub_blocks = hi - lo
            drop = (
                links[hi] - links[lo] >= _LINK_LIST_DENSITY * (chars[hi] - chars[lo])
                or nlinkblocks[hi] - nlinkblocks[lo] >= _LINK_LIST_DENSITY * sub_blocks
            )
        else:
            drop = False
        if drop:
            out[lo:hi] = b"\x01" * (hi - lo)
            i = ends[i]
        else:
            i += 1

    if drop_link_lists:
        survivors = [
            k
            for k, (dropped, c, lc, nl) in enumerate(
                zip(out, block_chars, block_link_chars, block_links, strict=True)
            )
            if not dropped and not (nl >= 2 and lc >= _LINK_LIST_DENSITY * c)
        ]
    else:
        survivors = [k for k, dropped in enumerate(out) if not dropped]
    if use_root:
        survivors = _within_root(page, survivors)
    # a trailing copyright line is site chrome whose year changes every January
    texts = page.texts
    while survivors and block_chars[survivors[-1]] < 200 and _COPYRIGHT.match(texts[survivors[-1]]):
        survivors.pop()
    return survivors


def _within_root(page: _Page, blocks: list[int]) -> list[int]:
    """The blocks inside the content root, with the title and date lines just above it.

    ``blocks`` are block indices in order: those of an element are a slice of them, found by
    bisection at its first and end block.
    """
    parents, firsts, lasts = page.parents, page.first_blocks, page.end_blocks
    block_chars, masses = page.chars, page.masses
    kept_chars, kept_mass = [0] * len(block_chars), [0] * len(block_chars)
    for k in blocks:
        kept_chars[k] = block_chars[k]
        kept_mass[k] = masses[k]
    chars, mass = _prefix_sums(kept_chars), _prefix_sums(kept_mass)
    root = _find_root(page.ends, firsts, lasts, mass, mass[-1], chars, chars[-1])
    if root < 0:
        return blocks
    lo, hi = bisect_left(blocks, firsts[root]), bisect_left(blocks, lasts[root])
    while True:
        parent = parents[root]
        if parent < 0:
            break
        plo, phi = bisect_left(blocks, firsts[parent]), bisect_left(blocks, lasts[parent])
        # the parent's other blocks: blocks[plo:lo] before the root's, blocks[hi:phi] after
        extra = blocks[plo:lo]
        # climb to take in a heading or "last updated" line that sits just before the root
        if (
            lo == hi
            or not extra
            or hi != phi
            or sum(block_chars[k] for k in extra) > _ROOT_PREFIX_CHARS
            or any(_is_link_block(page.links[k], page.link_chars[k], block_chars[k]) for k in extra)
        ):
            break
        root, lo, hi = parent, plo, phi
    return blocks[lo:hi]


def _find_root(
    ends: list[int],
    firsts: list[int],
    lasts: list[int],
    mass: list[int],
    total: int,
    chars: list[int],
    all_chars: int,
) -> int:
    """The deepest element holding ``_ROOT_SHARE`` of the prose (-1: the whole page).

    ``mass`` and ``chars`` are prefix sums over the blocks, an element's blocks the range
    ``[firsts[i], lasts[i])``. The root must also keep most of its parent's text: descending from
    a page whose chrome is already gone into the one long paragraph of a short policy would drop
    its headings and lists.
    """
    if not total:
        return -1
    node, node_chars = -1, all_chars
    child, last = 0, len(ends)  # the children of the page: the top-level elements
    while child < last:
        lo, hi = firsts[child], lasts[child]
        sub_chars = chars[hi] - chars[lo]
        if (
            mass[hi] - mass[lo] >= _ROOT_SHARE * total
            and sub_chars >= _ROOT_TEXT_SHARE * node_chars
        ):
            node, node_chars = child, sub_chars  # descend into the first child that qualifies
            child, last = child + 1, ends[child]
        else:
            child = ends[child]  # the next sibling
    return node


_HEADING_MARKS = {f"h{level}": "#" * level + " " for level in range(1, 7)}


def _render(page: _Page, blocks: list[int]) -> str:
    parts: list[str] = []
    kinds, texts, depths, markers, list_seqs = (
        page.kinds,
        page.texts,
        page.depths,
        page.markers,
        page.list_seqs,
    )
    prev_list = -1  # the list_seq of the previous block if it is a list item, else -1
    for k in blocks:
        kind = kinds[k]
        seq = -1
        if kind == "p" or kind == "pre":
            line = texts[k]
        elif kind == "li":
            indent = "  " * max(depths[k] - 1, 0)
            line = indent + markers[k] + " " + texts[k].replace("\n", "\n" + indent + "  ")
            seq = list_seqs[k]
        else:
            line = _HEADING_MARKS[kind] + texts[k]
        if parts:
            # items of one list are single-spaced
            parts.append("\n" if seq >= 0 and seq == prev_list else "\n\n")
        parts.append(line)
        prev_list = seq
    return unicodedata.normalize("NFC", "".join(parts))


# --------------------------------------------------------------------------------------------------
# verdicts

_STUB_WORDS = 80
_POLICY_WORDS_PER_1000 = 2
_ERROR_TITLE = re.compile(
    r"\b(?:404|403|410|500|502|503|not found|page not found|error|access denied|forbidden"
    r"|unavailable|page introuvable|seite nicht gefunden|no encontrada|non trovata"
    r"|attention required|just a moment|captcha)\b",
    re.I,
)
_JS_HINT = re.compile(
    r"enable javascript|javascript (?:is )?(?:required|disabled)|activer javascript"
    r"|javascript aktivieren|requires javascript|turn on javascript|notsupported",
    re.I,
)
_POLICY_TERMS = (  # the alternatives of _POLICY_WORDS, in order
    "privacy",
    "personal (?:data|information)",
    r"cookies?\b",
    "terms",
    "conditions",
    "legal",
    "gdpr",
    "data protection",
    "confidentialit",
    "donn[ée]es personnelles",
    "mentions l[ée]gales",
    "datenschutz",
    "nutzungsbedingungen",
    "privacidad",
    "datos personales",
    "privacy",
    "riservatezza",
    "dati personali",
    "privacybeleid",
    "persoonsgegevens",
    "prywatno",
    "danych osobowych",
    "個人情報",
    "プライバシー",
    "隐私",
    "隱私",
    "개인정보",
    "конфиденциальн",
    "персональн",
    "integritet",
    "personuppgifter",
    "personoplysninger",
    "personvern",
    "privacidade",
    "dados pessoais",
    "gizlilik",
    "kişisel veri",
    "osobních údajů",
    "soukromí",
    "الخصوصية",
)
_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")


def _factored(terms: Sequence[str]) -> str:
    """``"|".join(terms)`` factored on leading literal characters: a regex with the same matches.

    At one position, alternatives that start with different literal characters cannot both match,
    so grouping them by that character, in order within each group, changes no match; re then
    tests a character once instead of trying every alternative at every position. A group holding
    an empty or non-literal rest is left as it is (an empty alternative matches anywhere).
    """
    if len(terms) < 2 or not all(
        term and term[0] not in _REGEX_SYNTAX and term[1:2] not in ("*", "+", "?", "{")
        for term in terms
    ):
        return "|".join(terms)
    groups: dict[str, list[str]] = {}
    for term in terms:
        groups.setdefault(term[0], []).append(term[1:])
    return "|".join(
        head + (rests[0] if len(rests) == 1 else f"(?:{_factored(rests)})")
        for head, rests in groups.items()
    )


# matched against lower-cased text: re.I makes this alternation ten times slower
_POLICY_WORDS = re.compile(_factored(_POLICY_TERMS))
# 300 words (\w+ runs): possessive, so each repetition takes one whole run and never splits one
_ENOUGH_WORDS = re.compile(r"(?:\W*+\w++){300}")
_SHELL_IDS = re.compile(r"<div[^>]+id=[\"'](?:root|app|__next|___gatsby|__nuxt|main-app)[\"']")


def _verdict(text: str, title: str, html: str, tree: LexborHTMLParser) -> tuple[Verdict, str]:
    sample = text[:6000]  # verdicts need small counts and densities: a sample will do
    if _plainly_policy(sample):
        return Verdict.OK, ""
    words = len(_WORD.findall(sample))
    if words < _STUB_WORDS:
        scripts = tree.css("script")
        script_chars = sum(len(s.text(deep=False)) for s in scripts)
        noscript = " ".join(n.html or "" for n in tree.css("noscript"))
        js_reasons = []
        if _JS_HINT.search(noscript) or _JS_HINT.search(text):
            js_reasons.append("asks for JavaScript")
        if script_chars > 20 * max(len(text), 50):
            js_reasons.append(f"{len(scripts)} scripts ({script_chars} chars) around {words} words")
        if _SHELL_IDS.search(html):
            js_reasons.append("empty application root element")
        if js_reasons:
            return Verdict.JS_SHELL, "client-rendered shell: " + "; ".join(js_reasons)
        if words == 0:
            refresh = tree.css_first("meta[http-equiv='refresh' i]")
            if refresh is not None:
                return Verdict.STUB, f"no text, meta refresh to {refresh.attributes.get('content')}"
            return Verdict.EMPTY, "no text"
    heading = title + " " + text[:200]
    if words < 300 and _ERROR_TITLE.search(heading):
        return Verdict.ERROR_PAGE, f"error page: {_ERROR_TITLE.search(heading).group(0)!r}"  # type: ignore[union-attr]
    if words < _STUB_WORDS:
        return Verdict.STUB, f"only {words} words"
    hits = len(_POLICY_WORDS.findall(sample.lower()))
    if hits * 1000 < _POLICY_WORDS_PER_1000 * words:
        # a home page or product page (often what a moved policy URL redirects to) mentions
        # privacy once in passing; policies use the vocabulary every few hundred words
        return Verdict.NOT_POLICY, f"{hits} privacy/legal terms in {words} words"
    return Verdict.OK, ""


def _plainly_policy(sample: str) -> bool:
    """A quick "ok" for most policies, never where :func:`_verdict`'s full counts say otherwise.

    300 words in the first half of the sample rule out a stub, a shell and an error page; six
    privacy/legal terms pass the density test, as 6,000 characters hold at most 3,000 words.
    """
    if _ENOUGH_WORDS.match(sample, 0, 3000) is None:  # no list of words to count
        return False
    first_six = itertools.islice(_POLICY_WORDS.finditer(sample.lower()), 6)
    return len(list(first_six)) == 6


# --------------------------------------------------------------------------------------------------
# language

_STOPWORDS = {
    "en": {"the", "and", "of", "to", "we", "you", "your", "is", "that", "with"},
    "fr": {"le", "la", "les", "et", "des", "vous", "nous", "est", "pour", "vos"},
    "de": {"der", "die", "und", "das", "sie", "wir", "ihre", "nicht", "mit", "werden"},
    "es": {"el", "los", "las", "y", "que", "sus", "para", "con", "una", "por"},
    "it": {"il", "di", "che", "per", "con", "sono", "della", "gli", "delle", "nel"},
    "nl": {"de", "het", "een", "van", "en", "wij", "uw", "zijn", "niet", "voor"},
    "pt": {"os", "as", "que", "para", "com", "uma", "seus", "não", "dos", "você"},
}


def _language(tree: LexborHTMLParser, text: str) -> str:
    html = tree.css_first("html")
    lang = ""
    if html is not None:
        lang = html.attributes.get("lang") or html.attributes.get("xml:lang") or ""
    if not lang:
        meta = tree.css_first("meta[http-equiv='content-language' i]")
        if meta is not None:
            lang = meta.attributes.get("content") or ""
    lang = lang.strip().lower().replace("_", "-").split("-")[0].split(",")[0]
    if len(lang) == 2 and lang.isalpha():
        return lang
    words = _WORD.findall(text[:5000].lower())
    if len(words) < 20:
        return ""
    counts = Counter(words)  # ~1,000 words, ~300 distinct: count each once, not per language
    scores = {code: sum(counts[w] for w in stop) for code, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda c: scores[c])
    return best if scores[best] >= 0.05 * len(words) else ""


# --------------------------------------------------------------------------------------------------
# the public entry points

_CFEMAIL_SELECTOR = "[data-cfemail], a[href*='/cdn-cgi/l/email-protection#']"
_WAYBACK_START = "<!-- BEGIN WAYBACK TOOLBAR INSERT -->"
_WAYBACK_END = "<!-- END WAYBACK TOOLBAR INSERT -->"
_BINARY_MAGIC = (
    (b"%PDF-", "PDF document"),
    (b"\x89PNG", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"PK\x03\x04", "ZIP archive (e.g. a .docx)"),
    (b"\xd0\xcf\x11\xe0", "OLE document (e.g. a .doc)"),
    (b"\x1f\x8b", "gzip data"),
    (b"{\\rtf", "RTF document"),
)
_NEST_NAMES = r"(?:div|span|font|section|article|center|blockquote|table|ul|ol|dl|b|i|a)\b"
_NEST_TAG = re.compile(r"<(/?)(?i:" + _NEST_NAMES + ")")  # one scan: "" opens, "/" closes
_NEST_ANY = re.compile(r"</?" + _NEST_NAMES + r"[^>]*>", re.I)
_MAX_OPEN_CONTAINERS = 3000
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 12, 13)) + b"\x7f"
_TEXTUAL_TYPES = ("text/html", "application/xhtml", "text/plain", "application/xml", "text/xml")


def _document(text: str, title: str, language: str, verdict: Verdict, reason: str) -> Document:
    return Document(
        text=text,
        title=title,
        language=language,
        normaliser_version=NORMALISER_VERSION,
        text_hash=text_hash(text),
        verdict=verdict,
        verdict_reason=reason,
    )


def _unsupported(body: bytes, content_type: str) -> str:
    """Why the body cannot be read as a web page, or ""."""
    head = body[:16].lstrip()
    for magic, what in _BINARY_MAGIC:
        if head.startswith(magic):
            return what
    mime = content_type.split(";")[0].strip().lower()
    if (
        mime
        and not mime.startswith("text/")
        and not any(t in mime for t in _TEXTUAL_TYPES)
        and mime not in ("application/octet-stream", "unk", "unknown")
    ):
        return f"content type {mime}"
    sample = body[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs by design
        return ""
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > len(sample) // 20:
        return "binary data"
    return ""


def normalize(
    body: bytes,
    *,
    url: str = "",
    content_type: str = "",
    rules: Sequence[ExtractionRule] = (),
    captured_at: datetime | None = None,
) -> Document:
    """The normalised policy text of one archived response body, with a capture-quality verdict.

    Never raises on bad input: unreadable bodies come back as a document with a verdict.
    """
    try:
        return _normalize(body, url, content_type, rules, captured_at)
    except Exception as exc:  # a bug or a parser failure must not stop a crawl of years
        return _document("", "", "", Verdict.UNSUPPORTED, f"normaliser failed: {exc!r}"[:300])


def _normalize(
    body: bytes,
    url: str,
    content_type: str,
    rules: Sequence[ExtractionRule],
    captured_at: datetime | None,
) -> Document:
    if not body.strip():
        return _document("", "", "", Verdict.EMPTY, "empty body")
    why = _unsupported(body, content_type)
    if why:
        return _document("", "", "", Verdict.UNSUPPORTED, f"cannot extract text from {why}")
    html, _, as_is = _decode(body, content_type)
    if content_type.split(";")[0].strip().lower() == "text/plain":
        return _plain_text(html)
    start = html.find(_WAYBACK_START)
    if start >= 0:
        end = html.find(_WAYBACK_END, start)
        if end >= 0:
            html = html[:start] + html[end + len(_WAYBACK_END) :]
            as_is = False
    if len(html) > 100_000:
        flat = _flatten_runaway_nesting(html)
        as_is = as_is and flat is html
        html = flat
    # the parser reads UTF-8 bytes: a str is encoded again (html.encode() == body when as_is)
    tree = LexborHTMLParser(body if as_is else html)
    title_node = tree.css_first("title")
    title = _clean(title_node.text()).strip() if title_node is not None else ""
    for node in tree.css(_CFEMAIL_SELECTOR):
        encoded = node.attributes.get("data-cfemail") or (node.attributes.get("href") or "#")
        node.replace_with(_decode_cfemail(encoded.rsplit("#", 1)[-1]) or "")
    applicable = rules_for(url, captured_at, rules) if rules and url else []
    selected: list[LexborNode] = []
    for rule in applicable:
        for selector in rule.remove:
            for node in tree.css(selector):
                node.decompose()
    for rule in applicable:
        if rule.select:
            selected = [n for sel in rule.select for n in tree.css(sel)]
            if selected:
                break
    if selected:
        page = _walk(None, _outermost(selected))
        blocks = _select_blocks(page, use_root=False)
    else:
        page = _walk(tree.body or tree.root)
        blocks = _select_blocks(page, use_root=True)
        if not _has_words(page, blocks, _STUB_WORDS):
            # a page that is mostly links (a legal hub, a short notice): keep them
            blocks = _select_blocks(page, use_root=True, drop_link_lists=False)
    text = _render(page, blocks)
    if not title:
        first = next((page.texts[k] for k in blocks if page.kinds[k] == "h1"), "")
        title = first
    title = unicodedata.normalize("NFC", title)
    verdict, reason = _verdict(text, title, html, tree)
    return _document(text, title, _language(tree, text), verdict, reason)


def _flatten_runaway_nesting(html: str) -> str:
    """Replace container tags by paragraph breaks when thousands are left open.

    The HTML parser's scope checks walk the stack of open elements, so a page that never closes
    its ``<div>``s or ``<font>``s parses in quadratic time (minutes for a few MB).
    """
    # an opening tag is a "<" not followed by "/": most pages have too few of them in all
    opened = html.count("<")
    if opened < _MAX_OPEN_CONTAINERS or opened - html.count("</") < _MAX_OPEN_CONTAINERS:
        return html
    tags = _NEST_TAG.findall(html)
    closed = tags.count("/")
    if len(tags) - closed - closed < _MAX_OPEN_CONTAINERS:  # opened - closed
        return html
    return _NEST_ANY.sub("<p>", html)


def _has_words(page: _Page, blocks: list[int], count: int) -> bool:
    found = 0
    texts = page.texts
    for k in blocks:
        found += len(_WORD.findall(texts[k]))
        if found >= count:
            return True
    return False


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """Drop selected nodes nested inside other selected nodes; keep document order."""
    ids = {n.mem_id for n in nodes}
    out, seen = [], set()
    for node in nodes:
        if node.mem_id in seen:
            continue
        seen.add(node.mem_id)
        parent = node.parent
        while parent is not None and parent.mem_id not in ids:
            parent = parent.parent
        if parent is None:
            out.append(node)
    return out


def _plain_text(text: str) -> Document:
    paragraphs = [_clean(p).strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    body = unicodedata.normalize("NFC", "\n\n".join(p for p in paragraphs if p))
    words = len(_WORD.findall(body))
    if not words:
        return _document(body, "", "", Verdict.EMPTY, "no text")
    if words < _STUB_WORDS:
        return _document(body, "", "", Verdict.STUB, f"only {words} words")
    return _document(body, "", "", Verdict.OK, "")


def seed_markdown(doc: Document, *, site: str, archived_on: date, wayback_url: str) -> str:
    """A document in the Princeton-Leuven corpus format of the seed files."""
    header = (
        f"> *The following text is extracted and transformed from the {site} privacy policy that "
        f"was archived on {archived_on.isoformat()}. Please check the [original snapshot on the "
        f"Wayback Machine]({wayback_url}) for the most accurate reproduction.*"
    )
    return f"{header}\n\n# {doc.title}\n\n{doc.text}\n"


def iter_warc_documents(
    path: str | Path | BinaryIO, *, rules: Sequence[ExtractionRule] = ()
) -> Iterator[tuple[str, str, Document]]:
    """(url, 14-digit timestamp, document) for every response record of a WARC file.

    The timestamp is the record's WARC-Date; the body is normalised with the archived
    Content-Type and any dated extraction ``rules`` for the URL.
    """
    from warcio.archiveiterator import ArchiveIterator

    def records(stream: BinaryIO) -> Iterator[tuple[str, str, Document]]:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            warc_date = record.rec_headers.get_header("WARC-Date") or ""
            when = datetime.fromisoformat(warc_date.replace("Z", "+00:00")).astimezone(UTC)
            content_type = ""
            if record.http_headers is not None:
                content_type = record.http_headers.get_header("Content-Type") or ""
            body = record.content_stream().read()
            doc = normalize(body, url=url, content_type=content_type, rules=rules, captured_at=when)
            yield url, when.strftime("%Y%m%d%H%M%S"), doc

    if isinstance(path, str | Path):
        with open(path, "rb") as stream:
            yield from records(stream)
    else:
        yield from records(path)
