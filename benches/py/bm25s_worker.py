"""bm25s worker for benches/sparse.mjs (JSON lines on stdin/stdout).

Indexes the texts the JS side wrote (one JSON string per line) with bm25s's defaults
(lucene, k1 1.5, b 0.75, English stop words), then times query tokenization plus `retrieve`,
single-threaded, exactly as slimdex's timings include its own tokenization:
- `form: "batch"`: one `bm25s.tokenize(all queries)` and one `retrieve(all, k)` call;
- `form: "query"`: `tokenize([q])` and `retrieve(.., k)` per query (what a server does).
`backend`: "numpy" (default) or "numba" (bm25s's JIT-compiled scorer, when numba is installed).
"""
import json
import resource
import sys
import time

import bm25s
import numpy as np

model = None
queries = None


def rss_mb():
    """Current resident set (ru_maxrss is a peak, useless for growth after a larger corpus)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def tokenize(texts):
    # Token strings: bm25s maps them through the index's vocabulary in `retrieve` (the same
    # settings as the corpus: bm25s's regex, lowercase, English stop words).
    return bm25s.tokenize(texts, stopwords="en", show_progress=False, return_ids=False)


for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["cmd"] == "load":
            with open(msg["corpus"], encoding="utf-8") as f:
                texts = [json.loads(l) for l in f]
            with open(msg["queries"], encoding="utf-8") as f:
                queries = json.load(f)
            before = rss_mb()
            t = time.perf_counter()
            model = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
            model.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
            seconds = time.perf_counter() - t
            del texts
            try:
                import numba

                numba_version = numba.__version__
            except ImportError:
                numba_version = None
            reply = {"version": bm25s.__version__, "numpy": np.__version__, "numba": numba_version, "indexSeconds": seconds, "rssGrowthMB": rss_mb() - before}
        elif msg["cmd"] == "search":
            k = min(msg["k"], model.scores["num_docs"])
            # The same index serves both backends: bm25s picks its retrieval path from `backend`.
            model.backend = msg.get("backend", "numpy")
            qs = queries[: msg["limit"]] if msg.get("limit") else queries
            t = time.perf_counter()
            if msg.get("form", "batch") == "batch":
                res, scores = model.retrieve(tokenize(qs), k=k, n_threads=1, show_progress=False)
            else:
                parts = [model.retrieve(tokenize([q]), k=k, n_threads=1, show_progress=False) for q in qs]
                res = np.concatenate([p[0] for p in parts])
                scores = np.concatenate([p[1] for p in parts])
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds, "queries": len(qs)}
            if msg.get("results"):
                reply["ids"] = res.tolist()
                reply["scores"] = scores.tolist()
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), flush=True)
