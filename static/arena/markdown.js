// Answers on screen. Model text is untrusted, so while an answer streams it is drawn with a
// small markdown subset built from DOM nodes and text nodes only: nothing here parses model
// text as HTML. A finished answer shows the server's sanitised rendering instead (fromServerHtml).
// Both follow the rules of arena/markdown.py: controls shown, not applied; links show their host
// and ask before leaving for another; images are not loaded.
"use strict";

window.ArenaMarkdown = (function () {
  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
  const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
  const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
  const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
  const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
  const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
  const QUOTE = /^ {0,3}>[ \t]?(.*)$/;
  const CONTINUATION = /^(?: {2,}|\t)(.*)$/;
  // Code spans, strong, emphasis, strike-through and http(s) links: the usual inline markdown.
  const INLINE = new RegExp([
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)",
    "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*",
    "__(?=\\S)([\\s\\S]*?\\S)__(?!\\w)",
    "\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*",
    "(?<!\\w)_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?!\\w)",
    "~~(?=\\S)([\\s\\S]*?\\S)~~",
    "\\[([^\\]\\n]+)\\]\\((https?://[^\\s)]+)\\)",
    "!\\[([^\\]\\n]*)\\]\\((https?://[^\\s)]+)\\)",
  ].join("|"), "g");
  const ESCAPE_SEQUENCE = /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?/g;
  const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
  const LINK_REL = "noopener noreferrer nofollow ugc";

  function element(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  // Terminal escape sequences are dropped; bidi embeddings, overrides and isolates and other
  // controls show as "⟨U+202E⟩" rather than act. Tab and newlines stay.
  function neutralise(text) {
    return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROL, (c) =>
      `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
  }

  function linkTarget(href) {
    try {
      const url = new URL(href);
      return url.protocol === "mailto:" ? url.pathname : url.host;
    } catch (err) {
      return href;
    }
  }

  function labelIsAddress(label, href) {
    const bare = href.replace(/\/+$/, "");
    return [bare, bare.replace(/^[a-z]+:\/\//i, "")].includes(label.trim().replace(/\/+$/, ""));
  }

  // A link drawn from model text: it opens in a new tab, says where it goes, and the page asks
  // before it leaves for another host (the click listener at the end of this file).
  function answerLink(href, label) {
    const link = element("a");
    link.href = href;
    link.title = href;
    link.target = "_blank";
    link.rel = LINK_REL;
    if (typeof label === "string") link.textContent = label;
    else link.append(label);
    return link;
  }

  function appendTarget(parent, link, href) {
    if (labelIsAddress(link.textContent, href)) return;
    const target = element("span", "link-target");
    target.textContent = `(${linkTarget(href)})`;
    parent.append(" ", target);
  }

  function inline(parent, text) {
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      let node;
      if (m[1]) {
        node = element("code");
        node.textContent = m[2];
      } else if (m[3] !== undefined || m[4] !== undefined) {
        node = element("strong");
        inline(node, m[3] ?? m[4]);
      } else if (m[5] !== undefined || m[6] !== undefined) {
        node = element("em");
        inline(node, m[5] ?? m[6]);
      } else if (m[7] !== undefined) {
        node = element("del");
        inline(node, m[7]);
      } else if (m[11] !== undefined) {
        const alt = inline(element("span"), m[10]).textContent || "no description";
        node = answerLink(m[11], `Image: ${alt}`);
      } else {
        node = answerLink(m[9], inline(document.createDocumentFragment(), m[8]));
      }
      parent.append(node);
      if (node.tagName === "A") appendTarget(parent, node, node.getAttribute("href"));
      last = m.index + m[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
    return parent;
  }

  function codeBlock(code, language) {
    const pre = element("pre");
    const codeNode = element("code", language ? `language-${language}` : "");
    codeNode.textContent = code ? code + "\n" : "";
    pre.append(codeNode);
    return pre;
  }

  // Split text into blocks, each with the source it came from, so that a re-render while
  // streaming can keep the blocks that did not change (and the focus on their copy buttons).
  function blocks(text) {
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    const out = [];
    let paragraph = [];
    let list = null;

    const flushParagraph = () => {
      if (!paragraph.length) return;
      const lines_ = paragraph;
      out.push({ source: "p\n" + lines_.join("\n"), build: () => inline(element("p"), lines_.join("\n")) });
      paragraph = [];
    };
    const flushList = () => {
      if (!list) return;
      const items = list.items.map((item) => item.join("\n"));
      const { ordered, start } = list;
      out.push({
        source: `${ordered ? "ol" + start : "ul"}\n` + items.join("\u0000"),
        build: () => {
          const node = element(ordered ? "ol" : "ul");
          if (ordered && start !== 1) node.start = start;
          items.forEach((item) => node.append(inline(element("li"), item)));
          return node;
        },
      });
      list = null;
    };
    const flush = () => { flushParagraph(); flushList(); };

    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const fence = FENCE.exec(line);
      if (fence) {
        flush();
        const marker = fence[1];
        const close = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}[ \\t]*$`);
        const body = [];
        for (i += 1; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i]);
        const code = body.join("\n");
        const language = fence[2];
        out.push({ source: `pre ${language}\n${code}`, build: () => codeBlock(code, language) });
        continue;
      }
      if (!line.trim()) { flush(); continue; }
      if (paragraph.length && SETEXT.test(line) && !list) {
        const level = line.trim()[0] === "=" ? 1 : 2;
        const title = paragraph.join("\n");
        paragraph = [];
        out.push({ source: `h${level}\n${title}`, build: () => inline(element(`h${level}`), title) });
        continue;
      }
      if (RULE.test(line)) { flush(); out.push({ source: "hr", build: () => element("hr") }); continue; }
      const heading = HEADING.exec(line);
      if (heading) {
        flush();
        const level = heading[1].length;
        const title = heading[2];
        out.push({ source: `h${level}\n${title}`, build: () => inline(element(`h${level}`), title) });
        continue;
      }
      const quote = QUOTE.exec(line);
      if (quote) {
        flush();
        const inner = [quote[1]];
        while (i + 1 < lines.length && QUOTE.test(lines[i + 1])) inner.push(QUOTE.exec(lines[++i])[1]);
        const body = inner.join("\n");
        out.push({
          source: "blockquote\n" + body,
          build: () => {
            const node = element("blockquote");
            blocks(body).forEach((b) => node.append(b.build()));
            return node;
          },
        });
        continue;
      }
      const bullet = BULLET.exec(line);
      const ordered = ORDERED.exec(line);
      if (bullet || ordered) {
        flushParagraph();
        const isOrdered = Boolean(ordered);
        if (list && list.ordered !== isOrdered) flushList();
        if (!list) list = { ordered: isOrdered, start: ordered ? Number(ordered[1]) : 1, items: [] };
        list.items.push([bullet ? bullet[1] : ordered[2]]);
        continue;
      }
      const continuation = CONTINUATION.exec(line);
      if (list && continuation) { list.items[list.items.length - 1].push(continuation[1]); continue; }
      flushList();
      paragraph.push(line);
    }
    flush();
    return out;
  }

  // Draw streaming markdown into container, rebuilding only the blocks whose source changed.
  function renderStreaming(container, text) {
    const parsed = blocks(neutralise(text));
    const existing = Array.from(container.children);
    let same = 0;
    while (same < parsed.length && same < existing.length && existing[same].dataset.source === parsed[same].source) same++;
    existing.slice(same).forEach((node) => node.remove());
    parsed.slice(same).forEach((block) => {
      let node = block.build();
      if (node.tagName === "PRE") node = withCopyButton(node);
      node.dataset.source = block.source;
      container.append(node);
    });
  }

  // The server's rendering is sanitised (markdown-it with raw HTML escaped, then nh3). Table
  // alignment arrives as style attributes, which the page's CSP forbids; it becomes a class.
  function fromServerHtml(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    doc.body.querySelectorAll("[style]").forEach((node) => {
      const align = /text-align:\s*(left|right|center)/.exec(node.getAttribute("style") || "");
      node.removeAttribute("style");
      if (align) node.classList.add(`align-${align[1]}`);
    });
    doc.body.querySelectorAll("a").forEach((link) => { link.target = "_blank"; link.rel = LINK_REL; });
    const fragment = document.createDocumentFragment();
    Array.from(doc.body.childNodes).forEach((node) => fragment.append(document.adoptNode(node)));
    addCopyButtons(fragment);
    return fragment;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const scratch = element("textarea", "offscreen");
    scratch.value = text;
    document.body.append(scratch);
    scratch.select();
    document.execCommand("copy");
    scratch.remove();
  }

  function withCopyButton(pre) {
    const wrapper = element("div", "code-block");
    const button = element("button", "copy");
    button.type = "button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy code");
    button.addEventListener("click", async () => {
      try {
        await copyText(pre.textContent.replace(/\n$/, ""));
        button.textContent = "Copied";
        button.setAttribute("aria-label", "Code copied");
      } catch (err) {
        button.textContent = "Copy failed";
      }
      setTimeout(() => { button.textContent = "Copy"; button.setAttribute("aria-label", "Copy code"); }, 2000);
    });
    wrapper.append(button, pre);
    return wrapper;
  }

  function addCopyButtons(container) {
    container.querySelectorAll("pre").forEach((pre) => {
      if (pre.parentElement && pre.parentElement.classList.contains("code-block")) return;
      const placeholder = document.createComment("");
      pre.replaceWith(placeholder);
      placeholder.replaceWith(withCopyButton(pre));
    });
  }

  // A link in an answer that leaves for another host asks first, in the browser's own dialog,
  // which no answer can draw. Delegated, so that it covers answers drawn at any time.
  function confirmOutsideLink(event) {
    if (event.type === "auxclick" && event.button !== 1) return;
    const link = event.target instanceof Element && event.target.closest(".answer a[href]");
    if (!link) return;
    let url;
    try { url = new URL(link.href, window.location.href); } catch (err) { event.preventDefault(); return; }
    if (url.origin === window.location.origin) return;
    const where = url.protocol === "mailto:" ? `an e-mail to ${url.pathname}` : url.host;
    const question = `This link in a model's answer leaves the arena for ${where}:\n\n${url.href}\n\nOpen it in a new tab?`;
    if (!window.confirm(question)) event.preventDefault();
  }
  document.addEventListener("click", confirmOutsideLink);
  document.addEventListener("auxclick", confirmOutsideLink);

  return { renderStreaming, fromServerHtml, addCopyButtons, neutralise };
})();
