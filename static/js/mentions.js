// @mention suggestions: typing "@" and a few letters in a text area offers matching members.
// A listbox of options (ARIA pattern: the text area keeps the focus and points at the active
// option with aria-activedescendant); ArrowDown/ArrowUp choose, Enter or Tab insert, Escape
// closes. Without JavaScript "@username" typed by hand works all the same.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const url = document.body.dataset.suggestUrl;
  if (!url) return;
  // "@" at the start or after a space or punctuation that cannot continue a word or address.
  const TOKEN = /(?:^|[^A-Za-z0-9_.\-+@/=&])@([A-Za-z0-9][A-Za-z0-9_.-]{0,31})$/;
  let counter = 0;

  const enhance = (area) => {
    counter += 1;
    const listId = `mention-list-${counter}`;
    const list = document.createElement("ul");
    list.id = listId;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Members to mention");
    list.hidden = true;
    const status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    area.after(list, status);
    area.setAttribute("aria-autocomplete", "list");
    area.setAttribute("aria-controls", listId);

    let members = [];
    let active = -1;
    let start = -1;
    let timer = 0;
    let controller = null;

    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      members = [];
      active = -1;
      area.removeAttribute("aria-activedescendant");
    };
    const highlight = (index) => {
      active = index;
      list.querySelectorAll("[role='option']").forEach((option, i) => {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0) area.setAttribute("aria-activedescendant", `${listId}-${index}`);
      else area.removeAttribute("aria-activedescendant");
    };
    const choose = (index) => {
      const member = members[index];
      if (!member || start < 0) return;
      const before = area.value.slice(0, start);
      const after = area.value.slice(area.selectionStart);
      const inserted = `@${member.username} `;
      area.value = before + inserted + after.replace(/^\s/, "");
      const caret = before.length + inserted.length;
      area.setSelectionRange(caret, caret);
      close();
      area.dispatchEvent(new Event("input", { bubbles: true }));
    };
    const show = (found) => {
      members = found;
      list.replaceChildren();
      found.forEach((member, i) => {
        const option = document.createElement("li");
        option.id = `${listId}-${i}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        const name = document.createElement("span");
        name.textContent = member.display_name;
        const handle = document.createElement("span");
        handle.className = "muted";
        handle.textContent = ` @${member.username}`;
        option.append(name, handle);
        // mousedown, not click: the text area must keep the focus (and the caret).
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          choose(i);
        });
        list.append(option);
      });
      list.hidden = found.length === 0;
      status.textContent = found.length
        ? `${found.length} ${found.length === 1 ? "member" : "members"} found: arrow keys to choose, Enter to insert.`
        : "";
      highlight(found.length ? 0 : -1);
    };
    const lookup = async () => {
      const match = TOKEN.exec(area.value.slice(0, area.selectionStart));
      if (!match || area.selectionStart !== area.selectionEnd) { close(); return; }
      start = area.selectionStart - match[1].length - 1;
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const response = await fetch(`${url}?q=${encodeURIComponent(match[1])}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (!response.ok) { close(); return; }
        const body = await response.json();
        show(Array.isArray(body.members) ? body.members : []);
      } catch (error) {
        if (error.name !== "AbortError") close();
      }
    };

    area.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, 150);
    });
    area.addEventListener("keydown", (event) => {
      if (list.hidden || members.length === 0) return;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight((active + 1) % members.length);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight((active - 1 + members.length) % members.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    area.addEventListener("blur", () => window.setTimeout(close, 100));
  };

  document.querySelectorAll("form[method='post'] textarea:not([data-mentions='off'])").forEach(enhance);
});
