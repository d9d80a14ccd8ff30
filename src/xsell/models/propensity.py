"""Will this customer buy the target soon? Logistic regression, random forest, gradient boosting.

Each :class:`Propensity` wraps one classifier over the features of
:mod:`xsell.models.propensity_features`: ``logreg`` (scikit-learn, on signed
log-scaled and standardized features), ``forest`` (scikit-learn's random forest)
or ``gbdt`` (LightGBM). Probabilities come from ``predict``; ``explain`` gives each
customer's score as a base plus feature contributions in log-odds (coefficient x
standardized value for the regression, TreeSHAP through LightGBM's ``pred_contrib``
for the boosted trees; the forest has no additive account and answers ``None``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from xsell.errors import ValidationError, require
from xsell.models.contributions import Explanation, explain_rows, tree_contributions

#: Model name -> what it is.
MODELS: Final = {
    "logreg": "logistic regression (scikit-learn) on log-scaled, standardized features",
    "forest": "random forest (scikit-learn), 300 trees",
    "gbdt": "gradient-boosted trees (LightGBM), 300 trees of up to 15 leaves",
}


def parse_models(spec: str) -> list[str]:
    """``"logreg,forest"`` -> the model names, each checked against :data:`MODELS`."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ValidationError(
            f"--models: unknown model {', '.join(unknown) or repr(spec)}; "
            f"choose from {', '.join(MODELS)}"
        )
    return list(dict.fromkeys(names))


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass
class Propensity:
    """One propensity classifier (``name`` in :data:`MODELS`) with a fixed seed."""

    name: str
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    model_: Any = field(default=None, init=False, repr=False)
    mean_: np.ndarray | None = field(default=None, init=False, repr=False)
    scale_: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.name not in MODELS:
            raise ValidationError(
                f"unknown propensity model {self.name!r}; choose from {', '.join(MODELS)}"
            )

    def fit(self, features: np.ndarray, label: np.ndarray) -> Propensity:
        """Learn ``label`` (0/1 per customer) from ``features`` (customers x features)."""
        label = np.asarray(label, dtype=np.int64)
        if len(np.unique(label)) < 2:
            who = "buyers" if label.any() else "non-buyers"
            raise ValidationError(
                f"{self.name}: the training customers are all {who} of the target; "
                "choose an earlier --as-of, a longer --horizon or a larger target"
            )
        require("sklearn", "models")
        x = np.asarray(features, dtype=np.float64)
        if self.name == "logreg":
            from sklearn.linear_model import LogisticRegression

            z = _signed_log(x)
            self.mean_ = z.mean(axis=0)
            scale = z.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
            self.model_ = LogisticRegression(
                C=self.params.get("C", 1.0), max_iter=2000, random_state=self.seed
            ).fit(self._standard(x), label)
        elif self.name == "forest":
            from sklearn.ensemble import RandomForestClassifier

            self.model_ = RandomForestClassifier(
                n_estimators=self.params.get("n_estimators", 300),
                min_samples_leaf=self.params.get("min_samples_leaf", 5),
                max_features="sqrt",
                n_jobs=1,
                random_state=self.seed,
            ).fit(x, label)
        else:
            lightgbm: Any = require("lightgbm", "models")
            self.model_ = lightgbm.LGBMClassifier(
                n_estimators=self.params.get("n_estimators", 300),
                learning_rate=self.params.get("learning_rate", 0.03),
                num_leaves=self.params.get("num_leaves", 15),
                min_child_samples=self.params.get("min_child_samples", 20),
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=self.seed,
                n_jobs=1,
                verbose=-1,
            ).fit(x, label)
        return self

    def _standard(self, x: np.ndarray) -> np.ndarray:
        assert self.mean_ is not None and self.scale_ is not None
        return (_signed_log(x) - self.mean_) / self.scale_

    def _fitted(self) -> Any:
        if self.model_ is None:
            raise ValidationError(f"{self.name}: fit the propensity model first")
        return self.model_

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probability that each customer buys the target."""
        model = self._fitted()
        x = np.asarray(features, dtype=np.float64)
        rows = self._standard(x) if self.name == "logreg" else x
        return np.asarray(model.predict_proba(rows)[:, 1], dtype=np.float64)

    def raw(self, features: np.ndarray) -> np.ndarray:
        """The log-odds the contributions add up to (``logreg`` and ``gbdt``)."""
        model = self._fitted()
        x = np.asarray(features, dtype=np.float64)
        if self.name == "logreg":
            return np.asarray(model.decision_function(self._standard(x)), dtype=np.float64)
        return np.asarray(model.booster_.predict(x, raw_score=True), dtype=np.float64)

    @property
    def explains(self) -> bool:
        """Whether :meth:`explain` has an additive account of this model's scores."""
        return self.name in ("logreg", "gbdt")

    def contributions(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature log-odds contributions and the base of each row (see the module)."""
        model = self._fitted()
        x = np.asarray(features, dtype=np.float64)
        if self.name == "logreg":
            values = self._standard(x) * model.coef_[0]
            return values, np.full(len(x), float(model.intercept_[0]))
        if self.name == "gbdt":
            return tree_contributions(model.booster_, x)
        raise ValidationError(f"{self.name}: a random forest has no additive contributions")

    def explain(
        self, features: np.ndarray, names: list[str], words: Any = None, top: int = 3
    ) -> list[Explanation] | None:
        """The explanation of each row (``None`` for the forest); ``words(row, name)`` words one."""
        if not self.explains:
            return None
        values, base = self.contributions(features)
        return explain_rows(values, base, names, words or (lambda row, name: name), top=top)
