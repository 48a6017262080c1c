"""Training, evaluation, the registry and the candidate lifecycle (train, evaluate, register)."""
