from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def evaluate(
    config: dict,
    version: str,
    run_id: str,
    missed_cost: float,
    offboard_cost: float,
    fairness: dict,
    max_list_share: float,
    report: Output[HTML],
    metrics: Output[Metrics],
) -> str:
    """Evaluate the candidate once on its holdout with this run's cost matrix and register it; its version."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.evaluate(config, version, run_id, missed_cost, offboard_cost, fairness, max_list_share)
    with open(report.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return version
