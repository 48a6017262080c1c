"""Prometheus metrics of the service; every label value is bounded (routes, status classes, segments)."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("riskops_requests_total", "HTTP requests", ["route", "status"])
LATENCY = Histogram(
    "riskops_request_seconds",
    "Request latency",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
IN_FLIGHT = Gauge("riskops_requests_in_flight", "Requests being served")
SCORES = Histogram("riskops_score", "Risk scores served", buckets=tuple(i / 20 for i in range(1, 21)))
DECISIONS = Counter("riskops_decisions_total", "Decisions by segment", ["segment", "offboard"])
MODEL = Gauge("riskops_model_info", "The serving model (value 1)", ["version"])
CHAMPION_POINTER = Gauge(
    "riskops_champion_pointer_ok", "1 when the registry's champion pointer reads and names a version"
)
MODEL_LOADS = Counter("riskops_model_loads_total", "Champion load attempts", ["result"])
PREDICTION_LOG_DROPS = Counter("riskops_prediction_log_dropped_total", "Prediction log records dropped (queue full)")
MODEL_METRIC = Gauge("riskops_model_metric", "The serving model's holdout metrics", ["metric"])
REFERENCE_SHARE = Gauge(
    "riskops_model_reference_share", "Share of the serving model's holdout customers in each segment", ["segment"]
)
OUTSIDE_APPROVED = Gauge(
    "riskops_model_outside_approved_range",
    "1 when the latest monitoring found a model's live figures outside the ranges it was approved in",
)
RUN_TIME = Gauge("riskops_scoring_run_timestamp_seconds", "When the latest published scoring run was created")
RUN_DURATION = Gauge("riskops_scoring_run_duration_seconds", "How long the latest published run took (when recorded)")
RUN_CUSTOMERS = Gauge("riskops_scoring_run_customers", "Customers of the latest published run by segment", ["segment"])
RUN_OFFBOARDED = Gauge("riskops_scoring_run_offboarded", "Customers on the latest published off-boarding list")
WINDOW_PSI = Gauge("riskops_score_window_psi", "PSI of the last scores served against the model's holdout scores")
WINDOW_SCORES = Gauge("riskops_score_window_scores", "Scores in the online drift window")
WINDOW_SHARE = Gauge("riskops_score_window_share", "Segment mix of the last scores served", ["segment"])
SHADOW = Counter("riskops_shadow_scores_total", "Challenger scores beside the champion's", ["result"])
SHADOW_MODEL = Gauge("riskops_shadow_model_info", "The challenger scored in shadow (value 1)", ["version"])
