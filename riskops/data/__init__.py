"""The data contract, ingest and validation, bringing a bank's files in, and the synthetic and AMLSim books."""
