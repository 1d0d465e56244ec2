#!/usr/bin/env python3
"""Writes crates/core/src/minhash/testdata/datasketch_golden.json: signatures computed by the
real Python datasketch (default MinHash: sha1_hash32 + NumPy RandomState permutations), used by
the Rust tests of the 'datasketch' scheme. Tests only read the JSON; this script is not needed
to run them.

Usage (in a virtualenv outside the repo):
  python3 -m venv ~/.cache/slimdex-bench/venv
  ~/.cache/slimdex-bench/venv/bin/pip install 'datasketch==1.6.5' 'numpy<2.3'
  ~/.cache/slimdex-bench/venv/bin/python scripts/minhash_golden.py
"""
import json
import os
import re

import datasketch
import numpy as np
from datasketch import MinHash

TOKEN_SETS = [
    ["hello"],
    ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"],
    ["école", "straße", "σοφία", "日本語", "emoji 🙂", ""],
    [f"token-{i}" for i in range(300)],
]
TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog, again and again; the dog sleeps.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore",
    "A  B  C, d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9",
]
CONFIGS = [(1, 128), (42, 128), (7, 16), (1, 1), (4294967295, 200), (0, 64)]


def shingles(text, n=5):
    # The same normalisation as slimdex for ASCII text: lowercase, split on non-alphanumerics.
    words = re.findall(r"[a-z0-9]+", text.lower())
    if len(words) <= n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def sig(seed, k, tokens):
    m = MinHash(num_perm=k, seed=seed)
    for t in tokens:
        m.update(t.encode("utf-8"))
    return [int(v) for v in m.hashvalues]


cases = []
for seed, k in CONFIGS:
    m = MinHash(num_perm=k, seed=seed)
    a, b = m.permutations
    cases.append(
        {
            "seed": seed,
            "numPerm": k,
            "a": [int(x) for x in a[:8]],
            "b": [int(x) for x in b[:8]],
            "tokenSets": [{"tokens": ts, "signature": sig(seed, k, ts)} for ts in TOKEN_SETS],
            "texts": [{"text": t, "shingles": shingles(t), "signature": sig(seed, k, shingles(t))} for t in TEXTS],
        }
    )

out = {
    "generator": "scripts/minhash_golden.py",
    "datasketch": datasketch.__version__ if hasattr(datasketch, "__version__") else "unknown",
    "numpy": np.__version__,
    "cases": cases,
}
path = os.path.join(os.path.dirname(__file__), "..", "crates", "core", "src", "minhash", "testdata", "datasketch_golden.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")
print("wrote", os.path.normpath(path))
