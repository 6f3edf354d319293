"""RL summarization of job postings: data, training set, RL training, offline summarization
and the evaluation report."""

import ranker  # noqa: F401  (first: it sets torch's CPU allocator option before torch loads)
