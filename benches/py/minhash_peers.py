"""MinHash peers for benches/minhash.mjs (JSON lines on stdin/stdout): datasketch and rensa.

The JS side writes the shingles it signs (one JSON array per line) and, for the LSH runs, the
signatures (raw little-endian uint32, n x num_perm). Every timing is single-threaded
(RAYON_NUM_THREADS=1 for rensa) and excludes file reading and bytes encoding.
"""
import gc
import json
import os
import re
import resource
import sys
import time

import numpy as np
import datasketch
from datasketch import LeanMinHash, MinHash, MinHashLSH
import rensa
from rensa import RMinHash

try:
    from importlib.metadata import version
except ImportError:  # pragma: no cover
    version = None

# rensa's digest_matrix_from_token_sets keeps a second thread busy even with
# RAYON_NUM_THREADS=1: on the bench's shingles its process CPU time is 1.6-1.7x its wall time
# when it may use both cores, and CPU = wall when pinned to one. The sign reply carries both;
# SLIMDEX_PEER_ONE_CPU=1 pins this worker to one CPU (fair only on an otherwise idle core).
if os.environ.get("SLIMDEX_PEER_ONE_CPU") == "1" and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

docs = []  # list of list[str]
docs_b = []  # list of list[bytes]
texts = []  # raw texts, for the end-to-end runs (tokenisation timed)
last_cpu_seconds = 0.0  # process CPU time of the last sign (all threads), next to its wall time

# slimdex's normalisation in Python: lowercase, every run of non-alphanumeric chars separates
# words ([^\W_] = Unicode letters and digits), word n-grams joined by one space, a text with
# fewer than n words is one shingle.
WORD = re.compile(r"[^\W_]+")
ASCII_WORD = re.compile(r"[a-z0-9]+")  # the same words for an ASCII text, matched faster


def shingle(text, n=5):
    lower = text.lower()
    words = (ASCII_WORD if text.isascii() else WORD).findall(lower)
    if not words:
        return []
    if len(words) <= n:
        return [" ".join(words)]
    # zip of shifted lists: the fastest pure-Python n-gram join (no per-shingle slicing).
    return list(map(" ".join, zip(*(words[i:] for i in range(n)))))


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def sign(lib, num_perm, seed, limit, from_texts=False):
    # From a collected heap, like the JS side's passes (outside the timing).
    gc.collect()
    t = time.perf_counter()
    c = time.process_time()
    if from_texts:
        # End to end: the peer tokenises the raw texts itself (timed), as slimdex does in Rust.
        src = texts[:limit] if limit else texts
        d = [shingle(x) for x in src]
        if lib == "datasketch":
            db = [[s.encode("utf8") for s in x] for x in d]
    else:
        d = docs[:limit] if limit else docs
        if lib == "datasketch":
            # Same input as everyone (str shingles): the bytes encoding datasketch needs is timed.
            db = [[s.encode("utf8") for s in x] for x in d]
    if lib == "datasketch":
        # MinHash.bulk shares one permutation array across documents (its fastest path).
        out = MinHash.bulk(db, num_perm=num_perm, seed=seed)
        sig = lambda i: out[i].hashvalues
    elif lib == "rensa":
        out = RMinHash.digest_matrix_from_token_sets(d, num_perm, seed)
        sig = None
    elif lib == "rensa-rho":
        out = RMinHash.digest_matrix_from_token_sets_rho(d, num_perm, seed)
        sig = None
    else:
        raise ValueError(lib)
    seconds = time.perf_counter() - t
    global last_cpu_seconds
    last_cpu_seconds = time.process_time() - c
    return seconds, out, sig


for line in sys.stdin:
    msg = json.loads(line)
    try:
        cmd = msg["cmd"]
        if cmd == "load":
            with open(msg["shingles"], encoding="utf8") as f:
                docs = [json.loads(l) for l in f]
            docs_b = [[s.encode("utf8") for s in d] for d in docs]
            reply = {
                "n": len(docs),
                "versions": {"datasketch": version("datasketch"), "rensa": version("rensa"), "numpy": np.__version__},
            }
        elif cmd == "texts":
            with open(msg["texts"], encoding="utf8") as f:
                texts = [json.loads(l) for l in f]
            # How often Python's tokenisation gives exactly the shingles slimdex gives.
            same = sum(shingle(x) == d for x, d in zip(texts, docs)) if docs else 0
            reply = {"n": len(texts), "sameShingles": same}
        elif cmd == "sign":
            from_texts = msg.get("fromTexts", False)
            seconds, out, sig = sign(msg["lib"], msg["numPerm"], msg["seed"], msg.get("limit"), from_texts)
            reply = {"seconds": seconds, "cpuSeconds": last_cpu_seconds, "docs": msg.get("limit") or (len(texts) if from_texts else len(docs))}
            check = msg.get("check", 0)
            if check:
                if sig is not None:
                    reply["signatures"] = [[int(v) for v in sig(i)] for i in range(check)]
                else:
                    rows = out.to_rows()
                    reply["signatures"] = [[int(v) for v in r] for r in rows[:check]]
        elif cmd == "estimate":
            # Jaccard estimates of given document pairs with each library's own signatures.
            lib, pairs = msg["lib"], msg["pairs"]
            idx = sorted({i for p in pairs for i in p})
            if lib == "datasketch":
                ms = {i: MinHash(num_perm=msg["numPerm"], seed=msg["seed"]) for i in idx}
                for i in idx:
                    ms[i].update_batch(docs_b[i])
                est = [ms[a].jaccard(ms[b]) for a, b in pairs]
            else:
                ms = {}
                for i in idx:
                    m = RMinHash(msg["numPerm"], msg["seed"])
                    m.update(docs[i])
                    ms[i] = m
                est = [ms[a].jaccard(ms[b]) for a, b in pairs]
            reply = {"estimates": est}
        elif cmd == "lsh":
            # datasketch MinHashLSH over the JS side's signatures: build, then query every document.
            n, k = msg["n"], msg["numPerm"]
            sigs = np.fromfile(msg["sigs"], dtype=np.uint32).reshape(n, k).astype(np.uint64)
            mhs = [LeanMinHash(seed=msg["seed"], hashvalues=sigs[i]) for i in range(n)]
            rss0 = rss_mb()
            lsh = MinHashLSH(threshold=msg["threshold"], num_perm=k, params=(msg["bands"], msg["rows"]))
            t = time.perf_counter()
            with lsh.insertion_session() as s:
                for i in range(n):
                    s.insert(i, mhs[i], check_duplication=False)
            build = time.perf_counter() - t
            rss1 = rss_mb()
            t = time.perf_counter()
            counts = [len(lsh.query(m)) for m in mhs]
            query = time.perf_counter() - t
            reply = {"build": build, "query": query, "counts": counts, "rssGrowthMB": rss1 - rss0, "peakRssMB": rss_mb()}
            del lsh, mhs, sigs
        elif cmd == "dedup":
            # End to end as the LSHBloom authors' pipeline does it with datasketch: sign, then
            # stream documents in order: query, insert if new (first seen wins).
            k, threshold = msg["numPerm"], msg["threshold"]
            t = time.perf_counter()
            mhs = MinHash.bulk(docs_b, num_perm=k, seed=msg["seed"])
            lsh = MinHashLSH(threshold=threshold, num_perm=k)
            dups = 0
            for i, m in enumerate(mhs):
                if lsh.query(m):
                    dups += 1
                else:
                    lsh.insert(i, m, check_duplication=False)
            reply = {"seconds": time.perf_counter() - t, "duplicates": dups, "bands": lsh.b, "rows": lsh.r}
        else:
            raise ValueError(f"unknown cmd {cmd}")
    except Exception as e:  # report, keep serving
        reply = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
