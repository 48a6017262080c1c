from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def features(cohort: str, as_of: str, duckdb_path: str, clean_table: str, metrics: Output[Metrics]) -> str:
    """Compute `<cohort>_features` in the warehouse (after `clean_table` exists); its name."""
    from riskops import steps

    r = steps.features(cohort, as_of, duckdb_path)  # type: ignore[arg-type]
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    return str(r.value)
