"""Named training recipes: `TrainOptions` settings that go together, selected with
`python -m ranker.train --recipe NAME` (explicit flags override them) or merged into
`TrainOptions(...)` by code. How long to train is left to the caller.

tiny-from-scratch: a random tiny Qwen3 (`python -m ranker.tiny --share-spellings`) on a
CPU, as scripts/demo.sh trains it on realistic postings. It reads the
first 64 tokens of each pair: the instruction, the query, the posting's title line and its
opening words. It learns query-item matching with the lexical-match auxiliary loss and is
trained towards graded targets (label / 3). Each pass takes every relevant pair and a
fresh quarter of the irrelevant ones: most of those are easy, and short passes buy many
passes over the relevant pairs, where seniority is learned, not only the job family
(ranker/train_aids.py says why a random model needs these aids).

tiny-compact: the same aids for the compact benchmark (`rlsum.data synth --shape compact`),
whose ranker reads every pair whole (no max_length) and the RL bootstrap trains. Batches
of 16: a random model learns from the number of steps more than from their size (three
passes over the reference-summary pairs reach validation NDCG@10 0.84 in batches of 16
and 0.77 in batches of 64, in the same time).
"""

RECIPES: dict[str, dict] = {
    "tiny-compact": {
        "max_length": None,
        "lexical_match_weight": 1.0,
        "graded_targets": True,
        "negative_share": 0.25,
        "lr": 3e-3,
        "batch_size": 16,
    },
    "tiny-from-scratch": {
        "max_length": 64,
        "lexical_match_weight": 1.0,
        "graded_targets": True,
        "negative_share": 0.25,
        "lr": 3e-3,
        "batch_size": 64,
    },
}
