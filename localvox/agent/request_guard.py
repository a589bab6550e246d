"""The request guard: is an utterance a request at all, before any tool is guessed?

Why a module of its own: it decides conversation vs. request from the sentence's form
alone, with no tool in view, so it is shared by the router (:mod:`localvox.agent.intent`
asks it first: a statement skips the templates, user tools and cues, a tool's own sentences
then need a stricter match, and only a request form reaches the cue fallback) and by apps
with their own dialogue
(the barista example asks it whether words that named no drink are small talk before it
reads them as a partial order). What holds it to account is the labelled chit-chat in
``tests/data/tool_prompts.jsonl`` (``"tool": null``): ``bench tools`` counts their false tool
calls and ``tests/test_intent.py`` requires none.

Both functions take text already passed through :func:`localvox.agent.slots.normalize`.
"""

from __future__ import annotations

import re

__all__ = ["is_statement", "is_request_form"]

# --------------------------------------------------------------------------------------------
# Request guard: statements and opinions that mention a tool word are conversation
# --------------------------------------------------------------------------------------------

# "i love/hate/had/never ...": the speaker tells us something about themselves or others
_OPINION = re.compile(
    r"^(?:i|we|they|he|she|people|everyone|everybody|nobody|my (?:mom|mum|dad|mother|father|"
    r"wife|husband|boss|friend|son|daughter|brother|sister|kids?|family|teacher|partner))"
    r"(?: (?:really|just|absolutely|totally|kind of|kinda|sort of|so|do|don't|do not|never|"
    r"always|still|also|usually|sometimes|often|honestly|actually|definitely|truly|simply|"
    r"literally|once|already|finally|all|both))* "
    r"(?:love[sd]?|hate[sd]?|like[sd]?|adore[sd]?|enjoy(?:s|ed)?|miss(?:es|ed)?|dislike[sd]?|"
    r"prefer(?:s|red)?|can't stand|cannot stand|think|thought|believe[sd]?|feel|felt|wish|"
    r"had|was|were|got|lost|broke|forgot|went|saw|read|wrote|writes|took|made|set|spent|"
    r"heard|bought|used|never|always|keep|kept|slept|woke|overslept|guess|suppose|hope|bet|"
    r"know|knew|learned|learnt|remember when|used to|grew up|live[sd]?|work(?:s|ed)?|"
    r"study|studied|left|came|tried|finished|started|'ve|have been|have never|have always|"
    r"hate when|find|found|mean|meant|agree|disagree|laughed|cried)\b")
# "the weather man is always wrong", "my timer app is broken", "that was a long day"
_STATEMENT = re.compile(
    r"^(?:the|my|our|his|her|their|this|that|these|those|some|it|it's|there's|there|"
    r"today|yesterday|last night|what an?|such an?)\b(?: [\w']+){0,4}? "
    r"(?:is|was|are|were|has|had|have|always|never|keeps|kept|used to|seems|seemed|looks|"
    r"looked|sucks|broke|died|doesn't|didn't|isn't|wasn't|aren't|won't|can't|went|made|makes|"
    r"goes|gets|got|feels|felt|will be|rocks|rules|stinks|drives me|reminds me|takes|took|"
    r"been|'s been|was so|'s so)\b")
# "it's raining again", "i'm cold", "that's all": a comment on how things are
_COMMENT = re.compile(
    r"^(?:it's|it is|it was|there's|there is|there was|that's|that is|that was|i'm|i am|"
    r"we're|we are|they're|you're|here's)\b(?!.*\b(?:isn't it|is it|won't it|will it|right|"
    r"aren't they|can you|could you)$)")
# questions about the assistant itself, or asking for knowledge rather than an action
_CHAT_QUESTION = re.compile(
    r"^(?:(?:do|did|would|have|are|were|can|could) you (?:like|love|hate|enjoy|prefer|think|"
    r"believe|feel|know (?:about|anything about|how|why|who|a)|remember|ever|have (?:a|any) "
    r"favou?rite|get|mind)|what do you think|who|why|how (?:does|did)\b|"
    r"(?:what|how) (?:was|were|used to)\b)|"
    r"\byour (?:favou?rite|opinion|name|day|view|thoughts?|feelings?)\b|"
    r"\b(?:explain|history of|invented|inventor|meaning of|definition of|define|"
    r"how (?:do|does) .+ work)\b")
# words that make an utterance a request even inside a statement ("i have 12 boxes of 24,
# how many is that")
_REQUEST_MARK = re.compile(
    r"\b(?:how many|how much|how long|what's|what is|what time|what day|can you|could you|"
    r"would you|will you|please|remind me|let me know|should i|do i need|is it going to|"
    r"will it|tell me|set an?|start an?|wake me)\b")


def is_statement(t: str) -> bool:
    """True when normalized ``t`` is conversation that merely mentions a tool word: an
    opinion or a story ("i love weather like this"), a declarative sentence about a thing
    ("the weather man is always wrong") or a question about the assistant or about
    knowledge ("who invented the alarm clock"). Such utterances go to the LLM, so a
    broad template or cue can never turn small talk into a tool call."""
    if _CHAT_QUESTION.search(t):
        return True
    return bool((_OPINION.search(t) or _STATEMENT.search(t) or _COMMENT.search(t))
                and not _REQUEST_MARK.search(t))


# a request form: a question, an imperative or a short fragment ("weather tomorrow")
_QUESTION = re.compile(
    r"^(?:what|what's|what're|how|how's|when|when's|where|which|is|are|will|would|do|does|"
    r"can|could|should|shall|may|have|has|am|any|did)\b")
_IMPERATIVE = re.compile(
    r"^(?:set|start|make|create|add|give|get|put|show|tell|check|find|look|read|list|cancel|"
    r"stop|delete|remove|clear|convert|calculate|compute|work|figure|remind|wake|ping|alert|"
    r"let|note|write|jot|save|take|turn|switch|time|count|i need|i want|i'd like|help)\b")


def is_request_form(t: str) -> bool:
    """A question, an imperative or a fragment of at most four words: the cue fallback
    only guesses a tool for these ("weather like this makes me happy" is none of them)."""
    return bool(_QUESTION.match(t) or _IMPERATIVE.match(t) or len(t.split()) <= 4)

