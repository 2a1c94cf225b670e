"""The last steps: verdict (the deployment gate's criteria per variant) and report (one HTML page and a
Markdown summary), with the collector that reads every stage's outputs and the report's figures."""
