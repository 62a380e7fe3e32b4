// Article pages: a copy button on every code block. Without JavaScript the code is still selectable.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".article-body .codeblock").forEach((block) => {
    const code = block.querySelector("pre");
    if (!code || !navigator.clipboard) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "codeblock__copy button button--small button--secondary";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(code.innerText);
        button.textContent = "Copied";
      } catch (error) {
        button.textContent = "Select and copy";
      }
      window.setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
    block.prepend(button);
  });
});
