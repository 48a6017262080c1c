from kfp import dsl

from components.monitor import monitor
from pipelines.sizing import sized
from pipelines.training import training_pipeline
from riskops.runs.parameters import DEFAULTS


@dsl.pipeline(
    name="riskops-monitoring",
    description="Outcomes, drift and the shadow challenger -> a report; the training pipeline when the policy allows.",
)
def monitoring_pipeline(
    as_of: str,
    config: dict = {},  # noqa: B006 - KFP reads the default; `riskops pipeline compile` writes the real one
    trials: int = DEFAULTS.trials,
    seed: int = DEFAULTS.seed,
    missed_cost: float = DEFAULTS.missed_cost,
    offboard_cost: float = DEFAULTS.offboard_cost,
    margin: float = DEFAULTS.margin,
    mapping: dict = {},  # noqa: B006 - the mapping the training pipeline reads the raw tables with
    fairness: dict = {},  # noqa: B006 - the policy's fairness limits the retraining's gate holds it to
    max_list_share: float = DEFAULTS.max_list_share,  # the policy's; fairness is measured on the list it allows
) -> None:
    checked = sized(monitor(config=config), "monitor")
    # Retraining on the warehouse's labelled tables as of `as_of`; its gate still decides what is served.
    # The monitor's output is the family to retrain with (the policy's), or "" when nothing calls for it.
    with dsl.If(checked.outputs["Output"] != "", name="retrain"):
        training_pipeline(
            as_of=as_of,
            config=config,
            trials=trials,
            seed=seed,
            missed_cost=missed_cost,
            offboard_cost=offboard_cost,
            margin=margin,
            mapping=mapping,
            family=checked.outputs["Output"],
            fairness=fairness,
            max_list_share=max_list_share,
        )
