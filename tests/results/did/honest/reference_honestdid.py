"""Reference HonestDiD sets from the Python ``honestdid`` package (0.1.1, a port of R HonestDiD), never a
dependency of sop_eval:

    python3 -m venv /tmp/honestcheck && /tmp/honestcheck/bin/pip install honestdid==0.1.1
    /tmp/honestcheck/bin/python tests/results/did/honest/reference_honestdid.py

Reads ``inputs.json`` (an event study of ``att_gt``: betahat, sigma, n_pre, n_post) and writes
``reference.json``: relative-magnitude sets (C-LF) and smoothness FLCIs, for the first post-period effect and the
average of the post-period effects.
"""

import json
import pathlib
import time
import warnings

import numpy as np
from honestdid import createSensitivityResults, createSensitivityResults_relativeMagnitudes

warnings.simplefilter("ignore")
here = pathlib.Path(__file__).parent
inp = json.loads((here / "inputs.json").read_text())
b, s, n_pre, n_post = np.array(inp["betahat"]), np.array(inp["sigma"]), inp["n_pre"], inp["n_post"]
MBAR = [0.0, 0.5, 1.0, 2.0]
M = [0.0, 0.02, 0.05, 0.1]
out = {"package": "honestdid 0.1.1 (PyPI)", "Mbar": MBAR, "M": M}
for name, lvec in (("first", np.eye(n_post)[0]), ("average", np.full(n_post, 1 / n_post))):
    t = time.perf_counter()
    try:
        rm = createSensitivityResults_relativeMagnitudes(b, s, n_pre, n_post, Mbarvec=MBAR, l_vec=lvec)
        out[f"rm_{name}"] = {"lb": rm["lb"].tolist(), "ub": rm["ub"].tolist(), "seconds": time.perf_counter() - t}
    except TypeError as err:  # honestdid 0.1.1 fails in its primal branch for some l_vec
        out[f"rm_{name}"] = {"error": f"honestdid raised TypeError: {err}"}
    t = time.perf_counter()
    sd = createSensitivityResults(b, s, n_pre, n_post, Mvec=M, l_vec=lvec)
    out[f"sd_{name}"] = {"lb": sd["lb"].tolist(), "ub": sd["ub"].tolist(), "seconds": time.perf_counter() - t}
    print(name, out[f"rm_{name}"], out[f"sd_{name}"], flush=True)
(here / "reference.json").write_text(json.dumps(out, indent=1) + "\n")
