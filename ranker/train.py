"""Fine-tune a causal LM as a ranker on qrels, or distil it from a teacher ranker.

    python -m ranker.train --data DIR --model INIT_DIR --out OUT_DIR [--teacher DIR] [--recipe NAME]

Loss: cross-entropy on the label token at the score position. With hard labels the target
is "Yes" when label >= --label-threshold, else "No"; with --teacher the target is the
two-point distribution (P_teacher(Yes), 1 - P_teacher(Yes)) over the first two labels,
which is how a pruned ranker recovers the ranking of the model it was cut from. With
--graded-targets the target is label / 3, so partly relevant pairs (a related family, a
missed constraint) teach degrees of relevance instead of counting as plain "No".
--relevant-weight, --negative-share and --lexical-match-weight switch on the aids a
randomly initialised ranker needs on a CPU (ranker/train_aids.py); --recipe NAME starts
from a named set of settings (ranker/recipes.py) that explicit flags override.

Built on the HF Trainer, so the same command scales out with
`torchrun --nproc-per-node N -m ranker.train ...` or `accelerate launch -m ranker.train ...`;
checkpoints land in OUT_DIR/checkpoints and `--resume` continues from the latest one.
The last stdout line is a JSON summary (validation NDCG@10 when a val split exists).
Code calls `train_ranker(TrainOptions(...))`, which returns that summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from transformers import Trainer, TrainingArguments

from ranker.cli import run_cli
from ranker.evaluate import evaluate_ranker
from ranker.recipes import RECIPES
from ranker.scoring import Ranker, forward_to_last_position, last_label_logprobs, left_pad, load_ranker
from ranker.train_aids import TrainingAids, training_aids
from jobdata import Dataset, load_dataset, load_summaries, numbered_dirs, write_json

log = logging.getLogger(__name__)

MAX_LABEL = 3  # qrels labels are graded 0..3


@dataclasses.dataclass
class TrainOptions:
    """One training run; each field is the command-line flag of the same name
    (`--eval-split` is `eval_split`), whose help says what it does."""

    data: str
    model: str
    out: str
    teacher: str | None = None
    split: str = "train"
    eval_split: str = "val"
    label_threshold: int = 2
    graded_targets: bool = False
    lexical_match_weight: float = 0.0
    relevant_weight: float = 1.0
    negative_share: float = 1.0
    also_summaries: str | None = None
    epochs: float = 2.0
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    batch_size: int = 16
    grad_accum: int = 1
    max_length: int | None = None
    dtype: str = "float32"
    bf16: bool = False
    save_steps: int = 200
    logging_steps: int = 20
    report_to: str = "none"
    resume: bool = False
    seed: int = 0


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


def training_targets(options: TrainOptions, ranker: Ranker, pairs: list[tuple[str, str]], labels: np.ndarray) -> np.ndarray:
    """P(Yes) each pair is trained towards: graded (label / 3), thresholded, or the teacher's."""
    if options.teacher is None and options.graded_targets:
        return (labels / MAX_LABEL).astype(np.float32)
    if options.teacher is None:
        return (labels >= options.label_threshold).astype(np.float32)
    teacher = load_ranker(options.teacher, dtype=options.dtype, max_length=options.max_length)
    log.info("scoring %d training pairs with teacher %s", len(pairs), options.teacher)
    return teacher.score_pairs(pairs, batch_size=options.batch_size * 2, progress=True).p_yes.astype(np.float32)


class PairDataset(torch.utils.data.Dataset):
    """Tokenized pairs with their targets, plus the row fields of each auxiliary loss."""

    def __init__(self, sequences: list[list[int]], targets: np.ndarray, auxiliary_losses: Sequence = ()):
        self.sequences = sequences
        self.targets = targets.astype(np.float32)
        self.auxiliary_losses = auxiliary_losses

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> dict:
        row = {"input_ids": self.sequences[i], "target": self.targets[i]}
        for auxiliary in self.auxiliary_losses:
            row.update(auxiliary.row_fields(i, self.sequences[i]))
        return row


class LeftPadCollator:
    """Left-pads a batch's token ids (the score position is the last one), stacks the
    targets and lets each auxiliary loss pad its own row fields."""

    def __init__(self, pad_id: int, auxiliary_losses: Sequence = ()):
        self.pad_id = pad_id
        self.auxiliary_losses = auxiliary_losses

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = left_pad([r["input_ids"] for r in rows], self.pad_id)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "target": torch.tensor(np.array([r["target"] for r in rows]))}
        for auxiliary in self.auxiliary_losses:
            batch.update(auxiliary.pad(rows, input_ids))
        return batch


def label_cross_entropy(logprobs: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the label-token log-probabilities [batch, >=2] against the
    probability `target` [batch] of the first (positive) label versus the second,
    averaged over pairs with `weights` [batch]."""
    losses = -(target * logprobs[:, 0] + (1.0 - target) * logprobs[:, 1])
    return (weights * losses).sum() / weights.sum()


class RankerTrainer(Trainer):
    """The HF Trainer with the label-token loss, plus what the training aids add."""

    def __init__(self, *args, label_ids: list[int], aids: TrainingAids, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = torch.tensor(label_ids)
        self.aids = aids
        self.model_accepts_loss_kwargs = False  # the loss is a per-pair mean

    def _get_train_sampler(self, train_dataset=None):
        return self.aids.sampler if self.aids.sampler is not None else super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        label_ids = self.label_ids.to(inputs["input_ids"].device)
        # Auxiliary losses read the hidden states.
        out = forward_to_last_position(model, inputs["input_ids"], inputs["attention_mask"], output_hidden_states=bool(self.aids.auxiliary_losses))
        logprobs = last_label_logprobs(out.logits, label_ids)
        loss = label_cross_entropy(logprobs, inputs["target"], self.aids.pair_weights(inputs["target"]))
        for auxiliary in self.aids.auxiliary_losses:
            loss = loss + auxiliary(self.accelerator.unwrap_model(model), out, inputs, label_ids)
        return (loss, {"logprobs": logprobs}) if return_outputs else loss


def training_arguments(options: TrainOptions, checkpoint_dir: Path) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=options.epochs,
        learning_rate=options.lr,
        weight_decay=options.weight_decay,
        warmup_steps=options.warmup_ratio,  # a float below 1 is a share of all steps
        lr_scheduler_type="cosine",
        per_device_train_batch_size=options.batch_size,
        gradient_accumulation_steps=options.grad_accum,
        max_grad_norm=1.0,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        label_names=["target"],
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=2,
        logging_steps=options.logging_steps,
        report_to=options.report_to,
        bf16=options.bf16,
        seed=options.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=False,
    )


def latest_checkpoint(checkpoint_dir: Path) -> str | None:
    found = numbered_dirs(checkpoint_dir, "checkpoint-")
    return str(found[-1]) if found else None


def train_ranker(options: TrainOptions) -> dict:
    """Train, save the ranker to `options.out` (with train_summary.json) and return the
    summary: model, train_pairs, train_seconds, train_loss and, with an eval split,
    `<split>_ndcg@10`. Under torchrun every rank trains; only the first one saves the
    tokenizer, template and summary."""
    torch.manual_seed(options.seed)
    started = time.time()
    out = Path(options.out)
    dataset = load_dataset(options.data)
    ranker = load_ranker(options.model, dtype=options.dtype, max_length=options.max_length)
    summaries = load_summaries(options.also_summaries, dataset.items) if options.also_summaries else None
    pairs, labels = split_pairs(dataset, options.split, summaries)
    if not pairs:
        raise SystemExit(f"{options.data}: split {options.split!r} has no query with candidates")
    sequences, items = ranker.encode_pairs(pairs)
    n_truncated = sum(it.dropped_tokens > 0 for it in items)
    if n_truncated:
        log.warning("%d of %d training items were truncated to max_length=%d", n_truncated, len(items), ranker.max_length)
    targets = training_targets(options, ranker, pairs, labels)
    aids = training_aids(options, ranker, pairs, sequences, targets)
    log.info("training on %d pairs (%.1f%% positive targets, mean %.0f tokens)", len(pairs), 100 * targets.mean(), np.mean([len(s) for s in sequences]))

    trainer = RankerTrainer(
        model=ranker.model,
        args=training_arguments(options, out / "checkpoints"),
        train_dataset=PairDataset(sequences, targets, aids.auxiliary_losses),
        data_collator=LeftPadCollator(ranker.pad_id, aids.auxiliary_losses),
        label_ids=ranker.label_ids,
        aids=aids,
    )
    resume_from = latest_checkpoint(out / "checkpoints") if options.resume else None
    if options.resume:
        log.info("resuming from %s", resume_from or "scratch (no checkpoint found)")
    train_output = trainer.train(resume_from_checkpoint=resume_from)

    trainer.save_model(str(out))  # on every rank: sharded (FSDP/DeepSpeed) states gather here
    summary = {"model": str(out), "train_pairs": len(pairs), "train_seconds": round(time.time() - started, 1), "train_loss": round(train_output.training_loss, 4)}
    if not trainer.is_world_process_zero():
        return summary
    ranker.tokenizer.save_pretrained(out)
    ranker.template.save(out)
    ranker.model.eval()
    if options.eval_split and dataset.queries_in(options.eval_split):
        result = evaluate_ranker(ranker, dataset, split=options.eval_split, batch_size=options.batch_size * 2)
        summary[f"{options.eval_split}_ndcg@10"] = result["ndcg@10"]
    write_json(out / "train_summary.json", summary)
    return summary


def argument_parser() -> argparse.ArgumentParser:
    """The flags of `TrainOptions`, whose field defaults are theirs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="data directory (items, queries, qrels)")
    parser.add_argument("--model", required=True, help="initial model directory (e.g. from python -m ranker.tiny)")
    parser.add_argument("--out", required=True, help="directory for the trained ranker")
    parser.add_argument("--recipe", choices=sorted(RECIPES), help="start from this named recipe's settings (ranker/recipes.py); explicit flags override them")
    parser.add_argument("--teacher", help="teacher ranker directory: distil its P(Yes) instead of using labels")
    parser.add_argument("--split")
    parser.add_argument("--eval-split", help="split for the final NDCG@10 ('' to skip)")
    parser.add_argument("--label-threshold", type=int, help="labels >= this are 'Yes'")
    parser.add_argument("--graded-targets", action="store_true", help="target P(Yes) = label / 3 instead of the threshold")
    parser.add_argument("--lexical-match-weight", type=float, help="weight of the auxiliary per-token query-match loss (0: off)")
    parser.add_argument("--relevant-weight", type=float, help="loss weight of pairs with a positive target (graded: label >= 1) against 1 for the rest")
    parser.add_argument("--negative-share", type=float, help="per pass, train on every positive pair and this random share of the others (1: all)")
    parser.add_argument("--also-summaries", help="summaries.jsonl: also train on (query, summary) pairs with each candidate's label")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--weight-decay", type=float)
    parser.add_argument("--warmup-ratio", type=float)
    parser.add_argument("--batch-size", type=int, help="per device")
    parser.add_argument("--grad-accum", type=int)
    parser.add_argument("--max-length", type=int, help="max tokens per pair; longer items are cut and reported")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], help="weights for loading; bf16 training uses --bf16")
    parser.add_argument("--bf16", action="store_true", help="bf16 mixed precision (GPUs)")
    parser.add_argument("--save-steps", type=int)
    parser.add_argument("--logging-steps", type=int)
    parser.add_argument("--report-to", help="HF Trainer integrations, e.g. wandb, tensorboard")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in OUT/checkpoints")
    parser.add_argument("--seed", type=int)
    parser.set_defaults(**{f.name: f.default for f in dataclasses.fields(TrainOptions) if f.default is not dataclasses.MISSING})
    return parser


def parse_args(argv: list[str] | None = None) -> TrainOptions:
    """The options the flags give; with --recipe, the recipe's settings stand in for the
    defaults of flags not given."""
    parser = argument_parser()
    recipe = parser.parse_args(argv).recipe
    if recipe:
        parser.set_defaults(**RECIPES[recipe])
    args = vars(parser.parse_args(argv))
    del args["recipe"]
    return TrainOptions(**args)


def main(argv: list[str] | None = None) -> dict:
    options = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = train_ranker(options)
    if PartialState().is_main_process:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    run_cli(main)
