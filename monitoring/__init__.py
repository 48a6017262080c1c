"""Monitoring as code: the alert rules (alerts.yml, promtool-tested), the cluster's Rules object generated from
them, and the Grafana dashboards generated with grafana-foundation-sdk (typed from Grafana's own schema)."""
