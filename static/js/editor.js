// Article editor: a small Markdown toolbar and a live preview. The form works without this file
// (its Preview button re-renders the page on the server).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const editor = document.querySelector("[data-editor]");
  if (!editor) return;
  const textarea = editor.querySelector("textarea");
  const toolbar = editor.querySelector(".editor__toolbar");
  const previewBox = editor.querySelector(".editor__preview");
  const preview = editor.querySelector("[data-preview]");
  const previewUrl = editor.getAttribute("data-preview-url");
  const form = editor.closest("form");
  const token = document.querySelector('meta[name="csrf-token"]');
  if (!textarea || !form) return;

  // Wrap the selection (or a placeholder) in Markdown.
  const snippets = {
    bold: ["**", "**", "bold text"],
    italic: ["_", "_", "italic text"],
    heading: ["\n## ", "\n", "Heading"],
    link: ["[", "](https://)", "link text"],
    wikilink: ["[[", "]]", "Article title"],
    code: ["\n```\n", "\n```\n", "code"],
    list: ["\n- ", "\n", "item"],
    table: ["\n| Column | Column |\n| --- | --- |\n| ", " | |\n", "cell"],
  };
  const insert = (kind) => {
    const [before, after, placeholder] = snippets[kind];
    const start = textarea.selectionStart;
    const end = textarea.selectionEnd;
    const selected = textarea.value.slice(start, end) || placeholder;
    textarea.setRangeText(before + selected + after, start, end, "end");
    textarea.selectionStart = start + before.length;
    textarea.selectionEnd = start + before.length + selected.length;
    textarea.focus();
    schedule();
  };
  if (toolbar) {
    toolbar.hidden = false;
    toolbar.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-md]");
      if (button) insert(button.getAttribute("data-md"));
    });
  }

  // Live preview: the server renders and sanitises, exactly as on save.
  let timer = null;
  let sequence = 0;
  const render = async () => {
    if (!previewUrl || !preview || !previewBox) return;
    const mine = ++sequence;
    const body = new FormData();
    body.append("body", textarea.value);
    const kind = form.querySelector('input[name="article_type"]:checked');
    body.append("article_type", kind ? kind.value : "tip");
    try {
      const response = await fetch(previewUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.content : "", Accept: "application/json" },
      });
      const data = await response.json();
      if (mine !== sequence) return; // a newer request is on its way
      previewBox.hidden = false;
      if (response.ok) {
        // The HTML comes from the server's sanitiser (the same one stored pages use).
        preview.innerHTML = data.html;
      } else {
        preview.textContent = Object.values(data.errors || {}).flat().join(" ");
      }
    } catch (error) {
      preview.textContent = "The preview is unavailable right now; your text is safe.";
    }
  };
  const schedule = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(render, 400);
  };
  textarea.addEventListener("input", schedule);
  form.querySelectorAll('input[name="article_type"]').forEach((el) => el.addEventListener("change", schedule));
  const previewButton = form.querySelector("[data-preview-button]");
  if (previewButton) {
    previewButton.addEventListener("click", (event) => {
      event.preventDefault();
      render();
    });
  }
  if (textarea.value.trim()) schedule();
});
