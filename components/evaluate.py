from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def evaluate(
    version: str, missed_cost: float, offboard_cost: float, report: Output[HTML], metrics: Output[Metrics]
) -> None:
    """Evaluate a candidate on its holdout with this run's cost matrix."""
    from riskops import steps

    r = steps.evaluate(version, missed_cost, offboard_cost)
    with open(report.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
