"""bm25s worker for benches/sparse.mjs (JSON lines on stdin/stdout).

Indexes the texts the JS side wrote (one JSON string per line) with bm25s's defaults
(lucene, k1 1.5, b 0.75, English stop words), then times `retrieve` over pre-tokenized queries,
single-threaded (query tokenization is excluded: that favours bm25s). `search` takes
`backend`: "numpy" (default) or "numba" (bm25s's JIT-compiled scorer, when numba is installed).
"""
import json
import resource
import sys
import time

import bm25s
import numpy as np

model = None
query_tokens = None


def rss_mb():
    """Current resident set (ru_maxrss is a peak, useless for growth after a larger corpus)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


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
            query_tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False, return_ids=False)
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
            t = time.perf_counter()
            res, scores = model.retrieve(query_tokens, k=k, n_threads=1, show_progress=False)
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("results"):
                reply["ids"] = res.tolist()
                reply["scores"] = scores.tolist()
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), flush=True)
