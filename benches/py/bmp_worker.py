"""BMP reference worker for benches/sparse.mjs (JSON lines on stdin/stdout).

The reference is pisa-engine/BMP through its PyPI bindings (`bmp`). It indexes only from CIFF
(`ciff2bmp`), so the bench exports slimdex's index with `SparseIndex.toCiff` and both engines
search the same impacts in the same docid order.

Timing: `Searcher.search` per query, summed with `time.perf_counter` (this includes the
bindings' dict conversion and result lists; the bench measures slimdex the same way, through
its Node binding). `Searcher.search` rescales query weights so the largest is 32 and rounds up;
the bench's queries are integers with maximum 32, so that rescaling is the identity.
"""
import json
import os
import resource
import sys
import time
from importlib.metadata import version

import bmp

searcher = None
queries = None
# The extension prints progress on stdout: replies go to a copy of the original stdout, and
# fd 1 now points at stderr, so nothing else lands on the JSON channel.
replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)


def rss_mb():
    """Current resident set (ru_maxrss is a peak, useless for growth after a larger corpus)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["cmd"] == "build":
            t = time.perf_counter()
            built = False
            if not os.path.exists(msg["index"]):
                tmp = msg["index"] + ".tmp"
                bmp.ciff2bmp(ciff_file=msg["ciff"], output=tmp, bsize=msg["bsize"], compress_range=False)
                os.replace(tmp, msg["index"])
                built = True
            reply = {"seconds": time.perf_counter() - t, "built": built, "bytes": os.path.getsize(msg["index"]), "version": version("bmp")}
        elif msg["cmd"] == "load":
            before = rss_mb()
            t = time.perf_counter()
            searcher = bmp.Searcher(msg["index"])
            seconds = time.perf_counter() - t
            with open(msg["queries"], encoding="utf-8") as f:
                raw = json.load(f)
            queries = [{str(t): float(w) for t, w in zip(ts, ws)} for ts, ws in raw]
            reply = {"seconds": seconds, "rssGrowthMB": rss_mb() - before, "version": version("bmp")}
        elif msg["cmd"] == "search":
            k, alpha, beta = msg["k"], msg.get("alpha", 1.0), msg.get("beta", 1.0)
            limit = msg.get("limit") or len(queries)
            total = 0.0
            ids, scores = [], []
            for q in queries[:limit]:
                t = time.perf_counter()
                docnos, sc = searcher.search(q, k, alpha, beta)
                total += time.perf_counter() - t
                if msg.get("results"):
                    ids.append([int(d) for d in docnos])
                    scores.append(sc)
            reply = {"seconds": total, "queries": limit}
            if msg.get("results"):
                reply["ids"] = ids
                reply["scores"] = scores
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), file=replies, flush=True)
