from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def monitor(config: dict, metrics: Output[Metrics]) -> bool:
    """Published scoring runs against the outcomes known, the latest drift, the shadow challenger; a report.
    Returns whether the training pipeline should start (the policy's retrain_on allows it and something calls
    for it)."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.monitor(config)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return bool(r.value)
