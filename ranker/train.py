"""Fine-tune a causal LM as a ranker on qrels, or distil it from a teacher ranker.

    python -m ranker.train --data DIR --model INIT_DIR --out OUT_DIR [--teacher DIR]

Loss: cross-entropy on the label token at the score position. With hard labels the target
is "Yes" when label >= --label-threshold, else "No"; with --teacher the target is the
two-point distribution (P_teacher(Yes), 1 - P_teacher(Yes)) over the first two labels,
which is how a pruned ranker recovers the ranking of the model it was cut from. With
--graded-targets the target is label / 3, so partly relevant pairs (a related family, a
missed constraint) teach degrees of relevance instead of counting as plain "No".
With --relevant-weight W, pairs with a positive target weigh W times the others: most
candidates are easy negatives, and without it a small model settles the coarse
question (right job family?) long before the fine ones among relevant candidates
(right seniority?) that NDCG@10 turns on. --negative-share F shifts the balance the same
way by sampling instead: each pass takes every positive pair and a fresh random share F
of the rest, so a pass costs less and the same time buys more passes over the pairs
that carry the fine distinctions.

--lexical-match-weight adds a dense auxiliary loss: at every token of the item text the
model also predicts, with the same two label logits, whether that token occurs in the
query (compared case-insensitively). A randomly initialised model otherwise has to discover query-item token matching
from one bit per pair, which takes far longer than a CPU demo allows; the per-token
signal teaches that mechanism directly. Only the score position is ever read, so the
auxiliary predictions do not change how the ranker is used.

Built on the HF Trainer, so the same command scales out with
`torchrun --nproc-per-node N -m ranker.train ...` or `accelerate launch -m ranker.train ...`;
checkpoints land in OUT_DIR/checkpoints and `--resume` continues from the latest one.
The last stdout line is a JSON summary (validation NDCG@10 when a val split exists).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from transformers import Trainer, TrainingArguments

from ranker.cli import run_cli
from ranker.evaluate import evaluate_ranker
from ranker.tokenizer import spelling_keys
from ranker.scoring import Ranker, forward_to_last_position, last_label_logprobs, left_pad, load_ranker
from jobdata import Dataset, load_dataset, load_summaries

log = logging.getLogger(__name__)

MAX_LABEL = 3  # qrels labels are graded 0..3


def split_pairs(dataset: Dataset, split: str, summaries: dict[str, str] | None = None) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(query text, item text) of every candidate of the split's queries, with its label;
    with `summaries`, each candidate also as (query text, its summary) with the same label,
    so the ranker learns to rank short texts as well as raw postings."""
    pairs, labels = [], []
    for query in dataset.queries_in(split):
        for qrel in dataset.candidates(query.query_id):
            texts = [dataset.items[qrel.item_id].text] + ([summaries[qrel.item_id]] if summaries else [])
            pairs += [(query.text, text) for text in texts]
            labels += [qrel.label] * len(texts)
    return pairs, np.array(labels, dtype=np.int64)


class PairDataset(torch.utils.data.Dataset):
    """Tokenized pairs with their targets. For the lexical-match targets: `query_lengths`
    (tokens of each query part), `item_first` (the pair's layout), `token_keys` (token id
    -> id of its case- and space-insensitive spelling, so " Senior" matches "senior"; ids
    absent map to themselves) and `ignored_keys` (keys that say nothing about a match)."""

    def __init__(self, sequences: list[list[int]], targets: np.ndarray, query_lengths: list[int], item_suffix_tokens: int, token_keys: dict[int, int], ignored_keys: set[int], item_first: bool = False):
        self.sequences = sequences
        self.targets = targets.astype(np.float32)
        self.query_lengths = query_lengths
        self.item_suffix_tokens = item_suffix_tokens
        self.token_keys = token_keys
        self.ignored_keys = ignored_keys
        self.item_first = item_first

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.sequences[i], "target": self.targets[i], "match_target": self.match_targets(i)}

    def match_targets(self, i: int) -> list[float]:
        """Per position, -1.0 where ignored. Query first: on the item text, 1.0 where the
        token also occurs in the query, else 0.0 (the query part and the item template's
        closing tokens are ignored). Item first: on the query part, 1.0 where the token
        occurs in the item, else 0.0, ignoring template tokens and query filler."""
        seq, q_len = self.sequences[i], self.query_lengths[i]
        keys = [self.token_keys.get(t, t) for t in seq]
        if self.item_first:
            item_keys = set(keys[: len(seq) - q_len])
            return [-1.0] * (len(seq) - q_len) + [-1.0 if k in self.ignored_keys else float(k in item_keys) for k in keys[len(seq) - q_len :]]
        query_keys = set(keys[:q_len]) - self.ignored_keys
        text_end = len(seq) - self.item_suffix_tokens
        return [-1.0] * q_len + [float(k in query_keys) for k in keys[q_len:text_end]] + [-1.0] * (len(seq) - max(text_end, q_len))


class NegativeSubsampler(torch.utils.data.Sampler):
    """Each pass (epoch): every index whose target is positive and a fresh random `share`
    of the others, shuffled. Deterministic per (seed, epoch), so every rank draws the same
    order and a resumed run replays the interrupted pass."""

    def __init__(self, targets: np.ndarray, share: float, seed: int):
        if not 0.0 < share <= 1.0:
            raise ValueError(f"negative share must be in (0, 1], got {share}")
        self.positive = np.flatnonzero(targets > 0)
        self.negative = np.flatnonzero(targets <= 0)
        self.n_negative = round(share * len(self.negative))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.positive) + self.n_negative

    def __iter__(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        chosen = np.concatenate([self.positive, rng.choice(self.negative, self.n_negative, replace=False)])
        return iter(rng.permutation(chosen).tolist())


class LeftPadCollator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = left_pad([r["input_ids"] for r in rows], self.pad_id)
        match_target = torch.full(input_ids.shape, -1.0)
        for row, r in enumerate(rows):
            match_target[row, input_ids.shape[1] - len(r["match_target"]) :] = torch.tensor(r["match_target"])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "target": torch.tensor(np.array([r["target"] for r in rows])), "match_target": match_target}


def label_cross_entropy(logprobs: torch.Tensor, target: torch.Tensor, relevant_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the label-token log-probabilities [batch, >=2] against the
    probability `target` [batch] of the first (positive) label versus the second; pairs
    with a positive target weigh `relevant_weight`, the others 1 (weighted mean)."""
    losses = -(target * logprobs[:, 0] + (1.0 - target) * logprobs[:, 1])
    weights = torch.where(target > 0, relevant_weight, 1.0)
    return (weights * losses).sum() / weights.sum()


def lexical_match_loss(hidden: torch.Tensor, label_rows: torch.Tensor, match_target: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy of the (first label - second label) logit
    margin at every position against `match_target` (1/0; negative entries ignored)."""
    logits = hidden @ label_rows.T.to(hidden.dtype)
    margin = (logits[..., 0] - logits[..., 1]).float()
    used = match_target >= 0
    if not used.any():
        return margin.sum() * 0.0
    target = match_target[used]
    # Matches are rare among item tokens: weight both classes equally, or predicting
    # "no match" everywhere would already look good.
    positives = target.sum().clamp(min=1.0)
    pos_weight = ((target.numel() - positives) / positives).clamp(min=1.0)
    return torch.nn.functional.binary_cross_entropy_with_logits(margin[used], target, pos_weight=pos_weight)


class RankerTrainer(Trainer):
    def __init__(self, *args, label_ids: list[int], lexical_match_weight: float = 0.0, relevant_weight: float = 1.0, negative_share: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = torch.tensor(label_ids)
        # Built here, so a share outside (0, 1] fails before training starts.
        self.negative_sampler = None if negative_share == 1.0 else NegativeSubsampler(self.train_dataset.targets, negative_share, self.args.seed)
        self.lexical_match_weight = lexical_match_weight
        self.relevant_weight = relevant_weight
        self.model_accepts_loss_kwargs = False  # the loss is a per-pair mean

    def _get_train_sampler(self, train_dataset=None):
        return self.negative_sampler if self.negative_sampler is not None else super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        label_ids = self.label_ids.to(inputs["input_ids"].device)
        with_match = self.lexical_match_weight > 0
        out = forward_to_last_position(model, inputs["input_ids"], inputs["attention_mask"], output_hidden_states=with_match)
        logprobs = last_label_logprobs(out.logits, label_ids)
        loss = label_cross_entropy(logprobs, inputs["target"], self.relevant_weight)
        if with_match:
            # The last hidden state is the final-normed one the LM head reads.
            label_rows = self.accelerator.unwrap_model(model).get_output_embeddings().weight[label_ids[:2]]
            loss = loss + self.lexical_match_weight * lexical_match_loss(out.hidden_states[-1], label_rows, inputs["match_target"])
        return (loss, {"logprobs": logprobs}) if return_outputs else loss


def match_ignored_keys(ranker: Ranker, queries: list[str], token_keys: dict[int, int], max_query_share: float = 0.25) -> set[int]:
    """Keys that say nothing about a match: the template's own tokens, whitespace and
    punctuation, and query filler such as " jobs" or " in" found in more than
    `max_query_share` of the training queries."""
    unique = list(dict.fromkeys(queries))
    counts: dict[int, int] = {}
    for ids in ranker.tokenizer(unique, add_special_tokens=False)["input_ids"]:
        for key in {token_keys.get(t, t) for t in ids}:
            counts[key] = counts.get(key, 0) + 1
    common = {key for key, n in counts.items() if n > max_query_share * len(unique)}
    no_word = {key for key in set(token_keys.values()) if not any(ch.isalnum() for ch in ranker.tokenizer.decode([key]))}
    template_tokens = ranker.encode_query("") + ranker.tokenizer(ranker.template.format_item(""), add_special_tokens=False)["input_ids"]
    return {token_keys.get(t, t) for t in template_tokens} | common | no_word


def training_targets(args, ranker: Ranker, pairs: list[tuple[str, str]], labels: np.ndarray) -> np.ndarray:
    if args.teacher is None and args.graded_targets:
        return (labels / MAX_LABEL).astype(np.float32)
    if args.teacher is None:
        return (labels >= args.label_threshold).astype(np.float32)
    teacher = load_ranker(args.teacher, dtype=args.dtype, max_length=args.max_length)
    log.info("scoring %d training pairs with teacher %s", len(pairs), args.teacher)
    return teacher.score_pairs(pairs, batch_size=args.batch_size * 2, progress=True).p_yes.astype(np.float32)


def latest_checkpoint(checkpoint_dir: Path) -> str | None:
    found = sorted(checkpoint_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return str(found[-1]) if found else None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data directory (items, queries, qrels)")
    parser.add_argument("--model", required=True, help="initial model directory (e.g. from python -m ranker.tiny)")
    parser.add_argument("--out", required=True, help="directory for the trained ranker")
    parser.add_argument("--teacher", help="teacher ranker directory: distil its P(Yes) instead of using labels")
    parser.add_argument("--split", default="train")
    parser.add_argument("--eval-split", default="val", help="split for the final NDCG@10 ('' to skip)")
    parser.add_argument("--label-threshold", type=int, default=2, help="labels >= this are 'Yes'")
    parser.add_argument("--graded-targets", action="store_true", help="target P(Yes) = label / 3 instead of the threshold")
    parser.add_argument("--lexical-match-weight", type=float, default=0.0, help="weight of the auxiliary per-token query-match loss (0: off)")
    parser.add_argument("--relevant-weight", type=float, default=1.0, help="loss weight of pairs with a positive target (graded: label >= 1) against 1 for the rest")
    parser.add_argument("--negative-share", type=float, default=1.0, help="per pass, train on every positive pair and this random share of the others (1: all)")
    parser.add_argument("--also-summaries", help="summaries.jsonl: also train on (query, summary) pairs with each candidate's label")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--warmup-ratio", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=16, help="per device")
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--max-length", type=int, help="max tokens per pair; longer items are cut and reported")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="weights for loading; bf16 training uses --bf16")
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPUs)")
    parser.add_argument("--save-steps", type=int, default=200)
    parser.add_argument("--logging-steps", type=int, default=20)
    parser.add_argument("--report-to", default="none", help="HF Trainer integrations, e.g. wandb, tensorboard")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT/checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.manual_seed(args.seed)
    started = time.time()
    out = Path(args.out)
    dataset = load_dataset(args.data)
    ranker = load_ranker(args.model, dtype=args.dtype, max_length=args.max_length)
    summaries = load_summaries(args.also_summaries, dataset.items) if args.also_summaries else None
    pairs, labels = split_pairs(dataset, args.split, summaries)
    if not pairs:
        raise SystemExit(f"{args.data}: split {args.split!r} has no query with candidates")
    sequences, items = ranker.encode_pairs(pairs)
    n_truncated = sum(it.dropped_tokens > 0 for it in items)
    if n_truncated:
        log.warning("%d of %d training items were truncated to max_length=%d", n_truncated, len(items), ranker.max_length)
    targets = training_targets(args, ranker, pairs, labels)
    query_length = {q: len(ranker.encode_query(q)) for q in dict.fromkeys(q for q, _ in pairs)}
    query_lengths = [query_length[q] for q, _ in pairs]
    token_keys = spelling_keys(ranker.tokenizer, set().union(*map(set, sequences))) if args.lexical_match_weight > 0 else {}
    log.info("training on %d pairs (%.1f%% positive targets, mean %.0f tokens)", len(pairs), 100 * targets.mean(), np.mean([len(s) for s in sequences]))

    training_args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_ratio,  # a float below 1 is a share of all steps
        lr_scheduler_type="cosine",
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        max_grad_norm=1.0,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        label_names=["target"],
        save_strategy="steps",
        save_steps=args.save_steps,
        save_total_limit=2,
        logging_steps=args.logging_steps,
        report_to=args.report_to,
        bf16=args.bf16,
        seed=args.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )
    trainer = RankerTrainer(
        model=ranker.model,
        args=training_args,
        train_dataset=PairDataset(sequences, targets, query_lengths, ranker.item_suffix_tokens, token_keys, match_ignored_keys(ranker, [q for q, _ in pairs], token_keys), ranker.template.item_first),
        data_collator=LeftPadCollator(ranker.pad_id),
        label_ids=ranker.label_ids,
        lexical_match_weight=args.lexical_match_weight,
        relevant_weight=args.relevant_weight,
        negative_share=args.negative_share,
    )
    resume_from = latest_checkpoint(out / "checkpoints") if args.resume else None
    if args.resume:
        log.info("resuming from %s", resume_from or "scratch (no checkpoint found)")
    train_output = trainer.train(resume_from_checkpoint=resume_from)

    trainer.save_model(str(out))  # on every rank: sharded (FSDP/DeepSpeed) states gather here
    summary = {"model": str(out), "train_pairs": len(pairs), "train_seconds": round(time.time() - started, 1), "train_loss": round(train_output.training_loss, 4)}
    if not trainer.is_world_process_zero():
        return summary
    ranker.tokenizer.save_pretrained(out)
    ranker.template.save(out)
    ranker.model.eval()
    if args.eval_split and dataset.queries_in(args.eval_split):
        result = evaluate_ranker(ranker, dataset, split=args.eval_split, batch_size=args.batch_size * 2)
        summary[f"{args.eval_split}_ndcg@10"] = result["ndcg@10"]
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    run_cli(main)
