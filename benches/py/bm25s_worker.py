"""bm25s worker for benches/sparse.mjs (JSON lines on stdin/stdout), single thread.

Indexes the same texts with bm25s's default tokenizer (English stop words), then times
one-query-at-a-time retrieval and returns the top-k ids so the bench can check agreement.
"""
import json
import sys
import time

import bm25s
import numpy as np

retriever = None
query_tokens = None

for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["cmd"] == "index":
            docs = [json.loads(l) for l in open(msg["corpus"])]
            corpus = [(d.get("title") or "") + " " + d["text"] for d in docs]
            t = time.perf_counter()
            retriever = bm25s.BM25(method=msg.get("method", "lucene"), k1=1.5, b=0.75, backend=msg.get("backend", "numpy"))
            retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
            seconds = time.perf_counter() - t
            nbytes = sum(a.nbytes for a in (retriever.scores["data"], retriever.scores["indices"], retriever.scores["indptr"]))
            reply = {"version": bm25s.__version__, "indexSeconds": seconds, "bytes": int(nbytes)}
        elif msg["cmd"] == "queries":
            queries = json.load(open(msg["path"]))
            query_tokens = bm25s.tokenize(queries, stopwords="en", show_progress=False, return_ids=False)
            reply = {"n": len(queries)}
        elif msg["cmd"] == "search":
            k = msg["k"]
            out = []
            t = time.perf_counter()
            for q in query_tokens:
                ids, _ = retriever.retrieve([q], k=k, show_progress=False, n_threads=1)
                out.append(ids[0].tolist())
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("results"):
                reply["ids"] = out
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, keep serving
        reply = {"error": repr(e)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
