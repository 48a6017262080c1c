"""Stream commands: the Pub/Sub topics, the worker that scores events, a feed of events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import (
    Cli,
    DuckOpt,
    MappingOpt,
    app,
    book_settings,
    console,
    out,
)
from riskops.core.errors import RiskOpsError
from riskops.data.contract import load_mapping

stream_app = Cli(
    help="Streaming: score customers as they arrive on Pub/Sub, take labelled samples.", no_args_is_help=True
)
app.add_typer(stream_app, name="stream")
ProjectOpt = Annotated[str, typer.Option(envvar="RISKOPS_PUBSUB_PROJECT", help="GCP project of the topics.")]
TopicOpt = Annotated[str, typer.Option(envvar="RISKOPS_STREAM_TOPIC", help="Topic the events are published to.")]
SubscriptionOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_SUBSCRIPTION", help="Subscription the worker pulls events from.")
]
DeadLetterOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_DEAD_LETTER_TOPIC", help="Topic malformed events go to, with the reason.")
]
ResultsTopicOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_RESULTS_TOPIC", help="Topic the results go to (empty: none).")
]


@stream_app.command("topics")
def stream_topics_cmd(
    project: ProjectOpt = "riskops-local",
    topic: TopicOpt = "riskops-events",
    subscription: SubscriptionOpt = "riskops-events-worker",
    dead_letter_topic: DeadLetterOpt = "riskops-events-dead-letter",
    results_topic: ResultsTopicOpt = "riskops-results",
    ack_deadline: Annotated[int, typer.Option(help="Seconds before an unacknowledged event is redelivered.")] = 60,
) -> None:
    """Create the topics and subscriptions when missing (the emulator; Terraform makes them on GCP)."""
    from riskops.io.pubsub import PubSub

    ps = PubSub(project)
    ps.ensure(topic, [subscription], ack_deadline)
    ps.ensure(dead_letter_topic, [f"{dead_letter_topic}-inspect"])
    if results_topic:
        ps.ensure(results_topic, [f"{results_topic}-consumer"])
    ps.close()
    out.print(f"topics {topic}, {dead_letter_topic}, {results_topic or '-'} and subscription {subscription} ready")


@stream_app.command("work")
def stream_work_cmd(
    project: ProjectOpt = "riskops-local",
    subscription: SubscriptionOpt = "riskops-events-worker",
    dead_letter_topic: DeadLetterOpt = "riskops-events-dead-letter",
    results_topic: ResultsTopicOpt = "riskops-results",
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also append results to this CSV file.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Events per micro-batch at most.")] = 200,
    max_wait: Annotated[float, typer.Option(min=0, help="Seconds a micro-batch waits to fill.")] = 0.1,
    metrics_port: Annotated[int, typer.Option(help="Port of /metrics (0: none).")] = 9100,
    metrics_host: Annotated[str, typer.Option(help="Address /metrics listens on.")] = "127.0.0.1",
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
) -> None:
    """Score events from a subscription with the champion until SIGTERM/SIGINT; results to the warehouse table
    stream_results, the results topic and the CSV; labelled samples to the labelled raw tables."""
    import signal
    import threading

    from prometheus_client import start_http_server

    from riskops.io.artifacts import open_store
    from riskops.io.pubsub import PubSub
    from riskops.io.warehouse import open_warehouse
    from riskops.model.registry import Registry
    from riskops.scoring.online import ModelHolder, PublishedPolicy
    from streaming.worker import StreamConfig, StreamWorker

    settings = book_settings()
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    holder = ModelHolder(Registry(store))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = StreamConfig(
        subscription, dead_letter_topic, results_topic, csv_path, batch_size, max_wait, settings.model_poll_s
    )
    with open_warehouse(settings, duckdb) as wh:
        worker = StreamWorker(PubSub(project), wh, holder, PublishedPolicy(store), config, load_mapping(mapping))
        worker.refresh()
        if holder.current is None:
            raise RiskOpsError(
                holder.last_failure or "no champion to score with",
                f"model registry at {settings.artifacts}",
                "run `make run` (or promote a model) first",
            )
        if metrics_port:
            start_http_server(metrics_port, addr=metrics_host)
        sinks = ", ".join(x for x in [config.results_table, results_topic, str(csv_path or "")] if x)
        out.print(f"scoring {subscription} with {holder.current.version}; results to {sinks}")
        totals = {"scored": 0, "duplicates": 0, "dead_letters": 0, "labelled": 0}

        def report(b: Any) -> None:
            for k in totals:
                totals[k] += getattr(b, k)
            console.print(" ".join(f"{k} {v:,}" for k, v in totals.items()), highlight=False)

        worker.run(stop, report)
    out.print("stopped: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))


@stream_app.command("feed")
def stream_feed_cmd(
    data: Annotated[Path, typer.Option(help="Dataset folder from `riskops generate`.")],
    project: ProjectOpt = "riskops-local",
    topic: TopicOpt = "riskops-events",
    rate: Annotated[float, typer.Option(min=0.1, help="Customer events per second.")] = 50.0,
    limit: Annotated[int | None, typer.Option(help="Publish at most this many customers.")] = None,
    outcomes_every: Annotated[float, typer.Option(help="Seconds between batches of outcome events.")] = 60.0,
    outcomes: Annotated[int, typer.Option(help="Outcome events per batch (customers already sent).")] = 20,
) -> None:
    """Publish the unlabelled cohort as customer events at a rate, and their outcomes every minute."""
    import signal
    import threading

    from riskops.io.pubsub import PubSub
    from streaming.feed import customer_events, hidden_truth, run_feed

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ps = PubSub(project)
    summary = run_feed(
        ps, topic, customer_events(data, limit=limit), rate, stop, hidden_truth(data), outcomes_every, outcomes
    )
    ps.close()
    out.print(
        f"published {summary.customers:,} customer and {summary.outcomes:,} outcome events in {summary.seconds:.1f}s"
    )
