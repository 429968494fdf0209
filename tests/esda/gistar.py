"""Reference Gi* from PySAL's esda, for the Rust tests to compare against.

Reads JSON on standard input:
  {"x": [...], "y": [...], "values": [...],
   "weights": {"type": "distance", "band": metres}
            | {"type": "lists", "lists": [[neighbour indices, self excluded], ...]}}
and writes {"z": [...], "p_two_sided": [...], "fdr": {"0.01": t, "0.05": t, "0.1": t},
"cardinality": [...]} on standard output.
"""
import json
import sys
import warnings

import numpy as np
import esda
import libpysal

warnings.simplefilter("ignore")
request = json.load(sys.stdin)
coords = np.column_stack([request["x"], request["y"]])
y = np.asarray(request["values"], dtype=float)
spec = request["weights"]
if spec["type"] == "distance":
    w = libpysal.weights.DistanceBand(coords, threshold=spec["band"], binary=True, silence_warnings=True)
else:
    w = libpysal.weights.W({i: list(l) for i, l in enumerate(spec["lists"])}, silence_warnings=True)
g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
p_two = 2.0 * g.p_norm
json.dump(
    {
        "z": [None if not np.isfinite(v) else float(v) for v in g.Zs],
        "p_two_sided": [None if not np.isfinite(v) else float(v) for v in p_two],
        "fdr": {str(a): float(esda.fdr(p_two, a)) for a in (0.01, 0.05, 0.1)},
        "cardinality": [float(v) for v in np.asarray(g.w.sparse.sum(axis=1)).ravel()],
        "esda": esda.__version__,
    },
    sys.stdout,
)
