"""Any Hugging Face causal LM as a (query, job) -> P(Yes) ranker: scoring, training,
evaluation and pruning."""

import os

# CPU training allocates tensors the size of the vocabulary (logits, the embedding's
# gradient) again and again; backed by transparent huge pages they cost far fewer page
# faults. torch reads this at its first allocation, so it is set when ranker is imported,
# which every command of ranker/, serving/ and rlsum/ does before it allocates.
# An explicit THP_MEM_ALLOC_ENABLE=0 wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
