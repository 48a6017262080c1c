"""A run: its steps (the one flow the CLI and the pipelines call), its record and its report."""
