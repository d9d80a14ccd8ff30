"""Model bundles, format 2: data only, so loading one never runs code.

A bundle is a folder:

``model.json``
    format, xsell version, model name, hyper-parameters, data fingerprint,
    sizes, ISO timestamps, metrics, and a description of every piece of learned
    state (which file or array holds it).
``items.parquet`` / ``customers.parquet``
    the item table (ids, names, categories, prices, stock, popularity) and the
    customer ids.
``arrays.npz``
    every numeric array and sparse matrix, read with ``allow_pickle=False``.
``*.parquet``, ``*.txt``, ``components/N/``
    tables, library models in their own text formats (LightGBM), and the
    component models of an ensemble, each a bundle of its own.

No pickle is written or read: a ``model.pkl`` in the folder is never opened, and
a format-1 bundle (which was a pickle) is refused with a message to retrain.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from xsell import __version__
from xsell.data.idmap import IdMap
from xsell.errors import InputFileError, ValidationError, require
from xsell.files import atomic_folder
from xsell.models.items import ItemTable
from xsell.models.slots import SlotSplit

if TYPE_CHECKING:
    from xsell.models.base import Recommender

BUNDLE_FORMAT: Final = 2
MODEL_FILE: Final = "model.json"
ITEMS_FILE: Final = "items.parquet"
CUSTOMERS_FILE: Final = "customers.parquet"
ARRAYS_FILE: Final = "arrays.npz"
_SCALARS = (bool, int, float, str, type(None))


def write_bundle(model: Recommender, path: Path, metrics: dict[str, Any]) -> Path:
    """Write ``model`` as a bundle at ``path`` (built aside, then renamed into place)."""
    model.require_fitted()
    with atomic_folder(path) as folder:
        _write_into(model, folder, metrics)
    return path


def read_bundle_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a bundle (without loading the model)."""
    path = Path(path)
    meta_file = path / MODEL_FILE
    try:
        present = meta_file.is_file()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open the bundle ({exc.strerror})") from exc
    if not present:
        raise InputFileError(
            f"{path}: not an xsell model bundle (no {MODEL_FILE}); create one with `xsell train`"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"{meta_file}: cannot read the bundle description: {exc}") from exc
    if not isinstance(meta, dict):
        raise InputFileError(f"{meta_file}: not a bundle description (a JSON object)")
    version = meta.get("format")
    if version == 1:
        raise InputFileError(
            f"{path}: bundle format 1 stores the model as a pickle, which this xsell never "
            f"loads (a pickle can run code); retrain it with `xsell train {meta.get('model')}`"
        )
    if version != BUNDLE_FORMAT:
        raise InputFileError(
            f"{path}: bundle format {version!r}, this xsell reads format {BUNDLE_FORMAT}"
        )
    return meta


def read_bundle(path: Path) -> Recommender:
    """The model stored in the bundle at ``path``; every file is read as data."""
    meta = read_bundle_meta(path)
    return _read_from(path, meta)


#: What reading a damaged file of a bundle raises (each is reported naming the file).
_DAMAGED = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
    zipfile.BadZipFile,
    pa.ArrowException,
)


@contextmanager
def _reading(file: Path) -> Iterator[None]:
    """Report any failure inside as an :class:`InputFileError` that names ``file``."""
    try:
        yield
    except InputFileError:
        raise
    except _DAMAGED as exc:
        raise InputFileError(f"{file}: damaged or incomplete bundle file ({exc})") from exc


# ---------------------------------------------------------------- writing


def _write_into(model: Recommender, folder: Path, metrics: dict[str, Any]) -> None:
    table = model.require_fitted()
    arrays: dict[str, np.ndarray] = {}
    pq.write_table(table.to_arrow(), folder / ITEMS_FILE)
    users = model.users_ if model.users_ is not None else IdMap([])
    pq.write_table(
        pa.table({"customer_id": pa.array(users.ids.tolist(), pa.string())}),
        folder / CUSTOMERS_FILE,
    )
    state = {key: _encode(key, value, folder, arrays) for key, value in model._state().items()}
    if model.history_ is not None:
        _put_sparse("history_", model.history_, arrays)
    np.savez(folder / ARRAYS_FILE, allow_pickle=False, **arrays)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "format": BUNDLE_FORMAT,
        "xsell": __version__,
        "model": model.name,
        "params": _plain(model.params()),
        "fitted_on": model.fitted_on_,
        "pseudonym_key_check": model.pseudonym_check_,
        "fit_seconds": round(model.fit_seconds_, 3),
        "n_items": len(table),
        "n_customers": len(users),
        "n_items_learned": model.n_items_known_,
        "n_customers_learned": model.n_users_known_,
        "saved_at": now,
        "saved_at_unix": time.time(),
        "metrics": _plain(metrics),
        "slots": model.slots_.to_dict() if model.slots_ is not None else None,
        "state": state,
        "files": {p.name: _fingerprint(p) for p in sorted(folder.iterdir()) if p.is_file()},
    }
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _fingerprint(file: Path) -> dict[str, Any]:
    """Size of a bundle file, and for library text formats their SHA-256.

    LightGBM's parser crashes the process on a damaged model text instead of
    raising, so such files are checked against their digest before parsing.
    """
    out: dict[str, Any] = {"bytes": file.stat().st_size}
    if file.name.endswith(".lightgbm.txt"):
        out["sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
    return out


def _check_files(path: Path, meta: dict[str, Any]) -> None:
    """Every file ``model.json`` lists is there, whole, and unchanged where it has a digest."""
    for name, expected in meta.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise InputFileError(f"{file}: damaged or incomplete bundle file (it is missing)")
        size = file.stat().st_size
        if size != expected.get("bytes", size):
            raise InputFileError(
                f"{file}: damaged or incomplete bundle file ({size:,} bytes, "
                f"model.json says {expected['bytes']:,})"
            )
        digest = expected.get("sha256")
        if digest and hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            raise InputFileError(
                f"{file}: damaged or incomplete bundle file (its content does not match "
                "the digest in model.json)"
            )


def _encode(key: str, value: Any, folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Store ``value`` and describe where (a small JSON object)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    if isinstance(value, _SCALARS):
        return {"json": value}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {
                "objects": [_plain_element(v) for v in value.tolist()],
                "tuples": _tuples(value),
            }
        arrays[key] = value
        return {"array": key}
    if sp.issparse(value):
        _put_sparse(key, value, arrays)
        return {"sparse": key}
    if isinstance(value, ItemTable):
        name = f"{key}.parquet"
        pq.write_table(value.to_arrow(), folder / name)
        return {"items": name}
    if isinstance(value, pd.DataFrame):
        name = f"{key}.parquet"
        frame = value.copy()
        frame.attrs = {}
        listed = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, tuple)).any()]
        for column in listed:
            frame[column] = frame[column].map(list)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / name)
        return {"frame": name, "tuple_columns": listed}
    if _is_model(value):
        sub = folder / "components" / key
        sub.mkdir(parents=True)
        _write_into(value, sub, {})
        return {"model": f"components/{key}"}
    if isinstance(value, list | tuple) and value and all(_is_model(v) for v in value):
        parts = [_encode(f"{key}{i}", v, folder, arrays) for i, v in enumerate(value)]
        return {"models": parts}
    if isinstance(value, dict):
        return {
            "dict": {str(k): _encode(f"{key}.{k}", v, folder, arrays) for k, v in value.items()}
        }
    if isinstance(value, list | tuple):
        return {
            "list": [_encode(f"{key}.{i}", v, folder, arrays) for i, v in enumerate(value)],
            "tuple": isinstance(value, tuple),
        }
    if type(value).__module__.startswith("lightgbm"):
        name = f"{key}.lightgbm.txt"
        (folder / name).write_text(value.model_to_string(), encoding="utf-8")
        return {"lightgbm": name}
    raise ValidationError(
        f"cannot store {key} ({type(value).__name__}) in a bundle: bundles hold arrays, "
        "tables and plain values only"
    )


def _is_model(value: Any) -> bool:
    """Whether ``value`` is a recommender (told by its contract, so this module needs no base)."""
    return callable(getattr(value, "_set_state", None)) and callable(getattr(value, "params", None))


def _put_sparse(key: str, matrix: Any, arrays: dict[str, np.ndarray]) -> None:
    csr = sp.csr_matrix(matrix)
    arrays[f"{key}.data"] = csr.data
    arrays[f"{key}.indices"] = csr.indices
    arrays[f"{key}.indptr"] = csr.indptr
    arrays[f"{key}.shape"] = np.asarray(csr.shape, dtype=np.int64)
    arrays[f"{key}.sorted"] = np.asarray(bool(csr.has_sorted_indices))


def _tuples(values: np.ndarray) -> bool:
    return any(isinstance(v, tuple) for v in values.ravel().tolist())


def _plain_element(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain_element(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not isinstance(value, _SCALARS):
        raise ValidationError(f"cannot store a {type(value).__name__} in an object array")
    return value


def _plain(value: Any) -> Any:
    """Hyper-parameters and metrics as JSON values (components as [name, params] pairs)."""
    if _is_model(value):
        return [value.name, _plain(value.params())]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------- reading


def _read_from(path: Path, meta: dict[str, Any]) -> Recommender:
    from xsell.models.registry import make_model

    _check_files(path, meta)
    with _reading(path / MODEL_FILE):
        model = make_model(str(meta["model"]), **_params(meta.get("params", {})))
    with _reading(path / ITEMS_FILE):
        items = ItemTable.from_arrow(pq.read_table(path / ITEMS_FILE))
    with _reading(path / CUSTOMERS_FILE):
        customers = pq.read_table(path / CUSTOMERS_FILE).column("customer_id").to_pylist()
    with _reading(path / ARRAYS_FILE), np.load(path / ARRAYS_FILE, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    with _reading(path / MODEL_FILE):
        model.items_ = items
        model.users_ = IdMap(customers)
        model.history_ = _get_sparse("history_", arrays) if "history_.data" in arrays else None
        model.fitted_on_ = meta.get("fitted_on")
        model.pseudonym_check_ = meta.get("pseudonym_key_check")
        model.fit_seconds_ = float(meta.get("fit_seconds", 0.0))
        model.n_items_known_ = int(meta.get("n_items_learned", len(items)))
        model.n_users_known_ = int(meta.get("n_customers_learned", len(customers)))
        model.slots_ = _slots(meta.get("slots"))
        state = {key: _decode(spec, path, arrays) for key, spec in meta.get("state", {}).items()}
        model._set_state(state)
    return model


def _slots(values: Any) -> SlotSplit | None:
    """The stored slot split (a damaged one is reported naming ``model.json``)."""
    if not values:
        return None
    try:
        return SlotSplit.from_dict(values)
    except ValidationError as exc:
        raise ValueError(str(exc)) from exc


def _params(values: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to tuples (the declared type of sequence parameters)."""

    def tupled(value: Any) -> Any:
        if isinstance(value, list):
            return tuple(tupled(v) for v in value)
        if isinstance(value, dict):
            return {k: tupled(v) for k, v in value.items()}
        return value

    return {key: tupled(value) for key, value in values.items()}


def _decode(spec: dict[str, Any], path: Path, arrays: dict[str, np.ndarray]) -> Any:
    if "json" in spec:
        return spec["json"]
    if "float" in spec:
        return float(spec["float"])
    if "array" in spec:
        return arrays[spec["array"]]
    if "objects" in spec:
        out = np.empty(len(spec["objects"]), dtype=object)
        out[:] = [
            tuple(v) if spec.get("tuples") and isinstance(v, list) else v for v in spec["objects"]
        ]
        return out
    if "sparse" in spec:
        return _get_sparse(spec["sparse"], arrays)
    if "items" in spec:
        with _reading(path / spec["items"]):
            return ItemTable.from_arrow(pq.read_table(path / spec["items"]))
    if "frame" in spec:
        with _reading(path / spec["frame"]):
            frame = pq.read_table(path / spec["frame"]).to_pandas()
        for column in spec.get("tuple_columns", []):
            frame[column] = frame[column].map(lambda v: tuple(str(i) for i in v))
        return frame
    if "model" in spec:
        sub = path / spec["model"]
        return read_bundle(sub)
    if "models" in spec:
        return [_decode(part, path, arrays) for part in spec["models"]]
    if "dict" in spec:
        return {k: _decode(v, path, arrays) for k, v in spec["dict"].items()}
    if "list" in spec:
        values = [_decode(v, path, arrays) for v in spec["list"]]
        return tuple(values) if spec.get("tuple") else values
    if "lightgbm" in spec:
        lgb: Any = require("lightgbm", "models")
        with _reading(path / spec["lightgbm"]):
            text = (path / spec["lightgbm"]).read_text(encoding="utf-8")
            try:
                return lgb.Booster(model_str=text)
            except lgb.basic.LightGBMError as exc:
                raise ValueError(str(exc)) from exc
    raise InputFileError(f"{path / MODEL_FILE}: unknown kind of stored state {sorted(spec)}")


def _get_sparse(key: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{key}.shape"])
    matrix = sp.csr_matrix(
        (arrays[f"{key}.data"], arrays[f"{key}.indices"], arrays[f"{key}.indptr"]), shape=shape
    )
    matrix.has_sorted_indices = bool(arrays.get(f"{key}.sorted", np.asarray(False)))
    return matrix
