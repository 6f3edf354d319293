"""Attention for scoring, swapped into any HF causal LM through transformers' attention
registry: `layouts` (what a pass computes: masks, positions, inputs, built once per
batch), `backends` (the kernels, selected by name) and `dispatch` (the function
transformers calls, which picks the computation by the layout's type)."""
