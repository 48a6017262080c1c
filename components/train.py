from kfp import dsl
from kfp.dsl import Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def train(
    config: dict,
    as_of: str,
    run_id: str,
    features_table: str,
    trials: int,
    tuning_timeout_s: float,
    seed: int,
    outcomes: bool,
    family: str,
    registered_by: str,
    model: Output[Model],
    metrics: Output[Metrics],
) -> str:
    """Train a candidate on `features_table` (tuning, CV against baselines; `family` ships), registered in the
    name of `registered_by`; its version."""
    from riskops.core.progress import print_tick
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.train(
        config,
        as_of,
        run_id,
        trials,
        tuning_timeout_s,
        seed,
        tick=print_tick,
        outcomes=outcomes,
        family=family,
        registered_by=registered_by,
    )
    with open(model.path, "wb") as fh:
        fh.write(steps.model_file(config, str(r.value)))
    model.metadata["version"] = str(r.value)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return str(r.value)
