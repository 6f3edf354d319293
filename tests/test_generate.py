"""HF generation for rollouts and offline summaries (`rlsum.hf_generate`), on a tiny random
actor with the real Qwen3 tokenizer: greedy is transformers' greedy decoding whatever the
model's own sampling defaults, and sampling draws from the tempered softmax, the same
under the same seed."""

import pytest
import torch

from ranker.tiny import tiny_config
from ranker.tokenizer import load_qwen3_tokenizer
from rlsum.hf_generate import GumbelMaxSampling, generate

PROMPTS = [[9707, 11, 1879], [785, 3974, 13876, 38835, 34208]]  # arbitrary ids of two lengths


@pytest.fixture(scope="module")
def actor():
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("qwen3", hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)).eval()
    # A chat checkpoint's own defaults (Qwen3's generation_config.json samples): ignored.
    model.generation_config.update(do_sample=True, temperature=0.6, top_k=20, top_p=0.95)
    return model, load_qwen3_tokenizer()


def test_greedy_is_transformers_greedy_decoding_of_the_left_padded_batch(actor):
    model, tokenizer = actor
    pad = tokenizer.pad_token_id
    prompt_ids, prompt_mask, generated = generate(model, tokenizer, PROMPTS, max_new_tokens=6)
    assert prompt_ids.tolist() == [[pad, pad, *PROMPTS[0]], PROMPTS[1]]
    assert prompt_mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    greedy = model.generate(input_ids=prompt_ids, attention_mask=prompt_mask, do_sample=False, temperature=None, top_p=None, top_k=None, max_new_tokens=6, eos_token_id=tokenizer.eos_token_id, pad_token_id=pad)
    assert generated.shape == (2, 6) and generated.tolist() == greedy[:, prompt_ids.shape[1] :].tolist()


def test_sampling_repeats_under_the_same_seed(actor):
    model, tokenizer = actor
    draws = []
    for _ in range(2):
        torch.manual_seed(3)
        draws.append(generate(model, tokenizer, PROMPTS, 6, GumbelMaxSampling(1.0))[2].tolist())
    assert draws[0] == draws[1] != generate(model, tokenizer, PROMPTS, 6)[2].tolist()


def test_gumbel_max_sampling_draws_from_the_tempered_softmax():
    torch.manual_seed(0)
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]])
    draws = 40_000

    def frequencies(sampler):
        picks = torch.cat([sampler(None, scores.expand(4_000, -1)).argmax(-1) for _ in range(draws // 4_000)])
        return torch.bincount(picks, minlength=scores.shape[1]).double() / draws

    tempered = torch.softmax(scores[0].double() / 0.7, -1)
    assert torch.allclose(frequencies(GumbelMaxSampling(0.7)), tempered, atol=0.01)
    # top-p 0.9 keeps the smallest head of the tempered distribution holding 90%: here the
    # first two tokens (0.946), renormalised; the others are never drawn.
    nucleus = frequencies(GumbelMaxSampling(0.7, top_p=0.9))
    assert nucleus[2:].sum() == 0
    assert torch.allclose(nucleus[:2], tempered[:2] / tempered[:2].sum(), atol=0.01)
