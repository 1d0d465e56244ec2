"""Per-token embeddings of a BEIR-style dataset with all-MiniLM-L6-v2, in plain NumPy (see minilm.py).

Real token embeddings for the multi-vector bench: each point cloud is the last hidden state of
every non-padding token (special tokens included, as ColBERT keeps them), L2-normalised per token.
MiniLM was trained for mean pooling, not late interaction, so these are real contextual token
vectors but not a ColBERT model's.

    python embed_minilm_tokens.py <dataset dir> <out dir> [max doc tokens] [max documents]
    -> <out>/{corpus,queries}.tokens.f32 (n_tokens × 384, row-major),
       <out>/{corpus,queries}.offsets.u32 (n + 1), <out>/{corpus,queries}.ids.json
"""
import json
import os
import sys

import numpy as np

from minilm import MiniLM


def token_clouds(x, mask):
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return [x[i, : int(mask[i].sum())].astype(np.float32) for i in range(len(x))]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    max_doc = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    max_docs = int(sys.argv[4]) if len(sys.argv) > 4 else None  # a prefix of the corpus (CPU time)
    os.makedirs(dst, exist_ok=True)
    for name, max_len in (("queries", 32), ("corpus", max_doc)):
        model = MiniLM(max_len)
        rows = [json.loads(l) for l in open(os.path.join(src, f"{name}.jsonl"))]
        if name == "corpus" and max_docs:
            rows = rows[:max_docs]
        texts = [((r.get("title") or "") + " " + r["text"]).strip() for r in rows]
        clouds = model.map_batches(texts, 64, token_clouds)
        offsets = np.zeros(len(clouds) + 1, np.uint32)
        offsets[1:] = np.cumsum([len(c) for c in clouds])
        np.concatenate(clouds).astype(np.float32).tofile(os.path.join(dst, f"{name}.tokens.f32"))
        offsets.tofile(os.path.join(dst, f"{name}.offsets.u32"))
        json.dump([r["_id"] for r in rows], open(os.path.join(dst, f"{name}.ids.json"), "w"))
    print(json.dumps({"ok": True, "dim": 384, "maxDocTokens": max_doc, "maxDocuments": max_docs}))


if __name__ == "__main__":
    main()
