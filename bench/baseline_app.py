"""The naive baseline the benchmark compares against, written the way the seed API was: a
FastAPI wrapper around `transformers.pipeline` on torch, the model read from a folder at
start, one pipeline call per request, no batching, the markers passed through as text.

    MODEL_DIR=... uvicorn bench.baseline_app:app --port 8000
"""

import os
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

classifier = pipeline("text-classification", model=os.environ["MODEL_DIR"], top_k=None)
app = FastAPI()


class Request(BaseModel):
    sentence: str


@app.post("/predict")
def predict(request: Request) -> dict:
    scores: Any = classifier(request.sentence)[0]  # a list of {label, score} with top_k=None
    best = max(scores, key=lambda entry: entry["score"])
    return {
        "label": best["label"],
        "score": best["score"],
        "scores": {e["label"]: e["score"] for e in scores},
    }
