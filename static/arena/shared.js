// The shared read-only battle: copy buttons on code blocks, nothing else.
"use strict";

document.querySelectorAll(".shared .answer").forEach((answer) => window.ArenaMarkdown.addCopyButtons(answer));
