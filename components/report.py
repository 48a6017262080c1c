from kfp import dsl
from kfp.dsl import Markdown, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def report(config: dict, run_id: str, offboarding_table: str, document: Output[Markdown]) -> str:
    """The run report (model, segments, the list with reasons) and the run record from the run's steps; its URI."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    r = steps.report(config, run_id, "pipeline")
    with open(document.path, "w") as fh:
        fh.write(r.document)
    print_step(r.record)
    return str(r.value)
