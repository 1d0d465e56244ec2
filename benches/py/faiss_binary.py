"""faiss-cpu IndexBinaryFlat worker for benches/binary.mjs (JSON lines on stdin/stdout).

Reads the same code and query bytes the JS side wrote, searches single-threaded, and returns
timings plus the results so the bench can check both sides agree before comparing speed.
"""
import json
import sys
import time

import faiss
import numpy as np

faiss.omp_set_num_threads(1)
index = None
queries = None

for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["cmd"] == "load":
            bits = msg["bits"]
            codes = np.fromfile(msg["codes"], dtype=np.uint8).reshape(-1, bits // 8)
            queries = np.fromfile(msg["queries"], dtype=np.uint8).reshape(-1, bits // 8)
            index = faiss.IndexBinaryFlat(bits)
            index.add(codes)
            reply = {"version": faiss.__version__, "n": int(index.ntotal)}
        elif msg["cmd"] == "search":
            k = msg["k"]
            t = time.perf_counter()
            # One query at a time, as the JS side does, single thread.
            out_d, out_i = [], []
            for q in queries:
                d, i = index.search(q.reshape(1, -1), k)
                out_d.append(d[0].tolist())
                out_i.append(i[0].tolist())
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("results"):
                reply["distances"] = out_d
                reply["ids"] = out_i
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), flush=True)
