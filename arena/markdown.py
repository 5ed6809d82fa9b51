"""Model answers are untrusted: markdown becomes HTML with raw HTML escaped, then nh3 sanitises it.

An answer must not be able to speak for the page, so beyond sanitising:
- bidi embeddings, overrides and isolates, C0/C1 controls (but tab and newlines) and terminal escape
  sequences are not applied: controls show as a visible "⟨U+202E⟩", escape sequences are dropped.
  The bidi marks (U+200E, U+200F, U+061C) stay: they are invisible strong letters that correct
  Arabic and Hebrew text needs, and they cannot reverse a run of text the way an override can.
  Only the display changes; the stored answer keeps what the model wrote.
- a link shows where it goes (its host after the label, unless the label is the address) and opens
  in a new tab (the page asks before it leaves for another host, in static/arena/markdown.js);
- images are not loaded (a remote image would tell its server who reads the answer, and when):
  they become their alt text, linked to the image.

static/arena/markdown.js draws streaming answers by the same rules; keep the two in step.
"""

import re
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "s", "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "span": {"class"},
                      "th": {"class"}, "td": {"class"}, "ol": {"start"}}
LINK_REL = "noopener noreferrer nofollow ugc"
LINK_SCHEMES = {"http", "https", "mailto"}
# The CSP forbids style attributes, so table alignment travels as a class (see base.css).
_ALIGN = re.compile(r' style="text-align:(left|center|right)"')
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
                              r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def neutralise_controls(text: str) -> str:
    """The text as it should be shown: escape sequences dropped, controls made visible."""
    return _CONTROL.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", _ESCAPE_SEQUENCE.sub("", text))


def link_target(href: str) -> str:
    """What a reader is told about where a link goes: the host (in its ASCII form, as the
    browser would ask for it) or, for mail, the address."""
    parts = urlsplit(href)
    if parts.scheme == "mailto":
        return parts.path
    host = parts.netloc.rpartition("@")[2].lower()
    name, _, port = host.rpartition(":") if ":" in host and not host.endswith("]") else (host, "", "")
    return name if port == _DEFAULT_PORTS.get(parts.scheme) else host


def _label_is_address(label: str, href: str) -> bool:
    label = label.strip().rstrip("/")
    bare = href.rstrip("/")
    return label in {bare, bare.split("://", 1)[-1], bare.removeprefix("mailto:")}


def _target_tokens(text: str) -> list[Token]:
    span = Token("link_target_open", "span", 1, attrs={"class": "link-target"})
    content = Token("text", "", 0, content=f"({text})")
    return [Token("text", "", 0, content=" "), span, content, Token("link_target_close", "span", -1)]


def _plain_text(tokens: list[Token]) -> str:
    return "".join(t.content for t in tokens if t.type in {"text", "code_inline"})


def _is_absolute(href: str) -> bool:
    return urlsplit(href).scheme in LINK_SCHEMES


def _rewrite_inline(children: list[Token], *, in_link: bool = False) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(children):
        token = children[i]
        if token.type == "image":
            alt = Token("text", "", 0, content=f"Image: {_plain_text(token.children or []) or 'no description'}")
            src = token.attrGet("src") or ""
            if _is_absolute(src) and not in_link:
                link = Token("link_open", "a", 1, attrs={"href": src, "title": src})
                out += [link, alt, Token("link_close", "a", -1), *_target_tokens(link_target(src))]
            else:
                out.append(alt)
        elif token.type == "link_open":
            depth, end = 1, i + 1
            while end < len(children) and depth:
                depth += {"link_open": 1, "link_close": -1}.get(children[end].type, 0)
                end += 1
            inner = _rewrite_inline(children[i + 1:end - 1], in_link=True)
            href = token.attrGet("href") or ""
            label = _plain_text(inner)
            if _is_absolute(href):
                out += [Token("link_open", "a", 1, attrs={"href": href, "title": href}), *inner,
                        Token("link_close", "a", -1)]
                if not _label_is_address(label, href):
                    out += _target_tokens(link_target(href))
            else:
                out += [*inner, *_target_tokens(href)]
            i = end
            continue
        else:
            out.append(token)
        i += 1
    return out


def _answer_links_and_images(state: StateCore) -> None:
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = _rewrite_inline(token.children)


_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_md.core.ruler.push("answer_links_and_images", _answer_links_and_images)


def render_markdown(text: str) -> str:
    return nh3.clean(
        _ALIGN.sub(r' class="align-\1"', _md.render(neutralise_controls(text))),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
