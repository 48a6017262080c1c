from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def shard_plan(shards: int) -> list[int]:
    """The shard numbers the scoring pipeline's ParallelFor walks (0 to shards - 1)."""
    from riskops.runs import steps

    return steps.shard_plan(shards)
