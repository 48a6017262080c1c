from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Markdown, Metrics, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)  # the image has kfp
def ingest(
    config: dict,
    cohort: str,
    as_of: str,
    run_id: str,
    dataset_dir: str,
    mapping: dict,
    report: Output[Markdown],
    metrics: Output[Metrics],
) -> NamedTuple("Ingested", table=str, run_id=str):  # type: ignore[valid-type]
    """Load (optional) and validate a cohort through `mapping` ({}: the contract's own names): the clean customers
    table, and the run id (made when empty)."""
    from riskops.runs import steps
    from riskops.runs.record import print_step

    try:
        r = steps.ingest(config, cohort, as_of, run_id, dataset_dir, mapping)  # type: ignore[arg-type]
    except Exception as e:  # the run stops here; its output is what went wrong and where the report is
        with open(report.path, "w") as fh:
            fh.write(f"# Ingest stopped the run\n\n{e}\n")
        raise
    with open(report.path, "w") as fh:
        fh.write(r.document)
    for k, v in r.metrics.items():
        metrics.log_metric(k, v)
    print_step(r.record)

    class Ingested(NamedTuple):  # the outputs by name, as the signature declares them
        table: str
        run_id: str

    return Ingested(str(r.value), r.run_id)
