"""The run half of obsctl: the local stack, load, faults, the demo and the benchmarks."""
