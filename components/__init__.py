"""KFP v2 components, one per file, each a thin shell over `riskops.runs.steps`.

They run in the project's image (`RISKOPS_IMAGE`, read when the components are defined) and pass data as
warehouse table references, model versions and artifacts, never as large parameters. Every component takes
`config` (where the warehouse and the artifact store are; written into the spec at compile time) and the run id
that the first step makes; nothing else configures a step.
"""

from riskops.core.config import Settings

IMAGE = Settings().image
