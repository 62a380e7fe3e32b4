// Drafts and unsaved changes. A writing form marked data-unsaved-guard asks before the page is
// left with changes nothing has kept; with data-draft-url it also keeps its text on the server
// as the member types (the form's "Save draft" button does the same without this file).
"use strict";

(() => {
  const SAVE_AFTER_MS = 1500; // quiet time after the last keystroke before a draft is saved
  const RETRY_AFTER_MS = 10000; // after a refused or failed save
  const KEEPALIVE_MAX = 60000; // browsers refuse larger keepalive requests
  const SKIPPED = new Set(["csrf_token", "next", "draft_kind", "draft_target", "preview"]);

  const snapshot = (form) => {
    const fields = [];
    for (const [name, value] of new FormData(form)) {
      if (!SKIPPED.has(name) && typeof value === "string") fields.push([name, value]);
    }
    return JSON.stringify(fields);
  };

  const setup = (form, token) => {
    let kept = snapshot(form); // what the page came with, or what the last draft save kept
    let sending = false;
    form.addEventListener("submit", () => {
      sending = true;
    });
    window.addEventListener("beforeunload", (event) => {
      if (sending || snapshot(form) === kept) return;
      event.preventDefault();
      event.returnValue = "";
    });

    const url = form.getAttribute("data-draft-url");
    if (!url || !token) return;
    const status = form.querySelector("[data-draft-status]");
    const value = (name) => {
      const field = form.elements.namedItem(name);
      if (!field) return "";
      if (field instanceof RadioNodeList) return field.value || "";
      return typeof field.value === "string" ? field.value : "";
    };
    let timer = 0;
    let inFlight = false;

    const save = (leaving) => {
      window.clearTimeout(timer);
      timer = 0;
      const current = snapshot(form);
      if (current === kept || inFlight || sending) return;
      const body = JSON.stringify({
        kind: value("draft_kind"),
        target: value("draft_target"),
        title: value("title"),
        body: value("body"),
        tags: value("tags"),
        article_type: value("article_type"),
        base_revision: value("base_revision"),
      });
      inFlight = true;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token },
        body,
        keepalive: leaving && body.length < KEEPALIVE_MAX,
      })
        .then((response) => {
          if (response.status === 204) {
            kept = current;
            if (status) status.textContent = `Draft saved at ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
          } else {
            if (status) status.textContent = "The draft could not be saved; use Save draft or keep this page open.";
            if (!leaving) timer = window.setTimeout(() => save(false), RETRY_AFTER_MS);
          }
        })
        .catch(() => {
          if (status) status.textContent = "The draft could not be saved (no connection).";
        })
        .finally(() => {
          inFlight = false;
          // Typing went on while the request was under way: keep that too.
          if (!leaving && !timer && snapshot(form) !== kept) schedule();
        });
    };
    const schedule = () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => save(false), SAVE_AFTER_MS);
    };
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    // Text the editor's toolbar inserts fires no input event; a click on it is a change too.
    form.addEventListener("click", (event) => {
      if (event.target instanceof Element && event.target.closest("[data-md]")) schedule();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") save(true);
    });
    window.addEventListener("pagehide", () => save(true));
  };

  document.addEventListener("DOMContentLoaded", () => {
    const token = document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "";
    document.querySelectorAll("form[data-unsaved-guard]").forEach((form) => setup(form, token));
  });
})();
