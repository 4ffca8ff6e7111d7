"""Prompt lists for batch baking (engine/prompt_list.py): good lines kept, bad ones reported by line."""
from __future__ import annotations

import pytest

from engine import prompt_list as pl
from engine.errors import InputError


def test_txt_one_prompt_per_line_with_blank_lines_and_comments_skipped():
    text = "a shy smile\n\n# a comment\n  a slow   nod  \n\t\nlooks left, then right\n"
    got = pl.parse_prompts(text, "txt", seconds=3.0, seed=7)
    assert got.problems == []
    assert [(e.line, e.prompt, e.seconds, e.seed) for e in got.entries] == [
        (1, "a shy smile", 3.0, 7), (4, "a slow nod", 3.0, 7), (6, "looks left, then right", 3.0, 7)]


def test_csv_fields_defaults_quotes_and_header():
    text = ("prompt,seconds,seed\n"
            "a shy smile,2.5,3\n"
            "\"a smile, then a laugh\", 6, 1\n"
            "a frown\n"
            "a wink,,9\n"
            "a yawn,1.5,\n")
    got = pl.parse_prompts(text, "csv", seconds=4.0, seed=0)
    assert got.problems == []
    assert [(e.line, e.prompt, e.seconds, e.seed) for e in got.entries] == [
        (2, "a shy smile", 2.5, 3), (3, "a smile, then a laugh", 6.0, 1), (4, "a frown", 4.0, 0),
        (5, "a wink", 4.0, 9), (6, "a yawn", 1.5, 0)]


@pytest.mark.parametrize("line, says", [
    (",4,1", "prompt is empty"),
    ("\"  \",4,1", "prompt is empty"),
    ("a smile,45,1", "seconds is 45, outside 0.5-20"),
    ("a smile,0.2,1", "seconds is 0.2, outside 0.5-20"),
    ("a smile,nan,1", "outside 0.5-20"),
    ("a smile,four,1", "seconds 'four' is not a number"),
    ("a smile, then a laugh,4,1", "has 4 fields"),
    ("a smile, then a laugh", "seconds 'then a laugh' is not a number"),
    ("a smile,4,1.5", "seed '1.5' is not a whole number"),
    ("a smile,4,-2", "seed is -2"),
    ("x" * 1001, "at most 1000"),
])
def test_csv_bad_lines_are_reported_with_their_line_number_and_skipped(line, says):
    got = pl.parse_prompts(f"a good one,2,0\n{line}\nanother good one\n", "csv", source="list.csv")
    assert [e.prompt for e in got.entries] == ["a good one", "another good one"]
    assert len(got.problems) == 1 and got.problems[0].startswith("list.csv line 2: ")
    assert says in got.problems[0], got.problems[0]


def test_a_header_is_only_a_header_on_the_first_line():
    got = pl.parse_prompts("a smile\nprompt,seconds,seed\n", "csv")
    assert [e.prompt for e in got.entries] == ["a smile"]
    assert "seconds 'seconds' is not a number" in got.problems[0]


def test_files_by_suffix_bom_and_unreadable_ones(tmp_path):
    (tmp_path / "a.CSV").write_bytes("\ufeffa smile,2,5\n".encode("utf-8"))
    (tmp_path / "b.txt").write_text("a smile,2,5\n", encoding="utf-8")
    assert [(e.prompt, e.seconds, e.seed) for e in pl.read_prompt_file(tmp_path / "a.CSV").entries] == [
        ("a smile", 2.0, 5)]
    assert [e.prompt for e in pl.read_prompt_file(tmp_path / "b.txt").entries] == ["a smile,2,5"]
    (tmp_path / "latin1.txt").write_bytes(b"un sourire g\xe9n\xe9\n")
    with pytest.raises(InputError, match=r"latin1.txt: is not UTF-8 text .*Save it as UTF-8"):
        pl.read_prompt_file(tmp_path / "latin1.txt")
    with pytest.raises(InputError, match="does not exist"):
        pl.read_prompt_file(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="is a folder"):
        pl.read_prompt_file(tmp_path)


def test_too_many_prompts_are_cut_with_a_problem(monkeypatch):
    monkeypatch.setattr(pl, "MAX_PROMPTS", 3)
    got = pl.parse_prompts("a\nb\nc\nd\ne\n")
    assert [e.prompt for e in got.entries] == ["a", "b", "c"]
    assert got.problems == ["prompt list line 4: more than 3 prompts; the rest are skipped. Split the list "
                            "into several files"]


def test_action_names_fit_blender_and_batches_keep_order():
    assert pl.action_name("  a shy\n smile ") == "a shy smile"
    long = "é" * 40                                          # 80 bytes of UTF-8
    name = pl.action_name(long)
    assert len(name.encode()) <= 63 and long.startswith(name) and len(name) == 31
    # runs of one duration, up to the size; seeds may differ inside a run (each prompt keeps its own)
    es = [pl.PromptEntry(i, f"p{i}", s, d) for i, (s, d) in enumerate([(4, 0), (4, 7), (4, 0), (2, 0), (4, 0)])]
    assert [[e.line for e in b] for b in pl.batches(es, 2)] == [[0, 1], [2], [3], [4]]


def test_the_engine_checks_the_same_duration_range():
    from engine import engine
    assert engine.SECONDS_RANGE is pl.SECONDS_RANGE
