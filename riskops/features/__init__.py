"""Behaviour features: one declaration rendered to the catalogue, BigQuery SQL and the online vector."""
