from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def features(
    config: dict,
    cohort: str,
    as_of: str,
    run_id: str,
    clean_table: str,
    allow_protected: dict,
    metrics: Output[Metrics],
) -> str:
    """Compute `<cohort>_features` in the warehouse (after `clean_table` exists; protected attributes out unless
    the policy allows one); its name."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.features(config, cohort, as_of, run_id, allow_protected)  # type: ignore[arg-type]
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return str(r.value)
