"""The FastAPI scoring service: a thin HTTP shell over riskops.scoring.online."""
