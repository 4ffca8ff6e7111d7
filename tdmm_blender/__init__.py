"""TDMM Face Animation: the Blender extension (rig, keyframes, UI).

This is the only package that imports bpy, and only inside register() and the
modules it loads: `engine.cli` reaches tdmm_blender submodules through entry
points, and importing this package must work (and stay cheap) outside Blender.
The extension's manifest is blender_manifest.toml at the repository root; no
bl_info is needed for the 4.2+ extension format.
"""

# Registered in this order, unregistered in reverse (the panel uses the operators).
# engine_ops registers the Generate/Caption operators only, continue_ops Continue / In-between and
# batch_ops Batch Bake: the engine worker starts with the first request, never here. retarget
# registers Retarget (numpy only, no engine worker).
_MODULES = ("operators", "engine_ops", "continue_ops", "batch_ops", "retarget", "panel")


def _modules():
    from importlib import import_module
    return [import_module(f"{__name__}.{m}") for m in _MODULES]


def register():
    for m in _modules():
        m.register()


def unregister():
    for m in reversed(_modules()):
        m.unregister()
