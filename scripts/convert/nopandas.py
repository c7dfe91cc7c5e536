"""Keep pandas out of the converter's processes.

pyarrow imports pandas the first time ``pa.array``/``pa.table`` & co. run, if it is
installed (to recognise DataFrames): ~0.5 s of CPU in every process, more than the whole
data pass of a 200-episode dataset. The converter never uses pandas (``tasks.parquet`` is
written with pyarrow), so its CLI and its workers make ``import pandas`` fail, which pyarrow
handles as "pandas not installed". Only done when pandas is not loaded yet, and never on
import of this package (tests and other callers keep pandas).
"""

from __future__ import annotations

import importlib.abc
import sys


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ImportError("pandas is kept out of the converter (see scripts/convert/nopandas)")


def block_pandas() -> None:
    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())
