from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def promote(config: dict, version: str, run_id: str) -> str:
    """Make the candidate the champion (atomic pointer change, history kept); with approval required, queue it
    for a validator (returns "" while it waits)."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.promote(config, version, run_id, "passed the gate")
    print_step(r.record)
    return str(r.value)
