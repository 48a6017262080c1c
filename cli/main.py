"""The `riskops` command line: a thin shell over the library. Each group of commands is a module of this
package; importing them registers their commands on the one app."""

from cli import data, models, pipeline, runs, stream  # noqa: F401 - each registers its commands
from cli.app import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
