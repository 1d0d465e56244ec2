"""bm25s worker for benches/sparse.mjs (JSON lines on stdin/stdout).

Indexes the texts the JS side wrote (one JSON string per line) with bm25s's defaults
(lucene, k1 1.5, b 0.75, English stop words), then times `retrieve` over pre-tokenized queries,
single-threaded (query tokenization is excluded: that favours bm25s).
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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
            reply = {"version": bm25s.__version__, "numpy": np.__version__, "indexSeconds": seconds, "rssGrowthMB": rss_mb() - before}
        elif msg["cmd"] == "search":
            k = min(msg["k"], model.scores["num_docs"])
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
