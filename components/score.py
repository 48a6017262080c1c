from kfp import dsl
from kfp.dsl import Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def score(
    as_of: str, duckdb_path: str, clean_table: str, high_cutoff: float, medium_factor: float, min_rules: int,
    metrics: Output[Metrics],
) -> str:  # fmt: skip
    """Score the unlabelled cohort with the champion: segments, rules, the off-boarding list with reasons.
    `high_cutoff` 0 means the model's cost-optimal threshold. Returns the list's warehouse table."""
    from riskops import steps

    r = steps.score(as_of, duckdb_path, "unlabelled", high_cutoff, medium_factor, min_rules)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    return str(r.value)
