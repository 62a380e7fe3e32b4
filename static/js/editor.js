// Article editor: a small Markdown toolbar, a live preview and uploads (the Image button, paste,
// drag and drop, the file field). The form works without this file: its Preview button
// re-renders the page on the server, and the file field posts to /uploads in a new tab.
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
    // One tab stop for the whole toolbar; arrow keys, Home and End move between its buttons.
    const buttons = Array.from(toolbar.querySelectorAll("button"));
    buttons.forEach((button, i) => { button.tabIndex = i === 0 ? 0 : -1; });
    const moves = {
      ArrowRight: (i) => (i + 1) % buttons.length,
      ArrowLeft: (i) => (i - 1 + buttons.length) % buttons.length,
      Home: () => 0,
      End: () => buttons.length - 1,
    };
    toolbar.addEventListener("keydown", (event) => {
      const i = buttons.indexOf(document.activeElement);
      if (i < 0 || !moves[event.key]) return;
      event.preventDefault();
      const next = moves[event.key](i);
      buttons[i].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
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

  // Uploads: each file goes to /uploads; its Markdown replaces a placeholder at the cursor.
  const controls = editor.querySelector("[data-upload-controls]");
  const uploadForm = controls && document.getElementById(controls.getAttribute("data-upload-form"));
  if (!controls || !uploadForm) return;
  const input = controls.querySelector("[data-upload-input]");
  const status = controls.querySelector("[data-upload-status]");
  const uploadButton = controls.querySelector("[data-upload-button]");
  const say = (text) => {
    if (status) status.textContent = text;
  };
  const MAX_FILES = 10;
  let uploads = 0;
  const replace = (marker, text) => {
    const at = textarea.value.indexOf(marker);
    if (at < 0) {
      if (text) textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
      return;
    }
    // A caret just after the placeholder stays after what replaces it; elsewhere it keeps
    // its place in the text around.
    const after = textarea.selectionStart === at + marker.length;
    textarea.setRangeText(text, at, at + marker.length, after ? "end" : "preserve");
  };
  const upload = async (file) => {
    const label = file.name || "pasted image";
    const marker = `![Uploading ${label.replace(/[\[\]()]/g, "")} (${++uploads})…]()`;
    textarea.setRangeText(marker, textarea.selectionStart, textarea.selectionEnd, "end");
    say(`Uploading ${label}…`);
    const body = new FormData();
    const field = uploadForm.querySelector('input[name="csrf_token"]');
    body.append("csrf_token", field ? field.value : token ? token.content : "");
    body.append("file", file, file.name || "pasted.png");
    let message = "The upload failed; please try again.";
    try {
      const response = await fetch(uploadForm.action, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.content : "", Accept: "application/json" },
      });
      const type = response.headers.get("Content-Type") || "";
      const data = type.includes("application/json") ? await response.json() : null;
      if (response.ok && data && data.markdown) {
        replace(marker, data.markdown);
        say(`Uploaded ${label}.`);
        schedule();
        return;
      }
      if (data && (data.error || data.message)) message = data.error || data.message;
      else if (response.redirected) message = "Sign in again to upload files.";
    } catch (error) {
      message = "The upload failed: the server could not be reached.";
    }
    replace(marker, "");
    say(message);
  };
  const uploadAll = async (files) => {
    for (const file of Array.from(files).slice(0, MAX_FILES)) await upload(file);
  };

  // The file field uploads as soon as a file is chosen; its Upload button is for forms
  // without this script.
  if (uploadButton) uploadButton.hidden = true;
  uploadForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input && input.files.length) uploadAll(input.files);
  });
  if (input) {
    input.addEventListener("change", async () => {
      await uploadAll(input.files);
      input.value = "";
    });
    const pick = editor.querySelector("[data-upload-pick]");
    if (pick) pick.addEventListener("click", () => input.click());
  }
  textarea.addEventListener("paste", (event) => {
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
    if (!files.length) return;
    event.preventDefault();
    uploadAll(files);
  });
  const carriesFiles = (event) =>
    event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
  textarea.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    editor.classList.add("editor--dropping");
  });
  textarea.addEventListener("dragleave", () => editor.classList.remove("editor--dropping"));
  textarea.addEventListener("drop", (event) => {
    editor.classList.remove("editor--dropping");
    if (!carriesFiles(event) || !event.dataTransfer.files.length) return;
    event.preventDefault();
    uploadAll(event.dataTransfer.files);
  });
});
