"""Embeds a BEIR-style dataset with all-MiniLM-L6-v2 in plain NumPy (no torch; see minilm.py).

Mean pooling over the attention mask and L2 normalisation, as the sentence-transformers model
card specifies, over at most 256 tokens (the model's max_seq_length). Output (float32,
row-major) goes to a cache directory outside the repo:

    python embed_minilm.py <dataset dir> <out dir>
    -> <out>/corpus.f32, <out>/corpus.ids.json, <out>/queries.f32, <out>/queries.ids.json
"""
import json
import os
import sys

import numpy as np

from minilm import MiniLM

MAX_LEN = 256  # the model's max_seq_length


def mean_pooled(x, mask):
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    model = MiniLM(MAX_LEN)
    for name in ("corpus", "queries"):
        rows = [json.loads(l) for l in open(os.path.join(src, f"{name}.jsonl"))]
        texts = [((r.get("title") or "") + " " + r["text"]).strip() if name == "corpus" else r["text"] for r in rows]
        emb = np.stack(model.map_batches(texts, 32, mean_pooled))
        emb.tofile(os.path.join(dst, f"{name}.f32"))
        json.dump([r["_id"] for r in rows], open(os.path.join(dst, f"{name}.ids.json"), "w"))
    print(json.dumps({"ok": True, "dim": 384}))


if __name__ == "__main__":
    main()
