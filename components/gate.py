from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def gate(
    config: dict,
    version: str,
    run_id: str,
    margin: float,
    fairness: dict,
    max_list_share: float,
    metrics: Output[Metrics],
) -> bool:
    """Compare the registered candidate with the champion on the same holdout, PR-AUC then fairness (the
    policy's limits): promote or not."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.gate(config, version, run_id, margin, fairness, max_list_share)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return bool(r.value)
