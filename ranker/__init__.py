"""Any Hugging Face causal LM as a (query, job) -> P(Yes) ranker: scoring, training,
evaluation and pruning."""

import os

# CPU steps allocate fresh tensors the size of the 151,936-row Qwen3 vocabulary (logits,
# the embedding's gradient) over and over; backed by transparent huge pages they cost far
# fewer page faults (a training step of the tiny demo ranker runs about 1.3x faster).
# torch reads this once, at its first allocation, so it is set here, before any command
# of ranker/ or rlsum/ imports torch. An explicit THP_MEM_ALLOC_ENABLE=0 wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
