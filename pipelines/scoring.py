from kfp import dsl

from components.ingest import ingest
from components.report import report
from components.score import score
from components.score_shard import score_shard
from components.shard_plan import shard_plan
from pipelines.sizing import sized


@dsl.pipeline(name="riskops-scoring", description="Unlabelled cohort -> champion model -> off-boarding list.")
def scoring_pipeline(
    as_of: str,
    config: dict = {},  # noqa: B006 - KFP reads the default; `riskops pipeline compile` writes the real one
    run_id: str = "",
    dataset_dir: str = "",
    mapping: dict = {},  # noqa: B006 - {} maps nothing: the contract's own names
    policy: dict = {},  # noqa: B006 - {} means the champion's default policy
    shards: int = 1,
) -> str:
    clean = sized(
        ingest(
            config=config, cohort="unlabelled", as_of=as_of, run_id=run_id, dataset_dir=dataset_dir, mapping=mapping
        ),
        "ingest",
    )
    run = clean.outputs["run_id"]
    plan = sized(shard_plan(shards=shards, run_id=run).after(clean), "shard_plan")
    with dsl.ParallelFor(items=plan.output, name="shards") as item:
        part = sized(
            score_shard(config=config, as_of=as_of, run_id=item.run_id, shard=item.shard, shards=shards, policy=policy),
            "score_shard",
        )
    scored = sized(
        score(
            config=config, as_of=as_of, run_id=run, shards=shards, versions=dsl.Collected(part.output), policy=policy
        ),
        "score",
    )
    written = sized(report(config=config, run_id=run, offboarding_table=scored.outputs["Output"]), "report")
    return written.outputs["Output"]
