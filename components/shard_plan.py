from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def shard_plan(shards: int, run_id: str) -> list[dict]:
    """The items the scoring pipeline's ParallelFor walks: each shard's number with the run id."""
    from riskops.runs import steps

    return steps.shard_plan(shards, run_id)
