"""Records pytrec_eval's values for real runs, as the reference `evaluate` is tested against.

Runs a plain BM25 (k1 0.9, b 0.4, lowercase \\w+ tokens, title + " " + text) over the BEIR
samples in ../shared/datasets, writes each run as a TREC run file with scores rounded to
two decimals (so many scores tie and trec_eval's tie order — score descending, then docid
descending — matters), reads the files back, and evaluates them with pytrec_eval.

Writes __test__/fixtures/eval/<name>.run (TREC run) and __test__/fixtures/eval/expected.json.
Run it with the benchmark virtualenv (benches/lib/python.mjs, ~/.cache/slimdex-bench/venv):

    ~/.cache/slimdex-bench/venv/bin/python -m pip install pytrec_eval-terrier==0.5.11
    ~/.cache/slimdex-bench/venv/bin/python scripts/eval_fixture.py [datasets dir]

The qrels are not copied into the repo; the test reads them from the datasets directory.
"""

import json
import math
import os
import re
import sys
from collections import Counter, defaultdict
from importlib.metadata import version

import pytrec_eval

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATASETS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "datasets")
OUT = os.path.join(ROOT, "__test__", "fixtures", "eval")

# (dataset, queries used (None = all), depth of the run)
RUNS = [("msmarco-sample", None, 100), ("arcd-sample", 120, 20)]
CUTOFFS = [1, 3, 5, 10, 20, 100]

TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text):
    return TOKEN.findall(text.lower())


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path):
    qrels = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if cols[0] == "query-id":
                continue
            qrels[cols[0]][cols[1]] = int(cols[2])
    return dict(qrels)


def bm25_run(corpus, queries, depth, k1=0.9, b=0.4):
    docs = [(d["_id"], tokens((d.get("title") or "") + " " + d["text"])) for d in corpus]
    avgdl = sum(len(t) for _, t in docs) / len(docs)
    postings = defaultdict(list)
    for i, (_, toks) in enumerate(docs):
        for term, tf in Counter(toks).items():
            postings[term].append((i, tf))
    n = len(docs)
    run = {}
    for q in queries:
        scores = defaultdict(float)
        for term in set(tokens(q["text"])):
            plist = postings.get(term)
            if not plist:
                continue
            idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
            for i, tf in plist:
                dl = len(docs[i][1])
                scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
        top = sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:depth]
        run[q["_id"]] = [(docs[i][0], round(s, 2)) for i, s in top]
    return run


def write_trec(path, run):
    with open(path, "w", encoding="utf-8") as f:
        for qid, hits in run.items():
            for rank, (docid, score) in enumerate(hits, 1):
                f.write(f"{qid} Q0 {docid} {rank} {score:.2f} bm25\n")


def read_trec(path):
    run = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            qid, _, docid, _, score, _ = line.split()
            run[qid][docid] = float(score)
    return dict(run)


def truncate(run, k):
    """The top k of each query in trec_eval's order (score descending, then docid descending)."""
    out = {}
    for qid, docs in run.items():
        ranked = sorted(docs.items(), key=lambda x: (x[1], x[0]), reverse=True)
        out[qid] = dict(ranked[:k])
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    cut = ",".join(str(c) for c in CUTOFFS)
    measures = {f"ndcg_cut.{cut}", f"recall.{cut}", f"P.{cut}", f"map_cut.{cut}", "map", "ndcg", "recip_rank"}
    expected = {"pytrec_eval": version("pytrec_eval-terrier"), "runs": {}}
    for name, nq, depth in RUNS:
        d = os.path.join(DATASETS, name)
        qrels = read_qrels(os.path.join(d, "qrels", "test.tsv"))
        queries = [q for q in read_jsonl(os.path.join(d, "queries.jsonl")) if q["_id"] in qrels]
        if nq is not None:
            queries = queries[:nq]
        run_path = os.path.join(OUT, f"{name}.run")
        write_trec(run_path, bm25_run(read_jsonl(os.path.join(d, "corpus.jsonl")), queries, depth))
        run = read_trec(run_path)
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures)
        per_query = evaluator.evaluate(run)
        # MRR@k: recip_rank on the run cut to its top k (pytrec_eval has no recip_rank cutoff).
        for k in CUTOFFS:
            rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(truncate(run, k))
            for qid, values in rr.items():
                per_query[qid][f"mrr@{k}"] = values["recip_rank"]
        rename = {"recip_rank": "mrr", "map": "map", "ndcg": "ndcg"}
        for k in CUTOFFS:
            rename[f"ndcg_cut_{k}"] = f"ndcg@{k}"
            rename[f"recall_{k}"] = f"recall@{k}"
            rename[f"P_{k}"] = f"p@{k}"
            rename[f"map_cut_{k}"] = f"map@{k}"
            rename[f"mrr@{k}"] = f"mrr@{k}"
        per_query = {q: {rename[m]: v for m, v in vals.items()} for q, vals in per_query.items()}
        metrics = sorted(next(iter(per_query.values())).keys())
        mean = {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in metrics}
        expected["runs"][name] = {"run": f"{name}.run", "queries": len(per_query), "mean": mean, "perQuery": per_query}
        print(f"{name}: {len(per_query)} queries, ndcg@10 {mean['ndcg@10']:.4f}, recall@100 {mean['recall@100']:.4f}")
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
