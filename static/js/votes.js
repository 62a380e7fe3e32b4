// Votes without a page reload. Without this file the same forms post and the page reloads.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  const token = tokenMeta ? tokenMeta.getAttribute("content") : "";

  const show = (form, text) => {
    const message = form.querySelector(".votes__message");
    if (!message) return;
    message.textContent = text;
    message.hidden = !text;
  };

  const apply = (form, score, myVote) => {
    const output = form.querySelector(".votes__score");
    if (output) output.textContent = String(score);
    form.querySelectorAll("button[name=value]").forEach((button) => {
      const on = Number(button.value) === myVote;
      button.classList.toggle("is-active", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  };

  document.querySelectorAll("form[data-vote-widget]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      const button = event.submitter;
      if (!button || button.name !== "value") return;
      event.preventDefault();
      const body = new FormData(form);
      body.set("value", button.value);
      form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": token },
        });
        if (response.redirected && response.url.includes("/login")) {
          window.location.assign(response.url);
          return;
        }
        const data = await response.json().catch(() => ({}));
        if (response.ok) {
          apply(form, data.score, data.my_vote);
          show(form, "");
        } else {
          show(form, data.message || "Your vote could not be saved. Please try again.");
        }
      } catch (_error) {
        show(form, "Your vote could not be saved. Check your connection and try again.");
      } finally {
        form.querySelectorAll("button").forEach((b) => { b.disabled = b.dataset.locked === "true"; });
      }
    });
    // Buttons rendered disabled (one's own post) stay disabled after a vote elsewhere.
    form.querySelectorAll("button[disabled]").forEach((b) => { b.dataset.locked = "true"; });
  });
});
