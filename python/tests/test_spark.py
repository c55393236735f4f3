"""deviant.spark in a real local Spark (local[2], a JVM from the system): scores computed
partition by partition match the detector's own, and fit on a sample works."""

import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import deviant

try:
    import pyspark  # noqa: F401
except ImportError:
    if os.environ.get("DEVIANT_REQUIRE_SPARK"):
        raise
    pytest.skip("pyspark is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if os.environ.get("DEVIANT_REQUIRE_SPARK"):
            pytest.fail("DEVIANT_REQUIRE_SPARK is set but no JVM is installed")
        pytest.skip("no JVM: install a Java runtime (17 or later) to run the Spark tests")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("deviant-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_score_matches_the_detector_row_for_row(spark, blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["proto"] = np.where(np.arange(len(X)) % 3 == 0, "tcp", "udp")
    frame["id"] = np.arange(len(X))
    detector = deviant.IForest().fit(frame.drop(columns=["id"]))
    df = spark.createDataFrame(frame).repartition(4)
    scored = deviant.spark.score(df, detector).toPandas().sort_values("id")
    expected = detector.decision_function(frame.drop(columns=["id"]))
    np.testing.assert_allclose(scored["anomaly_score"].to_numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(scored["is_anomaly"].to_numpy(), expected >= detector.threshold_)
    assert set(scored.columns) == set(frame.columns) | {"anomaly_score", "is_anomaly"}


def test_fit_on_a_sample_then_score_from_a_model_directory(spark, blobs, tmp_path):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = y
    df = spark.createDataFrame(frame)
    detector = deviant.spark.fit(df, "ecod", sample=400, label="label")
    assert 300 <= len(detector.decision_scores_) <= 400
    detector.save(tmp_path / "model")
    scored = deviant.spark.score(df.drop("label"), str(tmp_path / "model")).toPandas()
    assert len(scored) == len(frame)
    with pytest.raises(ValueError, match="no column"):
        deviant.spark.score(df.drop("f0"), detector)


def test_select_runs_its_fits_as_spark_tasks_and_chooses_what_local_select_chooses(spark, blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = y
    df = spark.createDataFrame(frame, schema=list(frame.columns)).coalesce(1)
    options = dict(budget="120s", deep=False, members=3)
    here, here_board = deviant.select(frame.drop(columns=["label"]), y, random_state=3, **options)
    context = spark.sparkContext
    context.setJobGroup("deviant-select", "the selection's fits")
    there, there_board = deviant.spark.select(df, label="label", seed=3, **options)
    context.setLocalProperty("spark.jobGroup.id", None)
    # Two rounds of fits at most, each one Spark job of one task a candidate.
    assert context.statusTracker().getJobIdsForGroup("deviant-select")
    fitted = there_board[there_board["status"] == "fitted"]
    assert len(fitted) >= 10
    chosen = lambda board: sorted(board[board["chosen"]]["label"])  # noqa: E731
    assert chosen(here_board) == chosen(there_board)
    assert here.selection_["model"] == there.selection_["model"]
    np.testing.assert_array_equal(here.decision_scores_, there.decision_scores_)
    np.testing.assert_allclose(
        fitted["select_roc_auc"].to_numpy(),
        here_board.set_index("label").loc[fitted["label"], "select_roc_auc"].to_numpy(),
    )


def test_select_without_labels_ranks_by_the_corpus_and_fits_on_spark(spark, blobs):
    X, _ = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df = spark.createDataFrame(frame).coalesce(1)
    chosen, board = deviant.spark.select(df, budget=60, deep=False, members=2)
    assert chosen.selection_["strategy"] == "corpus"
    assert board["chosen"].sum() == 2
    assert chosen.decision_function(frame).shape == (len(frame),)
