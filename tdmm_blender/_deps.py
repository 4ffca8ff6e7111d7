"""Where our `engine` package comes from, for every tdmm_blender module.

The extension zip vendors `engine` inside the add-on folder (so it is
`<addon>.engine`); in a development checkout `engine` is a top-level package
next to `tdmm_blender`. Every module here imports it through this file:

    from ._deps import engine
    engine.head.load_head(...)

The submodules we use are imported explicitly below, because `import engine`
alone only runs engine/__init__.py, which loads nothing (torch is heavy).
"""
from importlib import import_module
from importlib.util import find_spec

# Look for the vendored copy first, and only fall back when it is absent: a
# plain `try: from . import engine / except ImportError` would also swallow an
# ImportError raised *inside* a vendored engine and silently use a different
# copy, which is much harder to debug than the real error.
if __package__ and find_spec(f"{__package__}.engine") is not None:
    engine = import_module(f"{__package__}.engine")
else:
    import engine

# numpy-only modules: cheap, and what the Blender side needs.
for _sub in ("head", "clip", "rotation", "errors", "safe_io", "files", "protocol", "prompt_list"):
    import_module(f"{engine.__name__}.{_sub}")
del _sub

__all__ = ["engine"]
