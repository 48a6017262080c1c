from kfp import dsl

from components.evaluate import evaluate
from components.features import features
from components.gate import gate
from components.ingest import ingest
from components.promote import promote
from components.train import train


@dsl.pipeline(name="riskops-training", description="Labelled cohort -> model -> evaluation -> gated promotion.")
def training_pipeline(
    as_of: str,
    duckdb_path: str = "",
    dataset_dir: str = "",
    trials: int = 8,
    tuning_timeout_s: float = 90.0,
    seed: int = 42,
    missed_cost: float = 5000.0,
    offboard_cost: float = 400.0,
    margin: float = 0.0,
) -> str:
    clean = ingest(cohort="labelled", as_of=as_of, duckdb_path=duckdb_path, dataset_dir=dataset_dir)
    feats = features(cohort="labelled", as_of=as_of, duckdb_path=duckdb_path, clean_table=clean.outputs["Output"])
    model = train(
        as_of=as_of, duckdb_path=duckdb_path, features_table=feats.outputs["Output"], trials=trials,
        tuning_timeout_s=tuning_timeout_s, seed=seed, missed_cost=missed_cost, offboard_cost=offboard_cost,
    )  # fmt: skip
    version = model.outputs["Output"]
    evaluate(version=version, missed_cost=missed_cost, offboard_cost=offboard_cost)
    decision = gate(version=version, margin=margin)
    with dsl.If(decision.outputs["Output"] == True, name="passed-gate"):  # noqa: E712 - a KFP condition
        promote(version=version)
    return version
