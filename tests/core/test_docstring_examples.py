"""The examples in the engine's docstrings run and give what they show.

scikit-image's habit: a small pure function carries a doctest.  Every ddrcore
module is checked; a module whose examples fail fails here by name.
"""
import doctest
import importlib
import pkgutil

import pytest

import ddrcore

MODULES = sorted(m.name for m in pkgutil.walk_packages(ddrcore.__path__, "ddrcore.")
                 if not m.name.endswith("__main__"))


def test_examples_exist_where_promised():
    # The small pure functions named in the developers' guide carry an example.
    from ddrcore.io.images import pad_to, tile_origins
    from ddrcore.model.preprocess import Preprocessor

    for fn in (pad_to, tile_origins, Preprocessor.fit):
        assert ">>>" in (fn.__doc__ or ""), fn.__qualname__


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
