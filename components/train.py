from kfp import dsl
from kfp.dsl import Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def train(
    as_of: str, duckdb_path: str, features_table: str, trials: int, tuning_timeout_s: float, seed: int,
    missed_cost: float, offboard_cost: float, model: Output[Model], report: Output[Markdown], metrics: Output[Metrics],
) -> str:  # fmt: skip
    """Train and register a candidate model; its version."""
    from riskops import steps

    r = steps.train(as_of, duckdb_path, trials, tuning_timeout_s, seed, missed_cost, offboard_cost)
    with open(model.path, "wb") as fh:
        fh.write(steps.model_file(str(r.value)))
    model.metadata["version"] = str(r.value)
    with open(report.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    return str(r.value)
