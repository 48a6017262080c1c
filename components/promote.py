from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def promote(version: str) -> str:
    """Make the candidate the champion (atomic pointer change, history kept)."""
    from riskops import steps

    return str(steps.promote(version, "passed the gate in the training pipeline").value)
