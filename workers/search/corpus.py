"""Documents on disk -> passages small enough to put in a prompt.

A corpus is a folder of .txt, .md and .html files. The demo corpus is built offline
from the standard library's own documentation (`pydoc`), so retrieval can be shown
and tested without any download.
"""

from __future__ import annotations

import importlib
import pydoc
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".text", ".rst"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES
MAX_FILE_BYTES = 5_000_000
PASSAGE_WORDS = 120

# Modules whose documentation is small enough to embed quickly on a CPU and varied
# enough that questions about one are not answered by another.
DEMO_MODULES = (
    "base64", "bisect", "calendar", "colorsys", "copy", "csv", "dataclasses", "difflib", "fnmatch",
    "fractions", "functools", "getpass", "glob", "gzip", "hashlib", "heapq", "html", "json",
    "keyword", "math", "operator", "os.path", "platform", "pprint", "random", "secrets", "shlex",
    "shutil", "statistics", "string", "tempfile", "textwrap", "timeit", "uuid", "zlib",
)


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the corpus folder
    title: str
    text: str


@dataclass(frozen=True)
class Passage:
    id: int
    source: str
    title: str
    text: str

    def to_json(self) -> dict:
        return {"id": self.id, "source": self.source, "title": self.title, "text": self.text}

    @classmethod
    def from_json(cls, data: dict) -> Passage:
        return cls(id=data["id"], source=data["source"], title=data["title"], text=data["text"])


def build_pydoc_corpus(directory: str | Path, modules: tuple[str, ...] = DEMO_MODULES) -> Path:
    """Write one plain-text file per module, rendered by pydoc, into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in modules:
        text = pydoc_text(name)
        path = directory / f"{name}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return directory


def pydoc_text(name: str) -> str:
    """Plain-text pydoc page of module `name`, cleaned up so that it is the same on every run."""
    module = importlib.import_module(name)
    body = pydoc.plaintext.document(module, name)
    lines = []
    for line in body.splitlines():
        # Class bodies are drawn with a " |  " gutter; without it blank lines separate entries again.
        match = re.match(r"^((?:\s*\|)+)(.*)$", line)
        if match:
            line = " " * len(match.group(1)) + match.group(2)
        if re.fullmatch(r"\s*-{10,}\s*", line):
            line = ""
        lines.append(line.rstrip())
    text = "\n".join(lines)
    # Addresses differ per process and the FILE section per host; both would change the index key.
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", text)
    text = re.sub(r"\nFILE\n    .*\n", "\n", text)
    text = re.sub(r"\n\s*__dict__\n\s*dictionary for instance variables.*\n", "\n", text)
    text = re.sub(r"\n\s*__weakref__\n\s*list of weak references to the object.*\n", "\n", text)
    text = re.sub(r"\n\s*Data descriptors defined here:\n(?=\s*\n)", "\n", text)
    text = re.sub(r"\n\s*The following documentation is automatically generated.*?above\.\n", "\n",
                  text, flags=re.DOTALL)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return f"Python documentation for the {name} module\n\n{text.strip()}\n"


def load_documents(directory: str | Path) -> list[Document]:
    directory = Path(directory)
    documents = []
    for path in sorted(directory.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or not path.is_file() or _hidden(path, directory):
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        suffix = path.suffix.lower()
        if suffix in HTML_SUFFIXES:
            title, text = html_to_text(raw)
        elif suffix in MARKDOWN_SUFFIXES:
            title, text = markdown_to_text(raw)
        else:
            title, text = _first_line(raw), raw
        documents.append(Document(source=str(path.relative_to(directory)), title=title or path.stem, text=text))
    return documents


def split_passages(documents: list[Document], *, max_words: int = PASSAGE_WORDS) -> list[Passage]:
    """Pack paragraphs greedily into passages of at most `max_words` words.

    A paragraph longer than that is cut at word boundaries. Each passage keeps its
    document's title so that "json" in a question can find a passage about dumps().
    """
    passages: list[Passage] = []
    for doc in documents:
        for chunk in _chunks(doc.text, max_words):
            passages.append(Passage(id=len(passages), source=doc.source, title=doc.title, text=chunk))
    return passages


def _chunks(text: str, max_words: int) -> list[str]:
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        words = paragraph.split()
        if len(words) > max_words:
            if current:
                chunks.append("\n\n".join(current))
                current, size = [], 0
            for start in range(0, len(words), max_words):
                chunks.append(" ".join(words[start : start + max_words]))
            continue
        if size + len(words) > max_words and current:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        current.append(_dedent(paragraph))
        size += len(words)
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _dedent(paragraph: str) -> str:
    lines = paragraph.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:].rstrip() for line in lines)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


class _HTMLText(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
             "pre", "section", "article", "header", "footer", "blockquote", "dt", "dd", "hr"}
    SKIP = {"script", "style", "noscript", "template", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, text) of an HTML page: scripts, styles and markup dropped, blocks kept as paragraphs."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n[ \t]+", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    title = " ".join("".join(parser.title).split())
    if not title:
        title = _first_line(text)
    return title, text


def markdown_to_text(markdown: str) -> tuple[str, str]:
    """(title, text) of a Markdown file: link targets, images and emphasis markers dropped."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"^```.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\*\*|__|`)", "", text)
    title = ""
    heading = re.search(r"^#{1,6}\s+(.+)$", text, flags=re.MULTILINE)
    if heading:
        title = heading.group(1).strip()
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.MULTILINE)
    return title or _first_line(text), text.strip()
