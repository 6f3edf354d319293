"""Fine-tune a causal LM as a ranker on qrels, or distil it from a teacher ranker.

    python -m ranker.train --data DIR --model INIT_DIR --out OUT_DIR [--teacher DIR]

Loss: cross-entropy on the label token at the score position. With hard labels the target
is "Yes" when label >= --label-threshold, else "No"; with --teacher the target is the
two-point distribution (P_teacher(Yes), 1 - P_teacher(Yes)) over the first two labels,
which is how a pruned ranker recovers the ranking of the model it was cut from.

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

from ranker.scoring import Ranker, label_logprobs, left_pad, load_ranker
from rlsum.data import Dataset, load_dataset

log = logging.getLogger(__name__)


def split_pairs(dataset: Dataset, split: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """(query text, item text) of every candidate of the split's queries, with its label."""
    pairs, labels = [], []
    for query in dataset.queries_in(split):
        for qrel in dataset.candidates(query.query_id):
            pairs.append((query.text, dataset.items[qrel.item_id].text))
            labels.append(qrel.label)
    return pairs, np.array(labels, dtype=np.int64)


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, sequences: list[list[int]], targets: np.ndarray):
        self.sequences = sequences
        self.targets = targets.astype(np.float32)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.sequences[i], "target": self.targets[i]}


class LeftPadCollator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        input_ids, attention_mask = left_pad([r["input_ids"] for r in rows], self.pad_id)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "target": torch.tensor(np.array([r["target"] for r in rows]))}


def label_cross_entropy(logprobs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the label-token log-probabilities [batch, >=2] against the
    probability `target` [batch] of the first (positive) label versus the second."""
    return -(target * logprobs[:, 0] + (1.0 - target) * logprobs[:, 1]).mean()


class RankerTrainer(Trainer):
    def __init__(self, *args, label_ids: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.label_ids = torch.tensor(label_ids)
        self.model_accepts_loss_kwargs = False  # the loss is a per-pair mean

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        logprobs = label_logprobs(model, inputs["input_ids"], inputs["attention_mask"], self.label_ids.to(inputs["input_ids"].device))
        loss = label_cross_entropy(logprobs, inputs["target"])
        return (loss, {"logprobs": logprobs}) if return_outputs else loss


def training_targets(args, ranker: Ranker, pairs: list[tuple[str, str]], labels: np.ndarray) -> np.ndarray:
    if args.teacher is None:
        return (labels >= args.label_threshold).astype(np.float32)
    teacher = load_ranker(args.teacher, dtype=args.dtype, max_length=args.max_length)
    log.info("scoring %d training pairs with teacher %s", len(pairs), args.teacher)
    return teacher.score_pairs(pairs, batch_size=args.batch_size * 2, progress=True).p_yes.astype(np.float32)


def validation_ndcg(ranker: Ranker, dataset: Dataset, split: str, batch_size: int) -> dict:
    from ranker.evaluate import evaluate_ranker

    return evaluate_ranker(ranker, dataset, split=split, batch_size=batch_size)


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
    pairs, labels = split_pairs(dataset, args.split)
    if not pairs:
        raise SystemExit(f"{args.data}: split {args.split!r} has no query with candidates")
    sequences, items = ranker.encode_pairs(pairs)
    n_truncated = sum(it.dropped_tokens > 0 for it in items)
    if n_truncated:
        log.warning("%d of %d training items were truncated to max_length=%d", n_truncated, len(items), ranker.max_length)
    targets = training_targets(args, ranker, pairs, labels)
    log.info("training on %d pairs (%.1f%% positive targets, mean %.0f tokens)", len(pairs), 100 * targets.mean(), np.mean([len(s) for s in sequences]))

    training_args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio,
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
        train_dataset=PairDataset(sequences, targets),
        data_collator=LeftPadCollator(ranker.pad_id),
        label_ids=ranker.label_ids,
    )
    resume_from = latest_checkpoint(out / "checkpoints") if args.resume else None
    if args.resume:
        log.info("resuming from %s", resume_from or "scratch (no checkpoint found)")
    train_output = trainer.train(resume_from_checkpoint=resume_from)

    if trainer.is_world_process_zero():
        trainer.save_model(str(out))
        ranker.tokenizer.save_pretrained(out)
        ranker.template.save(out)
    ranker.model.eval()
    summary = {"model": str(out), "train_pairs": len(pairs), "train_seconds": round(time.time() - started, 1), "train_loss": round(train_output.training_loss, 4)}
    if args.eval_split and dataset.queries_in(args.eval_split):
        result = validation_ndcg(ranker, dataset, args.eval_split, args.batch_size * 2)
        summary[f"{args.eval_split}_ndcg@10"] = result["ndcg@10"]
    if trainer.is_world_process_zero():
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
