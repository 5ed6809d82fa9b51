from arena.markdown import render_markdown
from tests.arena.html_elements import elements


def test_it_renders_markdown_and_code():
    html = render_markdown("# Title\n\n**bold** and `x`\n\n```python\nprint(1)\n```")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert '<code class="language-python">print(1)' in html


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "[click](javascript:alert(3))",
    '<a href="javascript:alert(4)" onclick="alert(5)">x</a>',
    '<iframe src="//evil"></iframe>',
    "![i](javascript:alert(6))",
    "[x](JaVaScRiPt:alert(8)) [y](data:text/html;base64,PHNjcmlwdD4=)",
    '<div style="background:url(javascript:alert(7))">d</div>',
]


def test_it_neutralises_hostile_html():
    for payload in HOSTILE:
        html = render_markdown(payload)
        for tag, attrs in elements(html):
            assert tag not in {"script", "iframe", "div", "object", "embed", "style"}, (payload, html)
            assert not any(name.startswith("on") or name == "style" for name in attrs), (payload, html)
            for name in ("href", "src"):
                assert not (attrs.get(name) or "").lower().startswith(("javascript", "data")), (payload, html)
    assert "&lt;script&gt;" in render_markdown(HOSTILE[0])  # shown as text, not run


def test_links_get_safe_rel():
    html = render_markdown("[site](https://example.org)")
    assert 'href="https://example.org"' in html and "noopener" in html


def test_tables_align_by_class_and_strikethrough_survives():
    html = render_markdown("| a | b |\n|:-:|--:|\n| 1 | 2 |\n\n~~gone~~")
    assert '<th class="align-center">a</th>' in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html  # the CSP would block inline styles
    assert "<s>gone</s>" in html


def test_a_link_shows_its_host_and_opens_in_a_new_tab():
    html = render_markdown("[A is better](https://evil.example:443/vote?c=a) and <https://example.org/>")
    (link, target, address) = [e for e in elements(html) if e[0] in {"a", "span"}]
    assert link == ("a", {"href": "https://evil.example:443/vote?c=a", "title": "https://evil.example:443/vote?c=a",
                          "target": "_blank", "rel": "noopener noreferrer nofollow ugc"})
    assert target == ("span", {"class": "link-target"}) and "(evil.example)</span>" in html
    assert address[0] == "a" and html.count("link-target") == 1  # a bare address shows itself


def test_a_link_says_the_host_it_really_goes_to():
    assert "(evil.com)" in render_markdown("[arena.local](https://arena.local@evil.com/login)")
    assert "(xn--pple-43d.com)" in render_markdown("[apple](https://\u0430pple.com)")  # Cyrillic а, in ASCII form
    assert (render_markdown("[log in](/accounts/login)")
            == '<p>log in <span class="link-target">(/accounts/login)</span></p>\n')


def test_images_are_not_loaded_but_linked_by_their_alt_text():
    html = render_markdown("![a *chart*](https://tracker.example/pixel.png) ![local](/static/x.png) "
                           "![](data:image/png;base64,AA==)")
    assert "<img" not in html
    assert '>Image: a chart</a> <span class="link-target">(tracker.example)</span>' in html
    assert "Image: local" in html and "Image: no description" in html and "data:" not in html


def test_bidi_overrides_controls_and_escape_sequences_are_shown_not_applied():
    text = "abc\u202edcba\u202c \u2066x\u2069 \x1b[31mred\x1b[0m bell\x07 nul\x00 c1\x85 tab\tok"
    html = render_markdown(text + "\n\n```\nif x:\u202e # }\n```")
    for char in "\u202e\u202c\u2066\u2069\x1b\x07\x00\x85":
        assert char not in html
    assert "abc⟨U+202E⟩dcba⟨U+202C⟩ ⟨U+2066⟩x⟨U+2069⟩ red bell⟨U+0007⟩ nul⟨U+0000⟩ c1⟨U+0085⟩ tab\tok" in html
    assert "if x:⟨U+202E⟩ # }" in html  # in code too
    assert "\u200f" in render_markdown("\u05e9\u05dc\u05d5\u05dd\u200f!")  # a mark stays: right-to-left text needs it
