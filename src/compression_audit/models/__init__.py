"""The train step: the networks and their registry, self-describing checkpoints, the training loop, and what a
model costs (size, CPU latency and throughput)."""

# The built-in networks by name, in the registry's order (networks.MODELS builds them; a test keeps the two in
# step). Here, without torch, so that validating params.yaml does not pay torch's import.
BUILTIN_MODELS = ("lenet5", "squeezenet", "resnet18")
