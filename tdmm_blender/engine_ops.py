"""Generate, Caption and Ask: the operators that run the models, through the engine worker.

Nothing here starts the engine at register time: the worker (engine_client.py) starts with
the first request and stays up. Pressed in the UI, an operator sends its request and goes
modal: a window timer polls for the reply (milliseconds of work per tick), so Blender stays
responsive during a long generation, and Esc cancels. Run from a script or in background
mode (no window), execute() waits for the reply instead. Only these operators, on the main
thread, touch Blender data with what came back.

Generate keys every variation as a NEW action on the head (keys.write_clip never touches
existing keys). Caption and Ask store their text on the head's action as custom properties
(`tdmm_caption`; `tdmm_question` and `tdmm_answer`) and show it in the panel.
"""
from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, PointerProperty, StringProperty

from .operators import _active_head, _head_poll

ADDON = __package__                 # bl_ext.<repo>.tdmm in the extension, tdmm_blender in a checkout
PROP_CAPTION = "tdmm_caption"
PROP_QUESTION = "tdmm_question"
PROP_ANSWER = "tdmm_answer"
TICK_S = 0.05                       # how often the modal operator looks for the reply
WAIT_S = 900.0                      # a script's execute() gives up after this


class TDMM_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON

    python_path: StringProperty(
        name="Engine Python", subtype="FILE_PATH", default="",
        description="Python interpreter that runs the models (one with torch, e.g. your own environment with a "
                    "GPU); empty = Blender's own Python with the extension's bundled packages")

    def draw(self, context):
        self.layout.prop(self, "python_path")
        self.layout.label(text="Leave empty to use Blender's Python (needs the extension built with torch)")


class TDMM_PG_engine(bpy.types.PropertyGroup):
    """What the panel's fields hold (saved with the scene)."""
    prompt: StringProperty(name="Prompt", default="a shy smile that turns into a laugh",
                           description="What the face should do")
    seconds: FloatProperty(name="Seconds", default=4.0, min=0.5, max=20.0, description="Length of the motion")
    seed: IntProperty(name="Seed", default=0, min=0, description="Same prompt, seed and settings: the same motion")
    variations: IntProperty(name="Variations", default=1, min=1, max=16, description="Takes, each a new action")
    guidance: FloatProperty(name="Guidance", default=2.0, min=0.0, max=20.0,
                            description="How closely to follow the prompt (0 = not at all)")
    question: StringProperty(name="Question", default="", description="Ask something about the selected animation")


def client(context):
    """The session's engine client, pointed at the interpreter the preferences name."""
    from . import engine_client
    c = engine_client.get_client()
    addon = context.preferences.addons.get(ADDON)
    path = getattr(addon.preferences, "python_path", "") if addon and addon.preferences else ""
    c.set_python(bpy.path.abspath(path) if path else None)
    return c


def go_modal(op, context, message: str) -> set:
    """Start op's modal(), woken by a window timer every TICK_S (op._timer, removed when it ends)."""
    wm = context.window_manager
    op._timer = wm.event_timer_add(TICK_S, window=context.window)
    wm.modal_handler_add(op)
    op.report({"INFO"}, message)
    return {"RUNNING_MODAL"}


class _EngineRequest:
    """invoke(): send, then poll from a modal timer. execute(): send and wait. Subclasses
    implement _send(context) -> request (or None after self.report) and _apply(context, req)."""

    def execute(self, context):
        req = self._start(context)
        if req is None:
            return {"CANCELLED"}
        self._client.wait(req, WAIT_S)
        return self._finish(context, req)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        req = self._start(context)
        if req is None:
            return {"CANCELLED"}
        self._req = req
        return go_modal(self, context, "TDMM engine: working (Esc cancels)")

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._client.cancel(self._req)
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._client.poll()
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()                 # the panel shows the engine's progress
        if not self._req.done:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, self._req)

    def _start(self, context):
        try:
            self._client = client(context)
            return self._send(context)
        except OSError as e:                      # the chosen Python is missing or cannot start
            self.report({"ERROR"}, str(e))
            return None

    def _finish(self, context, req):
        if req.error:
            self.report({"WARNING" if req.cancelled else "ERROR"}, f"TDMM engine: {req.error}")
            return {"CANCELLED"}
        for w in req.warnings:
            self.report({"WARNING"}, w)
        return self._apply(context, req)


class _GenerateSettings:
    """Generate's settings as operator properties (unset = the panel's value); Continue and
    In-between (continue_ops.py) take the same ones."""
    prompt: StringProperty(name="Prompt", default="", description="Empty = the panel's prompt")
    seconds: FloatProperty(name="Seconds", default=-1.0, description="Negative = the panel's value")
    seed: IntProperty(name="Seed", default=-1, description="Negative = the panel's value")
    variations: IntProperty(name="Variations", default=0, description="0 = the panel's value")
    guidance: FloatProperty(name="Guidance", default=-1.0, description="Negative = the panel's value")

    def _settings(self, context) -> dict:
        s = context.scene.tdmm_engine
        return {"prompts": [self.prompt or s.prompt],
                "seconds": self.seconds if self.seconds >= 0 else s.seconds,
                "seed": self.seed if self.seed >= 0 else s.seed,
                "variations": self.variations or s.variations,
                "guidance": self.guidance if self.guidance >= 0 else s.guidance}


class TDMM_OT_generate(_GenerateSettings, _EngineRequest, bpy.types.Operator):
    """Animate the selected head from a text prompt; each variation becomes a new action"""
    bl_idname = "tdmm.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _head_poll(cls, context)

    def _send(self, context):
        self._arm_name = _active_head(context)[0].name
        self._fields = self._settings(context)
        return self._client.submit("generate", self._fields)

    def _apply(self, context, req):
        from . import keys
        arm = bpy.data.objects.get(self._arm_name)
        if arm is None:
            self.report({"ERROR"}, f"The head '{self._arm_name}' was deleted while the engine worked: generate again")
            return {"CANCELLED"}
        scene, seed, names = context.scene, self._fields["seed"], []
        prompt = self._fields["prompts"][0]
        for v, clip in enumerate(req.clips):
            title = f"{prompt[:40]} s{seed}" + (f" v{v}" if len(req.clips) > 1 else "")
            try:
                result = keys.write_clip(arm, clip, name=title, frame_start=scene.frame_start, scene=scene)
            except keys.KeysError as e:
                self.report({"ERROR"}, str(e))
                return {"CANCELLED"}
            result.action["tdmm_seed"] = int(clip.meta.get("generator", {}).get("seed", seed))
            names.append(result.action.name)
        last = int(-(-result.frame_range[1] // 1))
        scene.frame_end = max(scene.frame_end, last)
        self.report({"INFO"}, f"Generated {len(names)} action(s) on '{arm.name}': {', '.join(names)}")
        return {"FINISHED"}


class _Describe(_EngineRequest):
    """Caption and Ask: send the head's animation as a clip, store the text on its action."""
    bl_options = {"REGISTER", "UNDO"}

    question: StringProperty(name="Question", default="", options={"SKIP_SAVE"},
                             description="Empty = a caption; else the question to answer")

    @classmethod
    def poll(cls, context):
        return _head_poll(cls, context)

    def _send(self, context):
        from . import keys
        arm, _mesh = _active_head(context)
        self._arm_name = arm.name
        try:
            clip = keys.read_clip(arm, scene=context.scene)
        except (keys.KeysError, ValueError) as e:
            self.report({"ERROR"}, str(e))
            return None
        question = self.question.strip()
        if question:
            return self._client.submit("ask", {"question": question}, clip=clip)
        return self._client.submit("caption", {}, clip=clip)

    def _apply(self, context, req):
        arm = bpy.data.objects.get(self._arm_name)
        action = arm.animation_data.action if arm and arm.animation_data else None
        if action is None:
            self.report({"ERROR"}, f"'{self._arm_name}' lost its action while the engine worked: try again")
            return {"CANCELLED"}
        if req.kind == "ask":
            action[PROP_QUESTION], action[PROP_ANSWER] = self.question.strip(), req.text
        else:
            action[PROP_CAPTION] = req.text
        self.report({"INFO"}, req.text)
        return {"FINISHED"}


class TDMM_OT_caption(_Describe, bpy.types.Operator):
    """Describe the selected head's animation in words (stored on its action)"""
    bl_idname = "tdmm.caption"
    bl_label = "Caption"


class TDMM_OT_ask(_Describe, bpy.types.Operator):
    """Ask a question about the selected head's animation (the answer is stored on its action)"""
    bl_idname = "tdmm.ask"
    bl_label = "Ask"

    def _send(self, context):
        if not (self.question.strip() or context.scene.tdmm_engine.question.strip()):
            self.report({"ERROR"}, "Question is empty: type a question in the panel, e.g. \"does she blink?\"")
            return None
        self.question = self.question.strip() or context.scene.tdmm_engine.question.strip()
        return super()._send(context)


def setup_hint(context) -> str | None:
    """Where neither Blender's Python has torch nor an Engine Python is set, say how to get one.
    find_spec looks for torch without importing it (cached by the import system)."""
    from importlib.util import find_spec
    addon = context.preferences.addons.get(ADDON)
    if addon and addon.preferences and addon.preferences.python_path:
        return None
    try:
        found = find_spec("torch") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return ("This build has no torch: set 'Engine Python' in Preferences > Add-ons > TDMM to a Python "
                "with torch, or install the extension zip built --with-torch")
    return None


def state_text() -> str:
    """The engine's state for the panel: not started / starting / ready / working: ... / error: ..."""
    from . import engine_client
    c = engine_client.peek()
    return c.state_text() if c is not None else "not started"


CLASSES = (TDMM_AddonPreferences, TDMM_PG_engine, TDMM_OT_generate, TDMM_OT_caption, TDMM_OT_ask)
_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register()
    bpy.types.Scene.tdmm_engine = PointerProperty(type=TDMM_PG_engine)


def unregister():
    from . import engine_client
    engine_client.stop_client()              # the worker never outlives the add-on
    del bpy.types.Scene.tdmm_engine
    _unregister()

