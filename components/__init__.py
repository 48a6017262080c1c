"""KFP v2 components, one per file, each a thin shell over `riskops.steps`.

They run in the project's image (`RISKOPS_IMAGE`, read when the components are defined) and pass data as
warehouse table references, model versions and artifacts, never as large parameters.
"""

from riskops.config import Settings

IMAGE = Settings().image
