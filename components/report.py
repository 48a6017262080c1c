from kfp import dsl
from kfp.dsl import Markdown, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def report(
    as_of: str, duckdb_path: str, offboarding_table: str, high_cutoff: float, medium_factor: float, min_rules: int,
    document: Output[Markdown],
) -> str:  # fmt: skip
    """The run report (model performance, segments, the list with reasons) and the run record; its URI."""
    from riskops import steps

    r = steps.report(as_of, duckdb_path, "unlabelled", "", high_cutoff, medium_factor, min_rules)
    with open(document.path, "w") as fh:
        fh.write(r.document)
    return str(r.value)
