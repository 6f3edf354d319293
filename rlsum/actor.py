"""The summarizer (actor): chat-formatted prompts, and the tiny actor for the CPU default,
warm-started by supervised fine-tuning on reference summaries.

Prompt tokens are `apply_chat_template(summarization_messages(text),
add_generation_prompt=True)` of the actor's tokenizer, the same ids verl builds from the
`prompt` column. A posting too long for the prompt budget is cut by one rule,
`fit_prompt` (the end of the posting goes; the instruction and chat markers stay), used by
`python -m rlsum.data prepare` (so the `prompt` column already fits and verl never cuts),
the embedded engine (which trains on that column), the SFT warm start and offline
summarization. A response ends with the tokenizer's end-of-turn token
(`rewards.length.end_of_turn_id`).
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm import tqdm

from ranker.scoring import left_pad, padded_position_ids
from ranker.token_budget import fit_start, text_offsets
from rewards.length import end_of_turn_id  # noqa: F401 - one definition, re-exported
from rlsum.prompts import SUMMARIZE_INSTRUCTION, summarization_messages

log = logging.getLogger(__name__)


class FittedPrompt(NamedTuple):
    """A summarization prompt that fits the prompt budget."""

    messages: list[dict[str, str]]  # chat messages of the posting as kept (the `prompt` column)
    ids: list[int]  # the messages' chat-templated ids, generation prompt included, thinking off
    tokens_cut: int  # posting tokens cut from its end to fit (0: the whole posting)


def fit_prompt(tokenizer, item_text: str, max_tokens: int | None = None, instruction: str = SUMMARIZE_INSTRUCTION) -> FittedPrompt:
    """The one rule that fits a posting into the prompt budget, for every engine: the end
    of the posting goes, at a token boundary, until the chat-templated prompt has at most
    `max_tokens` tokens; the instruction and the chat markers always stay. verl renders
    `messages` with the same chat template, so its prompt ids are `ids` (and its
    agent loop, which keeps only the *last* `rollout.prompt_length` tokens of a longer
    prompt, never has to cut). None: no limit."""
    messages = summarization_messages(item_text, instruction)
    ids = chat_prompt_ids(tokenizer, messages)
    if max_tokens is None or len(ids) <= max_tokens:
        return FittedPrompt(messages, ids, 0)
    offsets = text_offsets(tokenizer, item_text)["offset_mapping"]
    fitted = fit_start(item_text, offsets, lambda cut: chat_prompt_ids(tokenizer, summarization_messages(cut, instruction)), max_tokens, keep=len(offsets) - (len(ids) - max_tokens))
    if fitted is None:
        raise ValueError(f"the summarization prompt alone needs more than {max_tokens} tokens")
    kept, ids, tokens_cut = fitted
    return FittedPrompt(summarization_messages(kept, instruction), ids, tokens_cut)


def chat_prompt_ids(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    """Prompt ids of chat messages as verl renders them (generation prompt, thinking off)."""
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, enable_thinking=False, tokenize=True, return_dict=False))


def build_tiny_actor(out_dir: str | Path, seed: int = 0, hidden_size: int = 96, num_layers: int = 4, num_heads: int = 4, tokenizer=None) -> Path:
    """A random tiny Qwen3 causal LM with `tokenizer` (default: the real Qwen3 one; it
    needs a chat template and an end-of-turn token, as ranker.corpus_tokenizer's have)."""
    from transformers import AutoModelForCausalLM

    from ranker.tiny import tiny_config, token_ids_config
    from ranker.tokenizer import load_qwen3_tokenizer

    tokenizer = tokenizer or load_qwen3_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config("qwen3", hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads, intermediate_size=4 * hidden_size, **token_ids_config(tokenizer)), dtype=torch.float32)
    model.generation_config.eos_token_id = end_of_turn_id(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def supervised_examples(tokenizer, texts: list[str], summaries: list[str], max_prompt_tokens: int) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, response ids + end of turn) per posting, prompts cut to fit by
    `fit_prompt`, the rule RL training uses."""
    end = [end_of_turn_id(tokenizer)]
    return [(fit_prompt(tokenizer, text, max_prompt_tokens).ids, tokenizer(summary, add_special_tokens=False)["input_ids"] + end) for text, summary in zip(texts, summaries)]


def sft_batch(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Left-padded prompt + response rows, so every response ends at the last column and
    logits are needed only for the last `window` columns; `targets` [batch, window - 1]
    are the next tokens there (-100 outside responses)."""
    input_ids, attention_mask = left_pad([prompt + response for prompt, response in examples], pad_id)
    window = max(len(r) for _, r in examples) + 1
    targets = torch.full((len(examples), window - 1), -100)
    for row, (_, response) in enumerate(examples):
        targets[row, window - 1 - len(response) :] = torch.tensor(response)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "targets": targets, "window": window}


def response_cross_entropy(model, batch: dict) -> torch.Tensor:
    """Mean next-token cross-entropy over the response tokens of an `sft_batch`."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=padded_position_ids(batch["attention_mask"]), logits_to_keep=batch["window"]).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["targets"].flatten(), ignore_index=-100)


def warm_start(model_dir: str | Path, texts: list[str], summaries: list[str], out_dir: str | Path, steps: int, batch_size: int = 8, lr: float = 2e-3, max_prompt_tokens: int = 1024, seed: int = 0) -> dict:
    """Fine-tune the actor on (posting, reference summary) pairs with cross-entropy on the
    summary tokens; saves the result with `save_pretrained`. Returns a summary dict."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.time()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    examples = supervised_examples(tokenizer, texts, summaries, max_prompt_tokens)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (0.05 * steps)) * max(0.0, 1 - s / steps))
    model.train()
    order: list[int] = []
    bar = tqdm(range(steps), desc="actor warm start", unit="step")
    for _ in bar:
        if len(order) < batch_size:
            order += rng.sample(range(len(examples)), len(examples))
        rows, order = order[:batch_size], order[batch_size:]
        loss = response_cross_entropy(model, sft_batch([examples[i] for i in rows], tokenizer.pad_token_id))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    summary = {"examples": len(examples), "steps": steps, "final_loss": round(loss.item(), 4), "seconds": round(time.time() - started, 1)}
    log.info("actor warm start: %s", summary)
    return summary
