"""Metrics, reports and plots, per-speaker normalisation, cross-corpus scoring and what the matrix says about unseen corpora."""
