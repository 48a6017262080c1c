"""The `riskops` command line (Typer): a shell at the top, beside the service, the console and the pipelines."""
