"""The relevance harness's own arithmetic and data: metrics, bootstrap, typos, query files."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Generator
from pathlib import Path
from types import ModuleType
from xml.etree import ElementTree as ET

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "relevance.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_relevance", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


relevance = _load()


def test_reciprocal_rank_success_and_mrr_on_a_hand_made_ranking() -> None:
    ranked = [7, 3, 9, 1, 4, 5, 6, 8, 2, 10, 11]
    assert relevance.reciprocal_rank(ranked, 7) == 1.0
    assert relevance.reciprocal_rank(ranked, 9) == pytest.approx(1 / 3)
    assert relevance.reciprocal_rank(ranked, 10) == pytest.approx(1 / 10)
    assert relevance.reciprocal_rank(ranked, 11) == 0.0  # 11th: outside the top 10
    assert relevance.reciprocal_rank(ranked, 42) == 0.0
    assert relevance.reciprocal_rank([], 1) == 0.0

    rrs = [relevance.reciprocal_rank(ranked, w) for w in (7, 9, 10, 11, 42)]
    assert relevance.success(rrs) == pytest.approx(3 / 5)
    assert relevance.mrr(rrs) == pytest.approx((1 + 1 / 3 + 1 / 10) / 5)
    assert relevance.success([]) == 0.0
    assert relevance.mrr([]) == 0.0


def test_bootstrap_interval_holds_the_estimate_and_is_deterministic_per_seed() -> None:
    rrs = [1.0, 0.5, 0.0, 1.0, 0.25, 0.0, 1.0, 1.0, 0.2, 0.0] * 5
    for statistic in (relevance.success, relevance.mrr):
        low, high = relevance.bootstrap(rrs, statistic, seed="s1")
        assert low <= statistic(rrs) <= high
        assert 0.0 <= low < high <= 1.0
        assert relevance.bootstrap(rrs, statistic, seed="s1") == (low, high)
        assert relevance.bootstrap(rrs, statistic, seed="s2") != (low, high)
    # Every query found: nothing to resample differently.
    assert relevance.bootstrap([1.0] * 30, relevance.success, seed="x") == (1.0, 1.0)
    assert relevance.bootstrap([], relevance.mrr, seed="x") == (0.0, 0.0)


def test_cell_bundles_estimates_and_intervals() -> None:
    c = relevance.cell([1.0, 0.0, 0.5, 0.0], "seed")
    assert c.n == 4
    assert c.success == 0.5
    assert c.mrr == pytest.approx(0.375)
    assert c.success_ci[0] <= 0.5 <= c.success_ci[1]
    assert c.mrr_ci[0] <= 0.375 <= c.mrr_ci[1]


def _edits(a: str, b: str) -> int:
    """Damerau (adjacent swap counts one) edit distance."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_typos_are_deterministic_and_change_exactly_the_chosen_content_words() -> None:
    words = ["how", "to", "restore", "a", "wallet", "with", "passphrase", "and", "ledger"]
    content = relevance.content_positions(words)
    assert [words[i] for i in content] == ["restore", "wallet", "passphrase", "ledger"]
    seen = set()
    for n in range(200):
        typed, changed = relevance.with_typos(words, f"21:typo:site:{n}")
        assert relevance.with_typos(words, f"21:typo:site:{n}") == (typed, changed)
        assert len(changed) == 2  # four content words: two typos
        assert set(changed) <= set(content)
        for i, (before, after) in enumerate(zip(words, typed, strict=True)):
            if i in changed:
                assert after != before
                assert after[0] == before[0]
                assert _edits(before, after) == 1
            else:
                assert after == before
        seen.add(tuple(typed))
    assert len(seen) > 50  # the seed really chooses

    short = ["what", "is", "dropout"]
    typed, changed = relevance.with_typos(short, "seed")
    assert changed == [2]  # "what" is a stopword: only one content word
    assert typed[:2] == ["what", "is"]
    assert typed[2] != "dropout"
    assert relevance.with_typos(["is", "it", "ok"], "seed") == (["is", "it", "ok"], [])


def test_known_item_query_drops_the_two_rarest_title_words() -> None:
    from collections import Counter

    df = Counter({"what": 50, "is": 60, "early": 3, "stopping": 2, "used": 10})
    assert relevance.known_item_words("What is early stopping used?", df) == ["what", "is", "used"]


def test_a_malformed_paraphrase_line_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "x.paraphrase.tsv"
    path.write_text("# comment\n\n12\tok query\nnot-a-number\tquery\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x\.paraphrase\.tsv:4"):
        relevance.load_paraphrases(path)
    path.write_text("12\tok query\n13 no tab\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":2"):
        relevance.load_paraphrases(path)


def _questions(posts: Path) -> Generator[tuple[int, str], None, None]:
    # The file is closed even when the caller stops early (iterparse left it to the garbage
    # collector, whose ResourceWarning failed whichever later test it fell in).
    with posts.open("rb") as f:
        for _event, element in ET.iterparse(f):
            if element.tag == "row" and element.get("PostTypeId") == "1":
                yield int(element.get("Id", "0")), element.get("Title", "")
            element.clear()


@pytest.mark.parametrize("site", relevance.SITES)
def test_paraphrase_files_parse_and_name_questions_of_their_dump(site: str) -> None:
    pairs = relevance.load_paraphrases(relevance.paraphrase_file(site))
    assert len(pairs) >= 40
    ids = [i for i, _ in pairs]
    assert len(set(ids)) == len(ids)
    wanted = set(ids)
    titles: dict[int, str] = {}
    questions = _questions(relevance.dumps_dir() / site / "Posts.xml")
    try:
        for question_id, title in questions:
            if question_id in wanted:
                titles[question_id] = title
                if len(titles) == len(wanted):
                    break
    finally:
        questions.close()
    assert wanted - set(titles) == set(), "paraphrase targets missing from the dump"
    for question_id, query in pairs:
        title_words = relevance.words_of(titles[question_id])
        query_words = relevance.words_of(query)
        assert " ".join(title_words) not in " ".join(query_words), query
        assert 3 <= len(query_words) <= 20, query


def test_the_readme_block_is_replaced_and_nothing_else() -> None:
    readme = "intro\n<!-- relevance:start -->\nold table\n<!-- relevance:end -->\nafter\n"
    new = relevance.with_block(readme, "| new | table |\n")
    assert new == (
        "intro\n<!-- relevance:start -->\n| new | table |\n<!-- relevance:end -->\nafter\n"
    )
    with pytest.raises(ValueError, match="relevance:start"):
        relevance.with_block("no markers here", "x")


def test_build_queries_maps_ids_and_keeps_kinds_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relevance, "QUERIES", tmp_path)
    (tmp_path / "x.site.paraphrase.tsv").write_text(
        "# header\n501\tmodel stops learning early\n999\tnot imported\n", encoding="utf-8"
    )
    docs = {
        1: ("What is early stopping in training", "body", "training"),
        2: ("Early stopping versus dropout regularisation", "body", "dropout"),
        3: ("How does dropout regularisation work", "body", "dropout"),
    }
    local = {"501": 1, "502": 2, "503": 3}
    notes: list[str] = []
    queries = relevance.build_queries(
        "x.site", docs, local, [(2, 1)], kinds=relevance.KINDS, limit=None, seed=5, notes=notes
    )
    by_kind = {k: [q for q in queries if q.kind == k] for k in relevance.KINDS}
    assert [q.wanted for q in by_kind["known"]] == [1, 2, 3]
    assert [q.wanted for q in by_kind["typo"]] == [1, 2, 3]
    for known, typo in zip(by_kind["known"], by_kind["typo"], strict=True):
        assert len(known.words) == len(typo.words)
        assert 1 <= sum(a != b for a, b in zip(known.words, typo.words, strict=True)) <= 2
    assert [(q.words, q.wanted) for q in by_kind["paraphrase"]] == [
        (("model", "stops", "learning", "early"), 1)
    ]
    assert [(q.wanted, q.leave_out) for q in by_kind["duplicate"]] == [(1, 2)]
    assert notes == ["paraphrase targets not imported: 1"]

    again = relevance.build_queries(
        "x.site", docs, local, [], kinds=["known"], limit=2, seed=5, notes=[]
    )
    assert {q.kind for q in again} == {"known"}
    only = relevance.build_queries(
        "x.site", docs, local, [(2, 1)], kinds=["duplicate"], limit=None, seed=5, notes=notes
    )
    assert [q.kind for q in only] == ["duplicate"]
    assert len(again) == 2
    assert again == relevance.build_queries(
        "x.site", docs, local, [], kinds=["known"], limit=2, seed=5, notes=[]
    )


def test_the_table_has_a_row_per_kind_and_marks_an_unavailable_ranking() -> None:
    def run(site: str, rrs: list[float]) -> object:
        r = relevance.SiteRun(site)
        r.queries = [relevance.Query(k, site, ("w",), 1) for k in ("known", "typo", "known")]
        r.rrs = {relevance.BASELINE: rrs, "lexical": [1.0, 1.0, 1.0]}
        return r

    runs = [run("a.site", [1.0, 0.0, 0.5]), run("b.site", [0.0, 0.0, 0.0])]
    systems = [relevance.BASELINE, "lexical", "hybrid"]
    text = relevance.table(runs, systems, ["known", "typo"], 1, ["hybrid"])
    rows = [line.split(" | ") for line in text.splitlines()[2:]]
    assert [(r[0].strip("| "), r[1], r[2]) for r in rows] == [
        ("a.site", "known", "2"),
        ("a.site", "typo", "1"),
        ("a.site", "overall", "3"),
        ("b.site", "known", "2"),
        ("b.site", "typo", "1"),
        ("b.site", "overall", "3"),
        ("pooled", "known", "4"),
        ("pooled", "typo", "2"),
        ("pooled", "overall", "6"),
    ]
    a_known = rows[0]
    assert a_known[3].startswith("1.000 (")  # baseline S@10: both known queries found
    assert a_known[4].startswith("0.750 (")  # baseline MRR@10: (1 + 0.5) / 2
    assert rows[1][3].startswith("0.000 (")  # baseline on the typo query: missed
    assert a_known[5].startswith("1.000 (")
    assert a_known[7] == "unavailable" and a_known[8].strip(" |") == "unavailable"
    assert rows[-1][3].startswith("0.333 (")  # pooled overall: 2 hits of 6 queries
    assert rows[-1][4].startswith("0.250 (")  # (1 + 0.5) / 6


def test_unknown_options_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--rankings", "neural"], ["--kinds", "fuzzy"], ["--limit", "0"]):
        with pytest.raises(SystemExit) as exc:
            relevance.main(argv)
        assert exc.value.code == 2
    assert "--rankings: choose from lexical, semantic, hybrid" in capsys.readouterr().err


def test_a_kept_site_directory_is_cleared_of_an_unfinished_import(tmp_path: Path) -> None:
    for name in ("relevance.db", "relevance.db-wal", relevance.READY, "notes.txt"):
        (tmp_path / name).write_text("x")
    for name in ("search-index", "search-vectors"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "segment").write_text("x")
    relevance._clear(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
