from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def monitor(config: dict, metrics: Output[Metrics]) -> str:
    """Published scoring runs against the outcomes known, the latest drift, the shadow challenger; a report.
    Returns the model family the training pipeline should ship when it should start (the policy's retrain_on
    allows it and something calls for it; the family is the same policy's), else "". One output, not a
    NamedTuple: kfp.local cannot resolve a named output in a condition."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.monitor(config)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return str(r.record.detail["family"]) if r.value else ""
