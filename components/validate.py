from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def validate(
    config: dict, version: str, run_id: str, validation: dict, pack: Output[HTML], metrics: Output[Metrics]
) -> str:
    """The registered candidate's validation pack (out of time, scorecard benchmark, stability, weak spots,
    sensitivity, fairness, limitations) beside it in the registry; its overall status."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.validate(config, version, run_id, validation)
    with open(pack.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)
    return str(r.value)
