"""The risk console: a web app for relationship managers and analysts (`make console`). Thin: pages read the
scoring service's console routes and the library's review module (riskops.scoring.review) decides."""
