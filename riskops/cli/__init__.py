"""The `riskops` command line: a thin shell over the library."""
