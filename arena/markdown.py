"""Model answers are untrusted: markdown becomes HTML with raw HTML escaped, then nh3 sanitises it."""

import re

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "s",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"},
                      "th": {"class"}, "td": {"class"}, "ol": {"start"}}
# The CSP forbids style attributes, so table alignment travels as a class (see base.css).
_ALIGN = re.compile(r' style="text-align:(left|center|right)"')


def render_markdown(text: str) -> str:
    return nh3.clean(
        _ALIGN.sub(r' class="align-\1"', _md.render(text)),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )
