// Search: "/" focuses the search box; the ask page lists similar questions while a title is typed.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-search-box]") || document.getElementById("site-search-q");

  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || !box) return;
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing) return;
    event.preventDefault();
    box.focus();
    if (typeof box.select === "function") box.select();
  });

  // Similar questions: only on a page whose form posts to the ask URL and has a title field.
  const askForm = document.querySelector("form[action$='/questions/ask']");
  const title = askForm ? askForm.querySelector("input[name='title']") : null;
  if (!askForm || !title) return;

  const panel = document.createElement("section");
  panel.className = "similar-hints";
  panel.setAttribute("aria-live", "polite");
  panel.hidden = true;
  const heading = document.createElement("h2");
  heading.textContent = "Similar questions — maybe yours is answered already";
  const list = document.createElement("ul");
  panel.append(heading, list);
  title.closest(".field")?.after(panel) ?? title.after(panel);

  let timer = 0;
  let controller = null;
  const show = (results) => {
    list.replaceChildren();
    for (const r of results) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = r.url;
      link.textContent = r.title;
      const count = document.createElement("span");
      count.className = "muted";
      if (r.kind === "article") {
        count.textContent = " article";
      } else {
        const answers = `${r.answer_count} ${r.answer_count === 1 ? "answer" : "answers"}`;
        count.textContent = ` ${answers}${r.accepted ? " · accepted" : ""}`;
      }
      item.append(link, count);
      list.append(item);
    }
    panel.hidden = results.length === 0;
  };
  const lookup = async () => {
    const text = title.value.trim();
    if (text.length < 8) { show([]); return; }
    if (controller) controller.abort();
    controller = new AbortController();
    try {
      const url = `/search/similar?format=json&title=${encodeURIComponent(text)}`;
      const response = await fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal });
      if (!response.ok) return;
      const body = await response.json();
      show(Array.isArray(body.results) ? body.results : []);
    } catch (error) {
      if (error.name !== "AbortError") show([]);
    }
  };
  title.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookup, 350);
  });
});
