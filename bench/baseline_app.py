"""The baseline: a bare Flask app rendering one question page's HTML from memory with Jinja.

It serves the same bytes as forum's question page (captured by bench/run_bench.py into the
file named by BENCH_BASELINE_HTML) without a database, sessions or extensions: the ceiling
for Flask + Jinja + gunicorn on this machine.

    BENCH_BASELINE_HTML=page.html gunicorn -w 2 bench.baseline_app:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, render_template_string

TEMPLATE = "{% for part in parts %}{{ part|safe }}{% endfor %}"

app = Flask(__name__)
# Split in lines so Jinja does a loop's worth of work, as a real template would.
_PARTS = Path(os.environ["BENCH_BASELINE_HTML"]).read_text(encoding="utf-8").splitlines(True)


@app.get("/question")
def question() -> str:
    """The captured question page, rendered from memory."""
    return render_template_string(TEMPLATE, parts=_PARTS)
