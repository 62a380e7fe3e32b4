"""Images in tutorials, in a real browser: chosen with the editor's file field, or pasted."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.browser.conftest import save_screenshot
from tests.browser.test_wiki import log_in, writer  # noqa: F401 - the module's member fixture

pytestmark = pytest.mark.browser


def screenshot_file(folder: Path) -> Path:
    path = folder / "build output.png"
    Image.new("RGB", (64, 48), "orange").save(path, format="PNG")
    return path


def test_an_image_chosen_in_the_editor_shows_in_the_published_tutorial(
    writer: Any,  # noqa: F811
    page: Any,
    tmp_path: Path,
) -> None:
    log_in(page, writer)
    page.goto(writer.url + "/articles/new?type=tutorial")
    page.get_by_label("Title").fill("Reading the build output")
    page.get_by_label("Text").fill("The build prints this:\n\n")
    page.get_by_label("Image or attachment").set_input_files(str(screenshot_file(tmp_path)))
    page.get_by_text("Uploaded build output.png.").wait_for()
    assert "![build output](/uploads/" in page.get_by_label("Text").input_value()

    # Paste: an image on the clipboard goes up too.
    pixel = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(pixel, format="PNG")
    page.get_by_label("Text").focus()
    page.evaluate(
        """(data) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
          const textarea = document.querySelector("[data-editor] textarea");
          const options = { clipboardData: transfer, bubbles: true, cancelable: true };
          textarea.dispatchEvent(new ClipboardEvent("paste", options));
        }""",
        base64.b64encode(pixel.getvalue()).decode(),
    )
    page.get_by_text("Uploaded pasted.png.").wait_for()
    text = page.get_by_label("Text").input_value()
    assert "![pasted](/uploads/" in text and "Uploading" not in text
    assert text.count("![") == 2, text

    page.get_by_label("Tags").fill("builds")
    # The live preview renders the uploaded images as the published page will.
    page.get_by_role("button", name="Preview").click()
    page.locator("[data-preview] img").nth(1).wait_for()
    page.evaluate("document.querySelector('[data-editor]').scrollIntoView()")
    save_screenshot(page, "tutorial-editor-desktop-light")
    page.get_by_role("button", name="Publish").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Reading the build output"
    images = page.locator(".article-body img")
    assert images.count() == 2, page.locator(".article-body").inner_html()
    shown = images.first
    shown.wait_for()
    assert shown.get_attribute("alt") == "build output"
    assert page.evaluate("(img) => img.complete && img.naturalWidth", shown.element_handle()) == 64
