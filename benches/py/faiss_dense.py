"""faiss-cpu worker for benches/dense.mjs (JSON lines on stdin/stdout).

Reads the float32 vectors the JS side wrote, builds IndexPQ / IndexPQFastScan / IndexIVFPQ /
IndexScalarQuantizer with the same parameters, single-threaded, and returns timings, memory
and (on request) results so the bench can compare recall before speed.
"""
import json
import sys
import time

import faiss
import numpy as np

faiss.omp_set_num_threads(1)
data = queries = train = None
index = None
keep = []  # coarse quantizers must outlive their IVF index

for line in sys.stdin:
    msg = json.loads(line)
    try:
        cmd = msg["cmd"]
        if cmd == "load":
            dim = msg["dim"]
            data = np.fromfile(msg["data"], dtype=np.float32).reshape(-1, dim)
            queries = np.fromfile(msg["queries"], dtype=np.float32).reshape(-1, dim)
            train = data[: msg["ntrain"]]
            reply = {"version": faiss.__version__, "n": int(data.shape[0])}
        elif cmd == "build":
            dim = data.shape[1]
            kind = msg["kind"]
            if kind == "pq":
                index = faiss.IndexPQ(dim, msg["m"], 8)
            elif kind == "pqfs":
                index = faiss.IndexPQFastScan(dim, msg["m"], 4)
            elif kind == "ivfpq":
                quantizer = faiss.IndexFlatL2(dim)
                index = faiss.IndexIVFPQ(quantizer, dim, msg["lists"], msg["m"], msg.get("nbits", 8))
                keep.append(quantizer)
            elif kind == "ivfpqfs":
                quantizer = faiss.IndexFlatL2(dim)
                index = faiss.IndexIVFPQFastScan(quantizer, dim, msg["lists"], msg["m"], 4)
                keep.append(quantizer)
            elif kind == "sq":
                qt = {"fp16": faiss.ScalarQuantizer.QT_fp16, "8bit": faiss.ScalarQuantizer.QT_8bit}[msg["qtype"]]
                index = faiss.IndexScalarQuantizer(dim, qt, faiss.METRIC_L2)
            elif kind == "flat":
                index = faiss.IndexFlatL2(dim)
            else:
                raise ValueError(f"unknown kind {kind}")
            t = time.perf_counter()
            if not index.is_trained:
                index.train(train)
            t_train = time.perf_counter() - t
            if not msg.get("add", True):
                # A timed training round only: the bench alternates trainings and keeps the last.
                print(json.dumps({"train": t_train}), flush=True)
                continue
            t = time.perf_counter()
            index.add(data)
            t_add = time.perf_counter() - t
            code = index.sa_code_size() if hasattr(index, "sa_code_size") else 0
            # Inverted lists also store an int64 id per vector.
            per_vector = code + (8 if kind.startswith("ivf") else 0)
            reply = {"train": t_train, "add": t_add, "bytesPerVector": per_vector}
        elif cmd == "search":
            k = msg["k"]
            if "nprobe" in msg and hasattr(index, "nprobe"):
                index.nprobe = msg["nprobe"]
            t = time.perf_counter()
            out_i = []
            for q in queries:
                _, i = index.search(q.reshape(1, -1), k)
                out_i.append(i[0].tolist())
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("results"):
                reply["ids"] = out_i
        else:
            reply = {"error": f"unknown command {cmd}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), flush=True)
