"""One module per resource; each holds a router and nothing else."""
