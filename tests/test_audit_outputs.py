"""Atomic output writing and the figure-by-figure comparison behind `sop-eval verify`."""

import json

import numpy as np
import pytest

from sop_eval import SopEvalError
from sop_eval.audit import compare_results, environment, flatten, sha256_bytes, sha256_file
from sop_eval.outputs import atomic_directory, dumps, write_json_atomic


def test_dumps_is_canonical_and_json_safe():
    a = dumps({"b": np.float64(1.5), "a": [np.int64(2), float("nan")], "c": (1, 2)})
    b = dumps({"c": [1, 2], "a": [2, None], "b": 1.5})
    assert a == b
    assert json.loads(a) == {"a": [2, None], "b": 1.5, "c": [1, 2]}


def test_write_json_atomic_leaves_no_temporary(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "r.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.json"]


def test_atomic_directory_moves_only_on_success(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "results.json").write_text("one")
        (staging / "figures").mkdir()
        (staging / "figures" / "f.png").write_bytes(b"png")
    assert (target / "results.json").read_text() == "one" and (target / "figures" / "f.png").exists()
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "results.json").write_text("two")
            raise RuntimeError("halfway")
    assert (target / "results.json").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_replaces_the_whole_directory(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as staging:
        (staging / "results.json").write_text("one")
        (staging / "figures").mkdir()
        (staging / "figures" / "cohort-1.png").write_bytes(b"png")
    with atomic_directory(target) as staging:
        (staging / "results.json").write_text("two")
        (staging / "figures").mkdir()
    assert (target / "results.json").read_text() == "two"
    assert list((target / "figures").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_refuses_to_lose_the_users_files(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "my notes.txt").write_text("mine")
    with pytest.raises(SopEvalError, match=r"'my notes.txt'.*choose an empty or new directory"):
        with atomic_directory(target) as staging:
            (staging / "results.json").write_text("x")
    assert (target / "my notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_never_writes_through_a_link_or_over_an_input(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(SopEvalError, match="symbolic link"):
        with atomic_directory(tmp_path / "out"):
            pass
    data = tmp_path / "case" / "data.csv"
    data.parent.mkdir()
    data.write_text("a,b\n")
    with pytest.raises(SopEvalError, match=r"holds an input of this run \('data.csv'\)"):
        with atomic_directory(tmp_path / "case", inputs=[data]):
            pass
    assert data.read_text() == "a,b\n" and list(elsewhere.iterdir()) == []


def test_overlapping_runs_each_leave_one_whole_bundle(tmp_path):
    target = tmp_path / "out"
    first = atomic_directory(target)
    second = atomic_directory(target)
    a, b = first.__enter__(), second.__enter__()
    for staging, tag in ((a, "a"), (b, "b")):
        (staging / "results.json").write_text(tag)
        (staging / "audit.json").write_text(tag)
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert (target / "results.json").read_text() == (target / "audit.json").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_hashes(tmp_path):
    f = tmp_path / "x.bin"
    f.write_bytes(b"abc")
    assert sha256_file(f) == sha256_bytes(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_environment_names_versions():
    env = environment()
    assert env["dependencies"]["numpy"] == np.__version__
    assert env["python"].startswith("3.")


def test_flatten_paths():
    assert dict(flatten({"a": {"b": [1, {"c": 2}]}})) == {"a.b[0]": 1, "a.b[1].c": 2}


def test_compare_exact_for_money_tolerance_for_floats():
    stored = {"payments": {"total_payment": 500000.0, "payments_by_payer": {"MoJ": 400000.0}},
              "effect": {"se": 0.1234567890123, "n_treated": 1000, "mean": 1.0}, "label": "c1"}
    same = {"payments": {"total_payment": 500000.0, "payments_by_payer": {"MoJ": 400000.0}},
            "effect": {"se": 0.1234567890124, "n_treated": 1000, "mean": 1.0}, "label": "c1"}
    assert compare_results(stored, same) == []
    changed = {"payments": {"total_payment": 500000.0000001, "payments_by_payer": {"MoJ": 400000.0000001}},
               "effect": {"se": 0.124, "n_treated": 999, "mean": 1.0 + 1e-12}, "label": "c2", "extra": 1}
    diffs = {d.path: d.rule for d in compare_results(stored, changed)}
    assert diffs == {
        "payments.total_payment": "exact",
        "payments.payments_by_payer.MoJ": "exact",
        "effect.se": "float, rtol 1e-09",
        "effect.n_treated": "exact",
        "label": "exact",
        "extra": "present in only one",
    }
