"""Writes the evaluation fixture: a real run on ../shared/datasets/msmarco-sample and the
values pytrec_eval (trec_eval's C code) computes for it, to check `evaluate` against.

The run is a plain TF-IDF scorer written here (no slimdex code), with scores rounded to two
decimals so that many ties exercise trec_eval's tie-break (score descending, then document id
descending). Run it in the bench virtualenv:
  ~/.cache/slimdex-bench/venv/bin/pip install pytrec_eval-terrier==0.5.11
  ~/.cache/slimdex-bench/venv/bin/python scripts/eval_fixture.py ../shared/datasets/msmarco-sample
"""
import collections
import json
import math
import re
import sys
from pathlib import Path

import pytrec_eval

data = Path(sys.argv[1])
out = Path(__file__).resolve().parent.parent / "__test__" / "fixtures"
depth = 50


def tokens(text):
    return re.findall(r"\w+", text.lower())


corpus = {}
with open(data / "corpus.jsonl", encoding="utf-8") as f:
    for line in f:
        d = json.loads(line)
        corpus[d["_id"]] = tokens(d.get("title", "") + " " + d["text"])
queries = {}
with open(data / "queries.jsonl", encoding="utf-8") as f:
    for line in f:
        q = json.loads(line)
        queries[q["_id"]] = tokens(q["text"])
qrels = collections.defaultdict(dict)
with open(data / "qrels" / "test.tsv", encoding="utf-8") as f:
    for line in f:
        qid, did, rel = line.rstrip("\n").split("\t")
        if qid == "query-id":
            continue
        qrels[qid][did] = int(rel)

df = collections.Counter(t for toks in corpus.values() for t in set(toks))
n = len(corpus)
run = {}
for qid, qt in queries.items():
    if qid not in qrels:
        continue
    scores = {}
    for did, toks in corpus.items():
        tf = collections.Counter(toks)
        s = sum((1 + math.log(tf[t])) * math.log(n / df[t]) for t in set(qt) if tf[t])
        if s > 0:
            scores[did] = round(s, 2)
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:depth]
    run[qid] = dict(best)

measures = {"ndcg_cut_10", "ndcg_cut_100", "recall_10", "recall_100", "map", "map_cut_10", "recip_rank", "P_10"}
full = pytrec_eval.RelevanceEvaluator(dict(qrels), measures).evaluate(run)
# RR@10: recip_rank on the run cut to its 10 best (trec_eval order: score desc, docid desc).
def trec_order(docs):
    by_id_desc = sorted(docs.items(), key=lambda kv: kv[0], reverse=True)
    return sorted(by_id_desc, key=lambda kv: -kv[1])  # stable: ties keep id-descending order


cut = {q: dict(trec_order(docs)[:10]) for q, docs in run.items()}
rr10 = pytrec_eval.RelevanceEvaluator(dict(qrels), {"recip_rank"}).evaluate(cut)
for q in full:
    full[q]["recip_rank_cut_10"] = rr10[q]["recip_rank"]

with open(out / "msmarco-tfidf.run", "w", encoding="utf-8") as f:
    for qid, docs in run.items():
        for rank, (did, s) in enumerate(sorted(docs.items(), key=lambda kv: -kv[1]), 1):
            f.write(f"{qid} Q0 {did} {rank} {s:.2f} tfidf\n")
with open(out / "msmarco-tfidf.pytrec_eval.json", "w", encoding="utf-8") as f:
    json.dump({"pytrec_eval": "pytrec_eval-terrier 0.5.11", "depth": depth, "perQuery": full}, f, indent=1, sort_keys=True)
print(f"{len(run)} queries, {sum(len(d) for d in run.values())} run lines")
