"""benchmarks/book_time.py: a chapter's time split into the parts its kernel counted."""

from __future__ import annotations

import importlib.util
import json

import nbformat
import pytest

from pprlib import book, timing


def _load():
    spec = importlib.util.spec_from_file_location("book_time", book.ROOT / "benchmarks" / "book_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _executed(folder, name, parts):
    cell = nbformat.v4.new_code_cell("provenance_table(config)")
    if parts is not None:
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": repr(parts)},
                                               metadata={"scrapbook": {"name": "seconds_by_part"}})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nbformat.write(nb, str(folder / name))


def test_the_table_splits_each_chapter_into_its_parts_and_the_rest(tmp_path):
    executed = tmp_path / "_build" / "executed"
    (executed / "book").mkdir(parents=True)
    parts = {"seconds": {**{p: 0.0 for p in timing.PARTS}, "tuning steps": 30.0, "learning-rate choice": 20.0},
             "counts": {"runs": 12, "optimizer steps": 900, "pre-trainings": 1}}
    _executed(executed / "book", "few_shot.ipynb", parts)
    _executed(executed / "book", "intro.ipynb", None)  # a chapter that counts nothing
    (executed / "manifest.json").write_text(json.dumps({"book/few_shot.ipynb": {"seconds": 80.0},
                                                        "book/intro.ipynb": {"seconds": 2.0}}))
    table = _load().chapter_times(tmp_path / "_build").set_index("chapter")
    assert table.loc["few_shot", "tuning steps"] == 30.0 and table.loc["few_shot", "learning-rate choice"] == 20.0
    assert table.loc["few_shot", "everything else"] == pytest.approx(30.0)
    assert table.loc["few_shot", "runs"] == 12 and table.loc["few_shot", "optimizer steps"] == 900
    assert table.loc["intro", "everything else"] == 2.0 and table.loc["intro", "runs"] == 0
    assert list(table.index) == ["few_shot", "intro"]  # the longest first


def test_the_performance_chapter_reads_the_latest_measurement_and_its_shares():
    import pandas as pd

    from pprlib import bench

    rows = []
    for label, scale in (("old", 1.0), ("new", 2.0)):
        for chapter, steps in (("a", 30.0), ("b", 10.0)):
            rows.append({"label": label, "chapter": chapter, "seconds": scale * (steps + 10.0), "machine": "cpu",
                         **{p: 0.0 for p in timing.PARTS}, "tuning steps": scale * steps, "everything else": scale * 10.0})
    latest, label, share = bench.book_time(pd.DataFrame(rows))
    assert label == "new (cpu)" and latest.loc["a", "seconds"] == 80.0
    assert share["tuning steps"] == pytest.approx(80 / 120) and share.index[0] == "tuning steps"
    assert bench.book_time(pd.DataFrame(rows), "old")[0].loc["b", "seconds"] == 20.0
    with pytest.raises(ValueError, match="no measurement labelled"):
        bench.book_time(pd.DataFrame(rows), "none")


def test_the_test_suite_durations_are_read_per_phase_and_module():
    spec = importlib.util.spec_from_file_location("test_time", book.ROOT / "benchmarks" / "test_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    output = """
============================= slowest durations ==============================
202.94s setup    tests/test_notebooks.py::test_every_toc_notebook_was_executed
25.19s call     tests/test_resume.py::test_killed_run_resumes_from_the_first_unfinished_chapter[15]
0.01s teardown tests/test_resume.py::test_killed_run_resumes_from_the_first_unfinished_chapter[15]
3.40s call     tests/bad_inputs/test_paths.py::test_x[a b]
1225 passed, 1 skipped in 334.86s (0:05:34)
"""
    frame = module.durations(output)
    assert list(frame.phase) == ["setup", "call", "teardown", "call"]
    assert frame.seconds.tolist() == [202.94, 25.19, 0.01, 3.40]
    assert frame.module.tolist() == ["tests/test_notebooks.py", "tests/test_resume.py", "tests/test_resume.py",
                                     "tests/bad_inputs/test_paths.py"]
    assert frame.groupby("module").seconds.sum()["tests/test_resume.py"] == pytest.approx(25.20)
    assert frame.test.iloc[3] == "tests/bad_inputs/test_paths.py::test_x[a b]"  # an id with a space, whole


def test_the_suite_time_is_the_latest_measurement_unless_one_is_named():
    import pandas as pd

    from pprlib import bench

    rows = [{"module": m, "seconds": s, "label": label, "jobs": 2, "wall_s": w, "machine": "CPU X, 2 cores"}
            for label, w, modules in (("old", 400.0, {"a": 300.0, "b": 10.0}), ("new", 200.0, {"a": 5.0, "b": 150.0,
                                                                                             "c": 1.0}))
            for m, s in modules.items()]
    top, label, wall, total = bench.suite_time(pd.DataFrame(rows), top=2)
    assert list(top.index) == ["b", "a"] and label == "new (CPU X, 2 cores, 2 processes)"
    assert (wall, total) == (200.0, 156.0)
    assert bench.suite_time(pd.DataFrame(rows), "old")[2] == 400.0
    with pytest.raises(ValueError, match="no measurement labelled"):
        bench.suite_time(pd.DataFrame(rows), "neither")


def test_a_measurement_replaces_its_own_rows_and_keeps_the_others(tmp_path):
    import pandas as pd

    path = tmp_path / "results.csv"
    write = _load().replace_rows
    write(path, pd.DataFrame({"label": ["a", "a"], "seconds": [1.0, 2.0]}), "a")
    write(path, pd.DataFrame({"label": ["b"], "seconds": [3.0]}), "b")
    table = write(path, pd.DataFrame({"label": ["a"], "seconds": [4.0]}), "a")  # measured again
    assert table.values.tolist() == [["b", 3.0], ["a", 4.0]]
    assert pd.read_csv(path).values.tolist() == [["b", 3.0], ["a", 4.0]]  # the latest label last


def test_the_step_paths_are_the_latest_measurement_per_method_and_targets(tmp_path, capsys):
    import pandas as pd

    from pprlib import bench

    rows = [{"label": label, "method": m, "targets": t, "before_ms": b, "after_ms": a, "ratio": a / b,
             "machine": "CPU X, 2 cores"}
            for label, cases in (("old", [("ft", "few", 4.0, 4.0)]),
                                 ("new", [("ft", "few", 5.0, 4.0), ("PPR(light)", "few", 10.0, 9.0),
                                         ("PPR(light)", "zero", 10.0, 8.5)]))
            for m, t, b, a in cases]
    path = tmp_path / "step_paths.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    frame, label, worst = bench.step_paths(bench.stored_measurement(path, "the benchmark"))
    assert label == "new (CPU X, 2 cores)"
    assert worst.to_dict() == {"few": pytest.approx(0.9), "zero": pytest.approx(0.85)}  # the least gain
    assert frame.loc[("PPR(light)", "zero"), "ratio"] == pytest.approx(0.85)
    assert frame.loc[("ft", "few"), "before_ms"] == 5.0
    assert bench.step_paths(pd.DataFrame(rows), "old")[0].ratio.tolist() == [1.0]
    # a checkout without the file: None, and how to make it
    assert bench.stored_measurement(tmp_path / "missing.csv", "`python benchmarks/step_paths.py`") is None
    assert "python benchmarks/step_paths.py" in capsys.readouterr().out


def test_the_contrastive_cost_reads_each_loss_by_what_it_holds_not_by_its_name(tmp_path):
    import pandas as pd

    from pprlib import bench

    # (loss name, prompt view, behaviour view, anchors limit): names shuffled against the contents
    losses = [("n", False, False, None), ("p", True, False, None), ("b", False, True, None),
              ("l", True, True, 64.0), ("k", True, True, None)]
    ms = {"PPR(light)": dict(zip("npblk", (2.0, 6.0, 12.0, 7.0, 14.0), strict=True)),
          "PPR(full)": dict(zip("npblk", (4.0, 9.0, 15.0, 10.0, 20.0), strict=True))}
    rows = [{"label": label, "method": m, "targets": "few", "loss": name, "prompt_view": p, "behaviour_view": b,
             "max_anchors": limit, "ms": ms[m][name] * scale, "behaviour_views": 64.0 if limit else 300.0 * b,
             "machine": "CPU X, 2 cores"}
            for label, scale in (("old", 3.0), ("new", 1.0)) for m in ms for name, p, b, limit in losses]
    rows += [{"label": "new", "method": "PPR(light)", "targets": "zero", "loss": "k", "prompt_view": True,
              "behaviour_view": False, "max_anchors": None, "ms": 5.0, "behaviour_views": 0.0, "machine": "CPU X, 2 cores"}]
    path = tmp_path / "cl_cost.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    frame, label, summary = bench.cl_cost(bench.stored_measurement(path, "the benchmark"))
    assert label == "new (CPU X, 2 cores)"
    assert list(frame.columns) == list("npblk")  # in the order measured, not sorted
    assert frame.index.tolist() == [("PPR(light)", "few"), ("PPR(full)", "few"), ("PPR(light)", "zero")]
    assert frame.loc[("PPR(light)", "zero"), "k"] == 5.0 and pd.isna(frame.loc[("PPR(light)", "zero"), "n"])
    assert summary.index.tolist() == ["PPR(light)", "PPR(full)"]
    assert summary.loc["PPR(light)"].to_dict() == pytest.approx(
        {"contrastive": 14 / 2, "behaviour share": (14 - 6) / (14 - 2), "fewer anchors": 7 / 14,
         "anchors": 64.0, "behaviour views": 300.0})  # the book's: every anchor
    assert summary.loc["PPR(full)", "behaviour share"] == pytest.approx((20 - 9) / (20 - 4))
    assert bench.cl_cost(pd.DataFrame(rows), "old")[2].loc["PPR(full)", "contrastive"] == pytest.approx(5.0)
