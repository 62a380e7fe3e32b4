// forum: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Keep relative times ("3 minutes ago") current on pages left open.
  const units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const relative = (iso) => {
    const seconds = Math.floor((Date.now() - Date.parse(iso)) / 1000);
    for (const [unit, size] of units) {
      if (seconds >= size) {
        const n = Math.floor(seconds / size);
        return `${n} ${unit}${n === 1 ? "" : "s"} ago`;
      }
    }
    return "just now";
  };
  const refresh = () => {
    document.querySelectorAll("time[datetime]").forEach((el) => {
      const iso = el.getAttribute("datetime");
      if (iso && !Number.isNaN(Date.parse(iso))) el.textContent = relative(iso);
    });
  };
  window.setInterval(refresh, 60000);

  // The header menus (the phone menu, the programme and staff groups) are <details> that work
  // without this; here an open one also closes on Escape (focus back on its button), when the
  // reader taps elsewhere, and when another one opens.
  const menus = Array.from(document.querySelectorAll(".site-header details"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus) {
      if (!menu.open) continue;
      menu.open = false;
      menu.querySelector("summary")?.focus();
    }
  });
  document.addEventListener("click", (event) => {
    for (const menu of menus) {
      if (menu.open && event.target instanceof Node && !menu.contains(event.target)) menu.open = false;
    }
  });
});
