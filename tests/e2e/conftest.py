"""The emulators the production-shape run needs: the integration suite's fixtures, reused."""

from tests.integration.conftest import bigquery_settings, gcs_endpoint

__all__ = ["bigquery_settings", "gcs_endpoint"]
