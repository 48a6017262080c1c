"""riskops: learn who is risky from off-boarded customers, segment, and explain an off-boarding list."""

__version__ = "0.1.0"
