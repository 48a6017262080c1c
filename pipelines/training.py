from kfp import dsl

from components.evaluate import evaluate
from components.features import features
from components.gate import gate
from components.ingest import ingest
from components.promote import promote
from components.train import train
from components.validate import validate
from pipelines.sizing import sized
from riskops.runs.parameters import DEFAULTS


@dsl.pipeline(name="riskops-training", description="Labelled cohort -> model -> evaluation -> gated promotion.")
def training_pipeline(
    as_of: str,
    config: dict = {},  # noqa: B006 - KFP reads the default; `riskops pipeline compile` writes the real one
    run_id: str = "",
    dataset_dir: str = "",
    mapping: dict = {},  # noqa: B006 - {} maps nothing: the contract's own names
    trials: int = DEFAULTS.trials,
    tuning_timeout_s: float = DEFAULTS.tuning_timeout_s,
    seed: int = DEFAULTS.seed,
    missed_cost: float = DEFAULTS.missed_cost,
    offboard_cost: float = DEFAULTS.offboard_cost,
    margin: float = DEFAULTS.margin,
    outcomes: bool = DEFAULTS.outcomes,
    family: str = DEFAULTS.family,
    fairness: dict = {},  # noqa: B006 - the policy's fairness limits; {} is the defaults (four-fifths rule)
    validation: dict = {},  # noqa: B006 - the policy's validation limits; {} is the defaults
    allow_protected: dict = {},  # noqa: B006 - protected attributes the policy lets the model use, justified
    max_list_share: float = DEFAULTS.max_list_share,  # the policy's; fairness is measured on the list it allows
    registered_by: str = DEFAULTS.registered_by,  # who submits it: never the model's approver
) -> str:
    clean = sized(
        ingest(config=config, cohort="labelled", as_of=as_of, run_id=run_id, dataset_dir=dataset_dir, mapping=mapping),
        "ingest",
    )
    run = clean.outputs["run_id"]
    table = clean.outputs["table"]
    feats = sized(
        features(
            config=config,
            cohort="labelled",
            as_of=as_of,
            run_id=run,
            clean_table=table,
            allow_protected=allow_protected,
        ),
        "features",
    )
    model = sized(
        train(
            config=config,
            as_of=as_of,
            run_id=run,
            features_table=feats.outputs["Output"],
            trials=trials,
            tuning_timeout_s=tuning_timeout_s,
            seed=seed,
            outcomes=outcomes,
            family=family,
            registered_by=registered_by,
        ),
        "train",
    )
    evaluated = sized(
        evaluate(
            config=config,
            version=model.outputs["Output"],
            run_id=run,
            missed_cost=missed_cost,
            offboard_cost=offboard_cost,
            fairness=fairness,
            max_list_share=max_list_share,
        ),
        "evaluate",
    )
    version = evaluated.outputs["Output"]
    validated = sized(validate(config=config, version=version, run_id=run, validation=validation), "validate")
    decision = sized(
        gate(
            config=config, version=version, run_id=run, margin=margin, fairness=fairness, max_list_share=max_list_share
        ),
        "gate",
    ).after(validated)
    with dsl.If(decision.outputs["Output"] == True, name="passed-gate"):  # noqa: E712 - a KFP condition
        sized(promote(config=config, version=version, run_id=run), "promote")
    return run
