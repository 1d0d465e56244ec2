"""pytrec_eval worker for benches/eval.mjs (JSON lines on stdin/stdout).

Reads the same qrels and TREC run files as the JS side, evaluates them `repeat` times (building
the evaluator each time, as slimdex's evaluate takes qrels per call), and returns the seconds and
the per-query values so the bench can check both sides agree before comparing speed.
"""
import json
import sys
import time
from collections import defaultdict
from importlib.metadata import version

import pytrec_eval

qrels = None
run = None

for line in sys.stdin:
    msg = json.loads(line)
    try:
        if msg["cmd"] == "load":
            qrels = defaultdict(dict)
            with open(msg["qrels"], encoding="utf-8") as f:
                for row in f:
                    cols = row.split()
                    if len(cols) != 3 or not cols[2].lstrip("-").isdigit():
                        continue
                    qrels[cols[0]][cols[1]] = int(cols[2])
            qrels = dict(qrels)
            run = defaultdict(dict)
            with open(msg["run"], encoding="utf-8") as f:
                for row in f:
                    qid, _, docid, _, score, _ = row.split()
                    run[qid][docid] = float(score)
            run = dict(run)
            reply = {"version": version("pytrec_eval-terrier"), "queries": len(run)}
        elif msg["cmd"] == "evaluate":
            measures = set(msg["measures"])
            t = time.perf_counter()
            for _ in range(msg["repeat"]):
                values = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
            seconds = time.perf_counter() - t
            reply = {"seconds": seconds}
            if msg.get("results"):
                reply["perQuery"] = values
        else:
            reply = {"error": f"unknown command {msg['cmd']}"}
    except Exception as e:  # report, do not die: the bench prints it
        reply = {"error": repr(e)}
    print(json.dumps(reply), flush=True)
