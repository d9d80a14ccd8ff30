"""Hyper-parameter tuning with Optuna on a validation split carved from the training data.

The test split is never passed in: :func:`tune` receives only the training side
and cuts its own validation split from it (see
:func:`~xsell.data.splits.validation_split`), so a tuned model's test
score stays an honest estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from xsell.data.shopdata import ShopData
from xsell.data.splits import validation_split
from xsell.errors import ValidationError, require
from xsell.evaluation.leaderboard import check_rank_metric
from xsell.evaluation.protocols import make_queries
from xsell.evaluation.runner import evaluate_model
from xsell.models import check_mode, make_model, model_parameters
from xsell.progress import progress_bar

#: A parameter's search range: ``(low, high)`` ints or floats, ``(low, high, "log")``,
#: or a list of choices.
Range = tuple[Any, ...] | list[Any]

#: Default search spaces per model: every name is a hyper-parameter of that model (a test
#: checks it), and every parameter listed moves the answers.
SPACES: Final[dict[str, dict[str, Range]]] = {
    "popularity": {"half_life_days": (7.0, 720.0, "log")},
    "cooccurrence": {
        "measure": ["count", "confidence", "lift", "jaccard", "cosine", "inclusion"],
        "min_count": (1, 10),
        "neighbours": (10, 1000, "log"),
        "half_life_days": (14.0, 1000.0, "log"),
        "aggregate": ["sum", "max"],
    },
    "itemknn": {
        "weighting": ["none", "tfidf", "bm25"],
        "neighbours": (10, 1000, "log"),
        "k1": (0.1, 200.0, "log"),
        "b": (0.0, 1.0),
        "source": ["baskets", "customers"],
    },
    "userknn": {"neighbours": (5, 500, "log"), "idf": [True, False]},
    "neighbours": {
        "neighbours": (20, 1000, "log"),
        "group_size": (1, 10),
        "within_decay": (0.5, 1.0),
        "group_decay": (0.3, 1.0),
        "alpha": (0.0, 1.0),
        "half_life_days": (14.0, 720.0, "log"),
    },
    "personal": {"half_life_days": (7.0, 720.0, "log")},
    "als": {
        "factors": (16, 256, "log"),
        "regularization": (1e-4, 1.0, "log"),
        "iterations": (5, 30),
        "alpha": (1.0, 60.0, "log"),
    },
    "bpr": {
        "factors": (16, 256, "log"),
        "learning_rate": (1e-3, 0.1, "log"),
        "regularization": (1e-4, 0.1, "log"),
        "iterations": (20, 200, "log"),
    },
    "rules": {"min_support": (1e-4, 1e-2, "log"), "min_confidence": (0.01, 0.5, "log")},
    "content": {
        "text_weight": (0.0, 1.0),
        "category_weight": (0.0, 1.0),
        "brand_weight": (0.0, 1.0),
        "price_weight": (0.0, 1.0),
        "history_weight": (0.0, 1.0),
    },
}


@dataclass
class TuneResult:
    """Best parameters found, their validation score and every trial."""

    model: str
    metric: str
    best_params: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_space(specs: Sequence[str]) -> dict[str, Range]:
    """Search ranges from ``name=low:high[:log]`` or ``name=a,b,c`` (choices) strings."""
    space: dict[str, Range] = {}
    for spec in specs:
        name, sep, body = spec.partition("=")
        if not sep or not name or not body:
            raise ValidationError(
                f"search range {spec!r}: expected name=low:high, name=low:high:log or name=a,b,c"
            )
        if ":" in body:
            parts = body.split(":")
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
                raise ValidationError(f"search range {spec!r}: expected name=low:high[:log]")
            low, high = (_number(p, spec) for p in parts[:2])
            space[name.strip()] = (low, high, "log") if len(parts) == 3 else (low, high)
        else:
            space[name.strip()] = [parse_literal(v) for v in body.split(",")]
    return space


def _number(text: str, spec: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError as exc:
            raise ValidationError(f"search range {spec!r}: {text!r} is not a number") from exc


def parse_literal(text: str) -> Any:
    """A parameter value from text: int, float, true/false/none, else the string."""
    text = text.strip()
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def search_space(model: str, space: Mapping[str, Range] | None = None) -> dict[str, Range]:
    """Ranges to search for ``model``: ``space`` if given, else its default; checked against it."""
    known = set(model_parameters(model))
    chosen = dict(space) if space else dict(SPACES.get(model, {}))
    if not chosen:
        raise ValidationError(
            f"no default search space for model {model!r}; give ranges such as "
            f"--space name=low:high for its parameters {sorted(known)}"
        )
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise ValidationError(
            f"model {model!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are {sorted(known)}"
        )
    return chosen


def _suggest(trial: Any, name: str, spec: Range) -> Any:
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    low, high, *rest = spec
    log = bool(rest) and rest[0] == "log"
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, float(low), float(high), log=log)


def tune(
    model: str,
    train: ShopData,
    split: str,
    *,
    protocol: str = "basket-completion",
    n_trials: int = 20,
    metric: str = "recall@10",
    space: Mapping[str, Range] | None = None,
    params: Mapping[str, Any] | None = None,
    max_queries: int | None = 2_000,
    seed: int = 0,
    quiet: bool = True,
    mode: str = "mixed",
) -> TuneResult:
    """Search ``model``'s hyper-parameters with Optuna's seeded TPE sampler.

    Parameters
    ----------
    model:
        Registry name of the model.
    train:
        The training side of the evaluation split, never the test side.
    split:
        The kind of the evaluation split (a date, ``last-basket`` or ``random``);
        the validation split is carved from ``train`` the same way.
    protocol, max_queries:
        How validation queries are made, as in :func:`~xsell.evaluation.runner.evaluate`.
    metric:
        What to maximise, e.g. ``recall@10`` or ``ndcg@20``.
    space:
        Ranges per parameter (see :func:`parse_space`); the model's default otherwise.
    params:
        Fixed parameters for every trial.
    seed:
        Seeds the sampler and the validation queries: the same call gives the same trials.
    mode:
        Rank the validation lists in this mode (``explore`` tunes for the
        cross-sell: lists of items the customer never bought).
    """
    optuna: Any = require("optuna", "models")
    check_mode(mode)
    if n_trials < 1:
        raise ValidationError(f"n_trials must be at least 1, got {n_trials}")
    _, _, k_text = metric.partition("@")
    if not k_text.isdigit():
        raise ValidationError(f"metric must look like recall@10, got {metric!r}")
    k = int(k_text)
    check_rank_metric(metric, [k])
    ranges = search_space(model, space)
    fixed = dict(params or {})
    make_model(model, **fixed)  # fail on bad fixed parameters before any trial
    carved = validation_split(train, split, seed=seed)
    queries = make_queries(protocol, carved, max_queries=max_queries, seed=seed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    with progress_bar(f"tuning {model}", total=n_trials, quiet=quiet) as bar:

        def objective(trial: Any) -> float:
            chosen = {name: _suggest(trial, name, spec) for name, spec in ranges.items()}
            candidate = make_model(model, **fixed, **chosen)
            run = evaluate_model(candidate, carved, queries, ks=[k], mode=mode)
            bar.step(f"{model}: trial {trial.number + 1}/{n_trials}")
            return float(run.metrics[metric])

        study.optimize(objective, n_trials=n_trials)
    trials = [
        {"number": t.number, "params": t.params, "value": t.value, "state": t.state.name}
        for t in study.trials
    ]
    return TuneResult(
        model=model,
        metric=metric,
        best_params={**fixed, **study.best_params},
        best_value=float(study.best_value),
        trials=trials,
        validation={
            "split": split,
            "protocol": protocol,
            "fit_baskets": carved.train.n_baskets,
            "validation_baskets": carved.test.n_baskets,
            "queries": len(queries),
            "mode": mode,
        },
    )
