from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def gate(version: str, margin: float, metrics: Output[Metrics]) -> bool:
    """Compare the candidate with the champion on the same holdout: promote or not."""
    from riskops import steps

    r = steps.gate(version, margin)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print(r.document)
    return bool(r.value)
