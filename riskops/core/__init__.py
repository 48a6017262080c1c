"""Settings, errors, SQL names, logs: what every other part builds on; imports nothing else of riskops."""
