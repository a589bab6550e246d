"""The sentence chunker and the speakable() normaliser (pure Python, no models)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localvox.tts.chunker import SentenceChunker, speakable


def chunk_text(text: str, first_chunk_min_words: int = 3, max_chunk_chars: int = 220,
               first_chunk_max_words: int = 8) -> list[str]:
    """Chunk a complete text at once."""
    c = SentenceChunker(first_chunk_min_words, max_chunk_chars, first_chunk_max_words)
    return c.feed(text) + c.flush()


def stream(text: str, pieces: list[int] | None = None, **kw) -> list[str]:
    """Feed ``text`` in pieces (sizes cycling through ``pieces``; default: one char)."""
    c = SentenceChunker(**kw)
    out: list[str] = []
    sizes = pieces or [1]
    i = k = 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        out += c.feed(text[i:i + n])
        i += n
        k += 1
    return out + c.flush()


def squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


# -- chunk boundaries -----------------------------------------------------------------

CHUNK_CASES = [
    # (text, expected chunks)
    ("Hello there.", ["Hello there."]),
    ("Sure, I can do that for you. It will take a minute.",
     ["Sure, I can do that for you.", "It will take a minute."]),
    # first chunk: a clause of >= 3 words; later chunks: whole sentences, commas kept
    ("The weather today is sunny, with a high of twenty degrees. Later, it may rain, sadly.",
     ["The weather today is sunny,", "with a high of twenty degrees.",
      "Later, it may rain, sadly."]),
    ("Right; the next train leaves soon. Then another.",
     ["Right; the next train leaves soon.", "Then another."]),
    ("Here is the plan: we leave at noon. OK.", ["Here is the plan:", "we leave at noon.", "OK."]),
    ("Well — I think so, yes. Fine.", ["Well — I think so,", "yes.", "Fine."]),
    # a short first sentence is spoken at once
    ("Hi! How can I help you today?", ["Hi!", "How can I help you today?"]),
    ("Really?! That is great.", ["Really?!", "That is great."]),
    # numbers
    ("Pi is about 3.14 and e is 2.71. Nice.", ["Pi is about 3.14 and e is 2.71.", "Nice."]),
    ("It costs $1,200.50 in total. Cheap.", ["It costs $1,200.50 in total.", "Cheap."]),
    ("Version 3.5 is out. Update now.", ["Version 3.5 is out.", "Update now."]),
    ("Meet at 10:30 tomorrow morning. Bye.", ["Meet at 10:30 tomorrow morning.", "Bye."]),
    # abbreviations
    ("I saw Dr. Smith and Mr. Jones today. They were fine.",
     ["I saw Dr. Smith and Mr. Jones today.", "They were fine."]),
    ("Bring fruit, e.g. apples. Also i.e. pears.",
     ["Bring fruit, e.g. apples.", "Also i.e. pears."]),
    ("Pens, paper, etc. are in the drawer. Thanks.",
     ["Pens, paper, etc. are in the drawer.", "Thanks."]),
    ("She moved to the U.S. last year. Good.", ["She moved to the U.S. last year.", "Good."]),
    ("The shop opens at 9 a.m. every day. Come early.",
     ["The shop opens at 9 a.m. every day.", "Come early."]),
    ("Neither do I. Sorry.", ["Neither do I.", "Sorry."]),
    # ellipses
    ("Well... I am not sure about that. Maybe.", ["Well... I am not sure about that.", "Maybe."]),
    ("Hmm… let me think about it. Done.", ["Hmm… let me think about it.", "Done."]),
    # URLs and emails stay whole (URLs read as their domain)
    ("See https://docs.python.org/3/library/re.html for more. Bye.",
     ["See docs.python.org for more.", "Bye."]),
    ("Visit www.example.com. It is free.", ["Visit example.com.", "It is free."]),
    ("Write to jane.doe@example.co.uk today. Thanks.",
     ["Write to jane.doe@example.co.uk today.", "Thanks."]),
    # quotes and brackets close the sentence they belong to
    ('He said "stop now." Then he left.', ['He said "stop now."', "Then he left."]),
    ("It works (mostly.) Try it.", ["It works (mostly.)", "Try it."]),
    # paragraphs
    ("First part without a stop\n\nSecond part here.",
     ["First part without a stop", "Second part here."]),
]


@pytest.mark.parametrize("text,expected", CHUNK_CASES)
def test_chunks(text: str, expected: list[str]) -> None:
    assert chunk_text(text) == expected


@pytest.mark.parametrize("text,expected", CHUNK_CASES)
@pytest.mark.parametrize("pieces", [[1], [2, 5, 3], [7]])
def test_chunks_do_not_depend_on_token_split(text: str, expected: list[str],
                                             pieces: list[int]) -> None:
    assert stream(text, pieces) == expected


def test_chunks_are_released_as_soon_as_complete() -> None:
    c = SentenceChunker()
    assert c.feed("Okay, so the answer") == []
    assert c.feed(" is four, I think") == ["Okay, so the answer is four,"]
    assert c.feed(". It costs 3") == ["I think."]
    # a boundary needs the next character: "3." might be "3.5"
    assert c.feed(".") == []
    assert c.feed("5 dollars. ") == ["It costs 3.5 dollars."]
    assert c.flush() == []


def test_period_waits_for_next_char() -> None:
    c = SentenceChunker()
    assert c.feed("I saw Dr.") == []
    assert c.feed(" Who today.") == []
    assert c.flush() == ["I saw Dr. Who today."]


def test_first_chunk_min_words_is_configurable() -> None:
    assert chunk_text("Yes, of course, right away.", first_chunk_min_words=1) == [
        "Yes,", "of course, right away."]
    assert chunk_text("Yes, of course, right away.", first_chunk_min_words=4) == [
        "Yes, of course, right away."]


def test_long_sentence_is_cut_at_max_chars() -> None:
    words = " ".join(f"word{i}" for i in range(80)) + "."
    chunks = chunk_text(words, max_chunk_chars=60)
    assert all(len(c) <= 60 for c in chunks)
    assert squash("".join(chunks)) == squash(words)
    # a clause boundary is preferred over a bare space
    text = "This is a long sentence with many words in it, and then it goes on and on forever."
    assert chunk_text(text, max_chunk_chars=50, first_chunk_max_words=0)[1].startswith(
        "and then")


def test_reset_drops_buffered_text() -> None:
    c = SentenceChunker()
    c.feed("Half a sentence that was interrupted")
    c.reset()
    assert c.feed("New reply. ") == ["New reply."]


def test_bare_punctuation_is_never_a_chunk() -> None:
    assert chunk_text("Hello there. 😀. Bye now.") == ["Hello there.", ". Bye now."]
    assert all(any(ch.isalnum() for ch in c) for c in chunk_text("Ok!! 🎉🎉. Great."))


# -- speakable ------------------------------------------------------------------------

SPEAKABLE_CASES = [
    ("**Bold** and *italic* and __under__ and ~~gone~~", "Bold and italic and under and gone"),
    ("Run `pip install localvox` now.", "Run pip install localvox now."),
    ("See [the docs](https://example.com/docs) now.", "See the docs now."),
    ("![a cat](cat.png) sits.", "a cat sits."),
    ("Go to https://www.python.org/downloads/release.", "Go to python.org."),
    ("Try http://localhost:8080/v1 please", "Try localhost please"),
    ("# Title\nSome text.", "Title.\nSome text."),
    ("- apples\n- pears\n* plums\n+ figs", "apples.\npears.\nplums.\nfigs."),
    ("1. first\n2) second!", "first.\nsecond!"),
    ("> quoted words", "quoted words."),
    ("Nice 😀 day 🎉!", "Nice day!"),
    ("Flags 🇫🇷 and thumbs 👍🏽 gone", "Flags and thumbs gone"),
    ("Text\n```python\nprint('hi')\n```\nAfter.", "Text\n \nAfter."),
    ("It is 21° outside", "It is 21 degrees outside"),
    ("Salt & pepper", "Salt and pepper"),
    ("snake_case stays", "snake_case stays"),
    ("| a | b |\n|---|---|\n| 1 | 2 |", "a, b.\n\n1, 2."),
    ("---\nText", "\nText"),
    ("Email me at bob@example.com.", "Email me at bob@example.com."),
    ("A - B", "A - B"),
]


@pytest.mark.parametrize("text,expected", SPEAKABLE_CASES)
def test_speakable(text: str, expected: str) -> None:
    assert speakable(text) == expected


def test_markdown_reply_is_chunked_cleanly() -> None:
    reply = ("**Sure!** Here are the steps:\n\n1. Open [the app](https://app.example.com/x).\n"
             "2. Click `Start` 🚀\n\nThat's it.")
    chunks = stream(reply, [3])
    assert chunks == ["Sure!", "Here are the steps:", "Open the app.", "Click Start.",
                      "That's it."]
    for c in chunks:
        assert not re.search(r"[*`\[\]#]|https?://|🚀", c)


# -- fuzzing --------------------------------------------------------------------------

ALPHABET = st.sampled_from(
    list("abcdefghij ABC   .,;:!?…—-'\"()[]*_`#>|~&°\n0123456789$@/😀🎉")
    + ["Dr.", "e.g.", "U.S.", "...", "3.5", "https://www.ex.com/a.b", "[t](http://u.v/w)",
       "[a b. c](http://u.v/w)", "![x y](p.png)",
       "```", "\n- ", "\n# ", "\n1. ", "**", "bob@ex.com", "etc.", "  ", "\n\n"])
TEXTS = st.lists(ALPHABET, max_size=60).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, cuts=st.lists(st.integers(min_value=1, max_value=9), min_size=1,
                                 max_size=6),
       min_words=st.integers(1, 5), max_chars=st.integers(20, 120))
def test_fuzz_chunks_equal_speakable_text(text: str, cuts: list[int], min_words: int,
                                          max_chars: int) -> None:
    chunks = stream(text, cuts, first_chunk_min_words=min_words, max_chunk_chars=max_chars)
    assert squash("".join(chunks)) == squash(speakable(text))
    for c in chunks:
        assert c == c.strip() and c
    # every chunk but possibly the last has something to say
    for c in chunks[:-1]:
        assert any(ch.isalnum() for ch in c), chunks


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_fuzz_arbitrary_unicode_never_raises(text: str) -> None:
    chunks = stream(text, [4])
    assert squash("".join(chunks)) == squash(speakable(text))


# -- the first chunk never waits for a full stop ------------------------------------------------
def by_words(text: str, **kw: int) -> list[str]:
    c = SentenceChunker(**kw)
    out: list[str] = []
    for word in text.split(" "):
        out += c.feed(word + " ")
    return out + c.flush()


def test_a_long_first_sentence_is_cut_at_a_phrase_break_while_streaming() -> None:
    text = "I think the best way to learn a new language is to practice every day. Start small."
    c = SentenceChunker()
    fed = ""
    for word in text.split(" "):
        got = c.feed(word + " ")
        fed += word + " "
        if got:
            break
    # The first chunk comes out before the sentence's full stop has even been generated,
    # cut before "to" (a phrase start), and the rest is unchanged.
    assert got == ["I think the best way"]
    assert "day." not in fed
    assert by_words(text) == ["I think the best way",
                            "to learn a new language is to practice every day.", "Start small."]


def test_the_phrase_cut_does_not_depend_on_how_the_text_arrives() -> None:
    text = "It is eight forty in the morning right now, I think. Have a good day."
    assert chunk_text(text) == by_words(text) == [
        "It is eight forty", "in the morning right now, I think.", "Have a good day."]


def test_short_first_sentences_and_early_clauses_are_kept_whole() -> None:
    assert by_words("Your five minute timer is set and running. Enjoy.") == [
        "Your five minute timer is set and running.", "Enjoy."]
    assert by_words("Sure, here is a long answer with no comma anywhere in it at all.") == [
        "Sure, here is a long answer", "with no comma anywhere in it at all."]
    assert by_words("Well, the capital of France is Paris, a city of two million people.") == [
        "Well, the capital of France is Paris,", "a city of two million people."]


def test_no_phrase_break_means_a_cut_after_the_maximum_words() -> None:
    assert by_words("One two three four five six seven eight nine ten eleven.",
                  first_chunk_max_words=5) == [
        "One two three four five", "six seven eight nine ten eleven."]
    assert by_words("One two three four five six seven eight nine ten eleven.",
                  first_chunk_max_words=0) == [
        "One two three four five six seven eight nine ten eleven."]
