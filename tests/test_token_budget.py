"""Fitting texts into token budgets (ranker.token_budget), on the real Qwen3 tokenizer, with
hand-worked cuts: the ranker's item template and the actor's chat prompt both rely on it."""

import pytest

from ranker.token_budget import TOKENIZE_CHUNK, count_tokens, fit_start, text_offsets
from ranker.tokenizer import load_qwen3_tokenizer

POSTING = "Data engineer in Seattle, remote."  # 'Data', ' engineer', ' in', ' Seattle', ',', ' remote', '.'


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


def wrapped(tokenizer):
    """A template around the text: 'Item: ' before (3 tokens) and ' End.' after (2 tokens)."""
    return lambda text: tokenizer("Item: " + text + " End.", add_special_tokens=False)["input_ids"]


def test_count_tokens_counts_each_text_across_tokenizer_calls(tokenizer):
    texts = [POSTING, "", "Seattle"] * (TOKENIZE_CHUNK // 2)  # more texts than one call takes
    assert count_tokens(tokenizer, texts) == [7, 0, 1] * (TOKENIZE_CHUNK // 2)


def test_the_longest_start_that_fits_is_kept(tokenizer):
    offsets = text_offsets(tokenizer, POSTING)["offset_mapping"]
    render = wrapped(tokenizer)
    assert len(render(POSTING)) == 11  # 'Item', ':', ' Data' (the space merges), 6 more, ' End', '.'
    # Budget 8 leaves room for 'Data engineer in Seattle' (4 tokens) plus 4 of the wrapper's;
    # the first guess keeps too much and the loop shortens by the overshoot.
    kept, ids, dropped = fit_start(POSTING, offsets, render, budget=8, keep=6)
    assert (kept, dropped) == ("Data engineer in Seattle", 3)
    assert ids == render(kept) and len(ids) == 8
    # A guess that already fits is taken as is (the guess is the caller's upper bound).
    assert fit_start(POSTING, offsets, render, budget=8, keep=4)[0] == "Data engineer in Seattle"


def test_nothing_fits_when_the_wrapper_alone_fills_the_budget(tokenizer):
    offsets = text_offsets(tokenizer, POSTING)["offset_mapping"]
    assert fit_start(POSTING, offsets, wrapped(tokenizer), budget=4, keep=3) is None


@pytest.mark.parametrize("prompt", ["trained", "plain"])
def test_a_cut_summarization_prompt_keeps_its_own_instruction(tokenizer, prompt):
    # The report's plain-prompt row must be scored with the plain instruction even when the
    # posting is cut to fit (an earlier prompt helper dropped the instruction on a cut).
    from rlsum.actor import chat_prompt_ids, fit_prompt
    from rlsum.prompts import PROMPTS, summarization_messages

    posting = "Senior Data Engineer\n\n" + "We build pipelines in Austin, TX. " * 60
    fitted = fit_prompt(tokenizer, posting, max_tokens=120, instruction=PROMPTS[prompt])
    assert fitted.tokens_cut > 0 and len(fitted.ids) <= 120
    content = fitted.messages[0]["content"]
    assert content.startswith(PROMPTS[prompt] + "\n\nJob posting:\nSenior Data Engineer")
    kept = content.removeprefix(PROMPTS[prompt] + "\n\nJob posting:\n")
    assert posting.startswith(kept)
    assert fitted.ids == chat_prompt_ids(tokenizer, summarization_messages(kept, PROMPTS[prompt]))
