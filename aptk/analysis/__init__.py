"""Statistics over eval results: report, power, sweeps, plots, the lexical-shortcut diagnostic."""
