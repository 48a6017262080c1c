"""The decision policy, batch off-boarding with reasons, online scoring and the prediction log."""
