"""The training and scoring pipelines (KFP v2), their compilation and their local runs."""
