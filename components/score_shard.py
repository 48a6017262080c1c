from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def score_shard(config: dict, as_of: str, run_id: str, shard: int, shards: int, policy: dict) -> str:
    """Score one shard of the unlabelled cohort with the champion under `policy` ({}: the model's default);
    returns the model version, which the score step checks is the same for every shard."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.score_shard(config, as_of, run_id, int(shard), int(shards), "unlabelled", policy)
    print_step(r.record)
    return str(r.value)
