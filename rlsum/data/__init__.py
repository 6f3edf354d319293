"""The RL training set (`prepare`: verl parquet rows with p_raw precomputed by the frozen
ranker) and the data command line, ``python -m rlsum.data synth|prepare``. The data
format itself is the bottom package `jobdata`."""
