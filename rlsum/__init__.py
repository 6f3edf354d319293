"""RL summarization of job postings: the training set, RL training, offline summarization
and the evaluation report. The top layer: it may import every other package."""
