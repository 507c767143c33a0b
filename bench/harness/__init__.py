"""The benchmark harness behind `make bench`: k6 and gRPC scenarios against the
embedded stack, baselines measured in the same run, an invariant audit after
each scenario, and a dated Markdown report with PNG charts."""
