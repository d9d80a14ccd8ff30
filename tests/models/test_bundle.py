"""Bundle format 2: data only (no pickle is ever read), damaged files named, atomic replacement."""

from __future__ import annotations

import json
import os
import pickle
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import dead_pid
from tests.shops import fitted
from xsell.data.shopdata import ShopData
from xsell.errors import InputFileError, ValidationError
from xsell.models import BUNDLE_FORMAT, REGISTRY, load_model, read_bundle_meta
from xsell.models.base import Recommender
from xsell.models.cooccurrence import Cooccurrence
from xsell.models.popularity import Popularity


class _Planted:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _plant_pickle(folder: Path, marker: Path) -> None:
    (folder / "model.pkl").write_bytes(pickle.dumps(_Planted(marker)))


def _answers(model: Recommender) -> pd.DataFrame:
    return model.recommend_for_basket(["SKU00001", "SKU00002"], k=10)


def test_a_planted_pickle_is_never_read(tmp_path: Path) -> None:
    model = fitted("cooccurrence")
    bundle = model.save(tmp_path / "bundle")
    marker = tmp_path / "pwned"
    _plant_pickle(bundle, marker)
    loaded = load_model(bundle)
    assert not marker.exists()
    pd.testing.assert_frame_equal(_answers(loaded), _answers(model))
    # The planted file is no part of the bundle: the next save replaces the folder whole.
    model.save(bundle)
    assert not (bundle / "model.pkl").exists() and not marker.exists()


def test_a_format_1_bundle_is_refused_with_a_word_to_retrain(tmp_path: Path) -> None:
    bundle = tmp_path / "old"
    bundle.mkdir()
    (bundle / "model.json").write_text(json.dumps({"format": 1, "model": "cooccurrence"}))
    marker = tmp_path / "pwned"
    _plant_pickle(bundle, marker)
    with pytest.raises(
        InputFileError,
        match=r"old: bundle format 1 stores the model as a pickle, which this xsell never loads "
        r"\(a pickle can run code\); retrain it with `xsell train cooccurrence`",
    ):
        load_model(bundle)
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_bundle_holds_no_pickle_and_its_arrays_load_without_pickle(
    name: str, tmp_path: Path, shop_data: ShopData
) -> None:
    bundle = fitted(name).save(tmp_path / name, metrics={"recall@10": 0.25})
    files = [p for p in bundle.rglob("*") if p.is_file()]
    for file in files:
        assert file.suffix not in (".pkl", ".pickle", ".joblib"), file
        # Pickles start with the PROTO opcode (0x80) followed by the protocol number.
        assert file.read_bytes()[:1] != b"\x80", file
    for npz in bundle.rglob("arrays.npz"):
        with np.load(npz, allow_pickle=False) as arrays:
            assert all(arrays[key].dtype != object for key in arrays.files)
    meta = read_bundle_meta(bundle)
    assert meta["format"] == BUNDLE_FORMAT == 2 and meta["model"] == name
    assert meta["n_items"] == shop_data.n_items and meta["n_customers"] == shop_data.n_users
    assert meta["fitted_on"] == shop_data.fingerprint()
    assert meta["metrics"] == {"recall@10": 0.25}
    assert datetime.fromisoformat(meta["saved_at"]).tzinfo is not None
    assert {"items.parquet", "customers.parquet", "arrays.npz", "model.json"} <= {
        p.name for p in bundle.iterdir()
    }


def test_an_ensemble_keeps_its_components_as_bundles_of_their_own(tmp_path: Path) -> None:
    bundle = fitted("hybrid").save(tmp_path / "hybrid")
    parts = sorted(p for p in (bundle / "components").iterdir())
    assert len(parts) == 2
    assert [read_bundle_meta(p)["model"] for p in parts] == ["cooccurrence", "popularity"]
    for part in parts:
        assert {"model.json", "arrays.npz", "items.parquet"} <= {p.name for p in part.iterdir()}
    ranker = fitted("reranker").save(tmp_path / "reranker")
    (text,) = list(ranker.glob("*.lightgbm.txt"))
    assert text.read_text().startswith("tree")


def test_loading_through_a_model_class_checks_the_kind(tmp_path: Path) -> None:
    bundle = fitted("cooccurrence").save(tmp_path / "bundle")
    assert isinstance(Cooccurrence.load(bundle), Cooccurrence)
    with pytest.raises(
        ValidationError, match=r"holds a 'cooccurrence' model, not a 'popularity' one"
    ):
        Popularity.load(bundle)


def test_a_folder_without_a_description_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(
        InputFileError,
        match=r"not an xsell model bundle \(no model.json\); create one with `xsell train`",
    ):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("[1, 2]")
    with pytest.raises(InputFileError, match=r"model.json: not a bundle description"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text('{"format": 3, "model": "x"}')
    with pytest.raises(InputFileError, match=r"bundle format 3, this xsell reads format 2"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    "part", ["model.json", "items.parquet", "customers.parquet", "arrays.npz", "*.lightgbm.txt"]
)
@pytest.mark.parametrize("damage", ["truncate", "garble", "remove"])
def test_a_damaged_file_is_named(part: str, damage: str, tmp_path: Path) -> None:
    bundle = fitted("reranker").save(tmp_path / "bundle")
    (file,) = list(bundle.glob(part))
    data = file.read_bytes()
    if damage == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif damage == "garble":
        file.write_bytes(bytes(reversed(data)))
    else:
        file.unlink()
    message = "bundle description" if part == "model.json" else "damaged or incomplete bundle file"
    if part == "model.json" and damage == "remove":
        message = "not an xsell model bundle"
    with pytest.raises(InputFileError, match=message) as caught:
        load_model(bundle)
    named = bundle if (part, damage) == ("model.json", "remove") else file
    assert str(caught.value).startswith(f"{named}:"), caught.value


@pytest.mark.parametrize("fail", ["unstorable state", "disk full"])
def test_a_failed_save_keeps_the_old_bundle(
    fail: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: ShopData
) -> None:
    model = fitted("cooccurrence")
    bundle = model.save(tmp_path / "bundle")
    before = sorted(p.name for p in bundle.iterdir())
    if fail == "unstorable state":
        broken = Cooccurrence().fit(tiny)
        broken.counts_ = object()  # type: ignore[assignment]
        with pytest.raises(ValidationError, match=r"cannot store counts_ \(object\) in a bundle"):
            broken.save(bundle)
    else:

        def full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("xsell.models.bundle.np.savez", full)
        with pytest.raises(OSError, match="No space left on device"):
            model.save(bundle)
        monkeypatch.undo()
    assert sorted(p.name for p in bundle.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    pd.testing.assert_frame_equal(_answers(load_model(bundle)), _answers(model))


def test_leftovers_of_dead_writers_are_removed_by_the_next_save(tmp_path: Path) -> None:
    dead, live = dead_pid(), os.getppid()
    leftovers = [
        tmp_path / f".bundle.tmp-{dead}-k3j9",
        tmp_path / f".bundle.old-{dead}",
    ]
    kept = [
        tmp_path / f".bundle.tmp-{live}-q8x1",
        tmp_path / f".bundle.old-{live}",
        tmp_path / f".other.old-{dead}",  # another target's: not this save's business
    ]
    for folder in [*leftovers, *kept]:
        folder.mkdir()
        (folder / "arrays.npz").write_bytes(b"half")
    fitted("popularity").save(tmp_path / "bundle")
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["bundle", *(p.name for p in kept)])
