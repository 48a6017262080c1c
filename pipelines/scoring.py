from kfp import dsl

from components.ingest import ingest
from components.report import report
from components.score import score


@dsl.pipeline(name="riskops-scoring", description="Unlabelled cohort -> champion model -> off-boarding list.")
def scoring_pipeline(
    as_of: str, duckdb_path: str = "", dataset_dir: str = "", high_cutoff: float = 0.0, medium_factor: float = 0.5,
    min_rules: int = 1,
) -> str:  # fmt: skip
    clean = ingest(cohort="unlabelled", as_of=as_of, duckdb_path=duckdb_path, dataset_dir=dataset_dir)
    scored = score(
        as_of=as_of, duckdb_path=duckdb_path, clean_table=clean.outputs["Output"], high_cutoff=high_cutoff,
        medium_factor=medium_factor, min_rules=min_rules,
    )  # fmt: skip
    written = report(
        as_of=as_of, duckdb_path=duckdb_path, offboarding_table=scored.outputs["Output"], high_cutoff=high_cutoff,
        medium_factor=medium_factor, min_rules=min_rules,
    )  # fmt: skip
    return written.outputs["Output"]
