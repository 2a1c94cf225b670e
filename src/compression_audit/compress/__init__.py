"""The compression steps: prune (magnitude or random pruning) and quantize (post-training static int8 and
quantization-aware training), each a method module beside its stage work."""
