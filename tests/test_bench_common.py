"""bench/common.py: the WER normaliser and the table/JSON helpers every bench shares."""

from __future__ import annotations

import json

import pytest

from localvox.bench.common import normalize_english, percentile, table, wer, write_json


@pytest.mark.parametrize("text,expected", [
    ("It's twenty-one degrees, Dr. Smith!", "it is 21 degrees doctor smith"),
    ("What is seventeen times twenty three?", "what is 17 times 23"),
    ("What is 17 times 23?", "what is 17 times 23"),
    ("two hundred and five people", "205 people"),
    ("Three thousand four hundred", "3400"),
    ("one two three", "1 2 3"),
    ("I paid 3.5 dollars.", "i paid 3.5 dollars"),
    ("My favourite colour is grey, okay?", "my favorite color is gray ok"),
    ("Um, I can't do that... [music]", "i can not do that"),
    ("the first of May", "the 1 of may"),
])
def test_whisper_style_normalisation(text, expected):
    assert normalize_english(text) == expected


def test_wer_counts_after_normalisation():
    ok = wer(["What is 17 times 23?"], ["what is seventeen times twenty-three"])
    assert ok["wer"] == 0.0 and ok["words"] == 5
    bad = wer(["set a timer for twelve minutes", "hello there"],
              ["santa timer for 12 minutes", ""])
    # ref words: 6 + 2; errors: "set a"->"santa" (1 sub + 1 del), "hello there" deleted (2)
    assert bad["words"] == 8
    assert bad["substitutions"] + bad["deletions"] + bad["insertions"] == 4
    assert bad["wer"] == pytest.approx(4 / 8)


def test_table_json_percentile(tmp_path, capsys):
    out = table(["name", "value"], [["a", 1.23456], ["bb", None], ["c", 42]], title="T")
    lines = out.splitlines()
    assert lines[0] == "T" and lines[1].startswith("name") and "1.235" in out and "-" in lines[4]
    write_json(tmp_path / "r.json", {"x": 1.5})
    assert json.loads((tmp_path / "r.json").read_text()) == {"x": 1.5}
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 95) == 5
