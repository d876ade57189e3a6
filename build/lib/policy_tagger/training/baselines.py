"""Two reference systems scored beside the model: keyword rules and character n-gram TF-IDF + logistic regression."""
from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from policy_tagger.service.labelset import Label


def keyword_predict(texts: list[str], labels: list[Label]) -> np.ndarray:
    """A label fires when any of its indicative terms (labels/labels.json) occurs in the text."""
    return np.array([[any(term in text for term in label.terms) for label in labels] for text in texts], dtype=int)


def tfidf_predict(train_texts: list[str], train_gold: np.ndarray, texts: list[str]) -> np.ndarray:
    """Character 1–3-gram TF-IDF with one balanced logistic regression per label, trained on the training split."""
    classifier = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True),
        OneVsRestClassifier(LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)),
    )
    classifier.fit(train_texts, train_gold)
    return classifier.predict(texts).astype(int)
