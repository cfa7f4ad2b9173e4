"""aptk — alignment-pretraining toolkit.

Sub-packages in the order data flows (each imports only the ones above it in this list):
core -> synth -> tokens -> data -> train -> posttrain -> evals -> analysis -> pipeline -> bench.
See docs/design.md for the map of stages, modules, config groups, outputs and tests.
"""

__version__ = "0.1.0"
