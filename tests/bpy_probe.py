"""What the bpy probe scripts of the Blender tests share (tests/test_engine_worker.py,
tests/test_blender_batch.py): each runs as one subprocess and reports a dict `r` as JSON.

STEP defines `r` and `step(name, fn)`: r[name] = fn(), or "EXC <message>" when fn raises. A
RuntimeError is what bpy.ops raises for an operator's own reported error (an expected outcome the
tests look at); anything else is a bug in the probe or the add-on, kept with its traceback in
r["errors"], which the tests assert is empty.
"""
import textwrap

STEP = textwrap.dedent(r"""
    import traceback
    r = {"errors": []}

    def step(name, fn):
        try:
            r[name] = fn()
        except Exception as e:
            r[name] = "EXC " + str(e)
            if not isinstance(e, RuntimeError):
                r["errors"].append(traceback.format_exc())
""")
