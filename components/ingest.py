from kfp import dsl
from kfp.dsl import Markdown, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def ingest(
    cohort: str, as_of: str, duckdb_path: str, dataset_dir: str, report: Output[Markdown], metrics: Output[Metrics]
) -> str:
    """Load (optional) and validate a cohort; the clean customers table's name."""
    from riskops import steps

    try:
        r = steps.ingest(cohort, as_of, duckdb_path, dataset_dir)  # type: ignore[arg-type]
    except Exception as e:  # the run stops here; its output is what went wrong and where the report is
        with open(report.path, "w") as fh:
            fh.write(f"# Ingest stopped the run\n\n{e}\n")
        raise
    with open(report.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    return str(r.value)
