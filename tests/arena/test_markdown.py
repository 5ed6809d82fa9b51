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
