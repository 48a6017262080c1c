from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def score(
    config: dict,
    as_of: str,
    run_id: str,
    shards: int,
    versions: list[str],
    policy: dict,
    metrics: Output[Metrics],
) -> str:
    """Gather the scored shards of the unlabelled cohort under `policy` ({}: the model's default): segments,
    rules, the off-boarding list with reasons (capped to the review capacity), drift, published with the
    policy. Returns the list's warehouse table."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.score(config, as_of, run_id, "unlabelled", policy, int(shards), [str(v) for v in versions])
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return str(r.value)
