"""Speed and memory benchmarks; each script prints its figures against a same-run baseline."""
