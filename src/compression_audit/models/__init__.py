"""The train step: the networks and their registry, self-describing checkpoints, the training loop, and what a
model costs (size, CPU latency and throughput)."""
