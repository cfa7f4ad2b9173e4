"""aptk.evals: misalignment suites, scorers, statistics and reports."""
