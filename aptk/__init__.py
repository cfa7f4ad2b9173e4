"""aptk — alignment-pretraining toolkit.

Sub-packages in the order data flows (each imports only the ones above it in this list):
core -> synth -> tokens -> data -> train -> posttrain -> evals -> analysis -> pipeline -> bench.
See docs/design.md for the map of stages, modules, config groups, outputs and tests.
"""

import os as _os

__version__ = "0.1.0"

# Thread-count-invariant GEMMs on Intel MKL ("strict" conditional numerical reproducibility):
# without it MKL splits long reductions (weight gradients) across threads, so 1 and 2 threads
# give different weights and `threads` could not stay out of the stage keys. Set before torch
# first calls MKL; a user's own MKL_CBWR wins. No effect where torch does not use MKL.
_os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
