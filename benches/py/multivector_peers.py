"""Python peers for benches/multivector.mjs (JSON lines on stdin/stdout).

- fastembed's `Muvera` postprocessor (the Python MUVERA most users meet): document / query
  FDE encoding on the same token bytes the JS side wrote, one point cloud at a time as its
  API works, single-threaded; also its FDE top-N candidates, so the bench can check that its
  encodings and ours retrieve comparably before comparing speed.
- Chamfer re-ranking baselines on the same candidates: NumPy einsum over padded documents
  (masked to -inf, so the true max as in slimdex) and, when it installs, mixedbread-ai's
  maxsim-cpu (which expects unit vectors; scores are plain dot products, so they agree).
"""
import json
import os
import sys
import time

import numpy as np

state = {}


def clouds(tokens_path, offsets_path, dim):
    tokens = np.fromfile(tokens_path, dtype=np.float32).reshape(-1, dim)
    offsets = np.fromfile(offsets_path, dtype=np.uint32).astype(np.int64)
    return [tokens[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def version(name):
    try:
        from importlib.metadata import version as v

        return v(name)
    except Exception:
        return None


def einsum_scores(q, padded, mask):
    # (n, L, d) x (m, d) -> (n, m, L); padded tokens get -inf so the max is the true max.
    sims = np.einsum("nld,md->nml", padded, q, optimize=True)
    sims = np.where(mask[:, None, :], sims, -np.inf)
    return sims.max(axis=2).sum(axis=1)


for line in sys.stdin:
    msg = json.loads(line)
    try:
        cmd = msg["cmd"]
        if cmd == "load":
            dim = msg["dim"]
            state["dim"] = dim
            state["docs"] = clouds(msg["docTokens"], msg["docOffsets"], dim)
            state["queries"] = clouds(msg["queryTokens"], msg["queryOffsets"], dim)
            reply = {"numpy": np.__version__, "fastembed": version("fastembed"), "maxsim-cpu": version("maxsim-cpu")}
        elif cmd == "muvera":
            from fastembed.postprocess import Muvera

            state["muvera"] = Muvera(dim=state["dim"], k_sim=msg["k"], dim_proj=msg["p"], r_reps=msg["r"], random_seed=msg.get("seed", 42))
            reply = {"outputDim": int(state["muvera"].embedding_size)}
        elif cmd == "encode":
            mv = state["muvera"]
            docs = state["docs"][: msg["n"]]
            t = time.perf_counter()
            out = [mv.process_document(d) for d in docs]
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds, "n": len(out), "finite": bool(all(np.isfinite(o).all() for o in out))}
        elif cmd == "fde_topn":
            # FDE candidates for every query over the first n documents (recall check).
            mv = state["muvera"]
            n = msg["n"]
            D = np.stack([mv.process_document(d) for d in state["docs"][:n]]).astype(np.float32)
            ids = []
            for q in state["queries"]:
                s = D @ mv.process_query(q).astype(np.float32)
                top = np.argsort(-s, kind="stable")[: msg["top"]]
                ids.append([int(i) for i in top])
            reply = {"ids": ids}
        elif cmd == "rerank_load":
            docs = [state["docs"][i] for i in msg["ids"]]
            lens = np.array([len(d) for d in docs])
            L = int(lens.max())
            padded = np.zeros((len(docs), L, state["dim"]), dtype=np.float32)
            for i, d in enumerate(docs):
                padded[i, : len(d)] = d
            state["rr"] = (docs, padded, np.arange(L)[None, :] < lens[:, None])
            reply = {"n": len(docs), "maxLen": L}
        elif cmd == "rerank":
            docs, padded, mask = state["rr"]
            q = state["queries"][msg["query"]]
            t = time.perf_counter()
            if msg["impl"] == "einsum":
                scores = einsum_scores(q, padded, mask)
            else:
                import maxsim_cpu

                scores = maxsim_cpu.maxsim_scores_variable(q, docs)
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("scores"):
                reply["scores"] = [float(x) for x in np.asarray(scores)]
        else:
            reply = {"error": f"unknown command {cmd}"}
    except Exception as e:  # report to the JS side instead of dying
        reply = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
