"""Starting Spark: one session per process, local by default, any cluster by ``--master``.

PySpark workers run Python: they are pointed at this environment's interpreter
(``PYSPARK_PYTHON``) unless the caller set one, so executors import the same
xsell, NumPy and pandas as the driver. Spark needs Java (17 here); a missing
Java or pyspark is one clear error naming what to install.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any, Final

from xsell.errors import MissingExtraError, ValidationError, XsellError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER: Final = "local[2]"
#: Settings every xsell job runs with (a caller's ``conf`` may override them).
BASE_CONF: Final = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    # FP-Growth ships its trees between tasks as nested objects: a basket of hundreds of
    # frequent items reads back through a recursion deeper than Java's default 1 MB stack.
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR -Xss64m",
    "spark.executor.extraJavaOptions": "-Xss64m",
    # Nanosecond timestamps (pandas' default in Parquet) are read as numbers and turned
    # back into timestamps by the reader; without it Spark refuses the whole file.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
MASTER_FORMS: Final = ("local", "local[N]", "local[*]", "spark://HOST:PORT", "yarn", "k8s://URL")


def check_master(master: str) -> str:
    """``master`` if it has the form of a Spark master URL."""
    ok = (
        master == "local"
        or (master.startswith("local[") and master.endswith("]"))
        or master.startswith(("spark://", "k8s://", "mesos://"))
        or master == "yarn"
    )
    if not ok:
        raise ValidationError(
            f"--master {master!r} is not a Spark master; use one of {', '.join(MASTER_FORMS)}"
        )
    return master


def java_missing() -> str | None:
    """Why Java cannot be started (``None`` when a ``java`` is found)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return None
    if shutil.which("java"):
        return None
    return "Spark needs Java 17 or newer: install it (apt-get install openjdk-17-jre-headless)"


def spark_session(
    master: str = DEFAULT_MASTER,
    app_name: str = "xsell",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """The process's Spark session (created on first use with ``master`` and ``conf``).

    Parameters
    ----------
    master:
        ``local[N]`` (N worker threads on this machine), ``spark://HOST:PORT``,
        ``yarn`` or ``k8s://URL``. Under ``spark-submit`` the master it was given wins.
    conf:
        Extra Spark settings, e.g. ``{"spark.executor.memory": "8g"}``.
    """
    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingExtraError("pyspark", "spark") from exc
    why = java_missing()
    if why is not None:
        raise XsellError(why)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.appName(app_name)
    if not _under_spark_submit():
        builder = builder.master(master)
    for key, value in {**BASE_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``--conf key=value`` options as a dict."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--conf expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _under_spark_submit() -> bool:
    """Whether ``spark-submit`` started this process (then its ``--master`` wins)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ
