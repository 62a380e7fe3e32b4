"""Sanitising is safe from several threads at once (threaded gunicorn workers, `forum run`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from forum import markdown


def _document(n: int) -> str:
    rows = "| 1 | 2 |\n" * (n % 40 + 1)
    body = f"# Title {n}\n\npara *em* [link](http://x.y/{n}) `code`\n\n| a | b |\n|---|---|\n"
    return markdown.render_unsanitised(body + rows)


def test_threads_sanitising_at_once_each_get_their_own_documents_result() -> None:
    # One shared bleach Cleaner mixed up its parser state between threads: about 1 in 80
    # results came out wrong with 8 threads.
    documents = [_document(n) for n in range(200)]
    expected = [markdown._new_cleaner().clean(d) for d in documents]

    def clean(i: int) -> bool:
        return markdown.sanitize_html(documents[i % 200]) == expected[i % 200]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(clean, range(2000)))
    assert all(results), f"{results.count(False)} of {len(results)} came out wrong"
