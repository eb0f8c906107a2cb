"""A classical baseline from loglizer: event-count vectors with a decision tree or logistic regression.

Templates unseen in training (as after an upgrade) fall into one shared "unseen" column, which
is what such a model can know of them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from collaborlog.errors import MissingDependencyError

BaselineKind = Literal["decision_tree", "logistic_regression"]


class EventCountBaseline:
    def __init__(self, kind: BaselineKind = "decision_tree", seed: int = 0) -> None:
        self.kind = kind
        self.seed = seed

    def _matrix(self, templates: list[np.ndarray]) -> np.ndarray:
        x = np.zeros((len(templates), len(self.vocabulary_) + 1), dtype=np.float32)
        for i, seq in enumerate(templates):
            for t in seq.tolist():
                x[i, self.vocabulary_.get(t, len(self.vocabulary_))] += 1
        return x

    def fit(self, templates: list[np.ndarray], y: np.ndarray) -> "EventCountBaseline":
        try:
            from sklearn.linear_model import LogisticRegression
            from sklearn.tree import DecisionTreeClassifier
        except ImportError:
            raise MissingDependencyError("scikit-learn", "The event-count baseline") from None
        keep = y >= 0
        self.vocabulary_ = {t: i for i, t in enumerate(sorted({int(t) for s in templates for t in s.tolist()}))}
        x = self._matrix([t for t, k in zip(templates, keep) if k])
        if self.kind == "decision_tree":
            self.model_ = DecisionTreeClassifier(class_weight="balanced", random_state=self.seed)
        else:
            # Log counts keep long sessions from dominating the linear model.
            x = np.log1p(x)
            self.model_ = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=self.seed)
        self.model_.fit(x, y[keep])
        return self

    def predict(self, templates: list[np.ndarray]) -> np.ndarray:
        x = self._matrix(templates)
        if self.kind == "logistic_regression":
            x = np.log1p(x)
        return self.model_.predict(x).astype(np.int8)
