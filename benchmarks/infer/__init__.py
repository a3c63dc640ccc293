"""Side-by-side benchmarks of edgekit.infer against the raw runtimes."""
