"""Batch Bake: a list of prompts becomes a library of actions on the selected head.

The list is a .txt file (one prompt per line), a .csv file (prompt, seconds, seed per line) or
a Blender Text datablock (read as CSV when its name ends in .csv); engine/prompt_list.py
parses all three, the same way `tdmm bake` does. Bad lines are reported with their line
numbers and skipped; the good ones are baked, one action per prompt, named from the prompt.

The prompts go to the engine worker in batches (one Engine.generate call per run of lines
with the same seconds (each line its own seed), at most BATCH prompts), one request at a time, and each
batch's actions are written as soon as it comes back. From the UI the operator is modal on a
window timer: the panel and the status bar show the progress, Blender stays responsive, Esc
cancels, and the actions finished before the cancel are kept (and undone together with one
Ctrl+Z). From scripts and background mode execute() runs the whole list and waits.
"""
from __future__ import annotations

import math

import bpy
from bpy.props import FloatProperty, IntProperty, PointerProperty, StringProperty

from .engine_ops import WAIT_S, client, go_modal
from .operators import _active_head, _head_poll

BATCH = 16                          # prompts per engine request: batched, yet progress and Esc stay prompt
MAX_REPORTED = 20                   # bad lines reported one by one; the rest are counted

_running: BatchRun | None = None    # the batch the panel shows (one at a time per session)


def write_baked(arm, entry, clip, scene, frame_start: float = 1):
    """Key one baked prompt as a new action named from it; returns keys.write_clip's result. The
    action keeps a fake user, so later bakes (which assign their own action) never orphan it."""
    from . import keys
    from ._deps import engine
    result = keys.write_clip(arm, clip, name=engine.prompt_list.action_name(entry.prompt),
                             frame_start=frame_start, scene=scene)
    act = result.action
    act.use_fake_user = True
    act["tdmm_prompt"] = entry.prompt
    act["tdmm_seed"] = int(entry.seed)
    act["tdmm_line"] = int(entry.line)
    return result


class BatchRun:
    """One batch on one head: send a request, apply its clips, send the next. step() does a
    little of that and returns at once (the modal timer calls it); run() goes to the end."""

    def __init__(self, client, arm_name: str, entries, guidance: float, scene, source: str):
        from ._deps import engine
        self.client, self.arm_name, self.guidance, self.source = client, arm_name, guidance, source
        self.scene_name, self.frame_start = scene.name, scene.frame_start
        # clips made at the scene's frame rate key whole frames: a 4 s prompt is 96 frames at 24 fps
        self.fps = scene.render.fps / scene.render.fps_base
        self.todo = engine.prompt_list.batches(list(entries), BATCH)
        self.total = len(entries)
        self.actions: list[str] = []
        self.error: str | None = None
        self.cancelled = False
        self.req = None
        self.warnings: list[str] = []
        self._stop = False
        self.problems: list[str] = []       # the list's bad lines (skipped), for the panel and scripts

    @property
    def finished(self) -> bool:
        return self.error is not None or self.cancelled or (not self.todo and self.req is None)

    def progress(self) -> str:
        return f"{len(self.actions)}/{self.total} prompts"

    def step(self) -> None:
        if self.finished:
            return
        if self.req is None:
            batch = self.todo[0]
            try:
                self.req = self.client.submit("generate", {
                    "prompts": [e.prompt for e in batch], "seconds": batch[0].seconds, "seed": [e.seed for e in batch],
                    "guidance": self.guidance, "fps": self.fps})
            except OSError as e:                        # the engine's Python is gone or cannot start
                self.error = str(e)
                return
        self.client.poll()
        if not self.req.done:
            return
        req, self.req = self.req, None
        if req.cancelled:
            self.cancelled = True
            return
        if req.error:
            self.error = req.error
            return
        self.warnings += [w for w in req.warnings if w not in self.warnings]
        self._apply(self.todo.pop(0), req.clips)
        # A cancel that came after the worker had finished this batch: keep it, stop here.
        self.cancelled = self._stop and self.error is None and bool(self.todo)

    def _apply(self, batch, clips) -> None:
        from . import keys
        arm, scene = bpy.data.objects.get(self.arm_name), bpy.data.scenes.get(self.scene_name)
        if arm is None or scene is None:
            self.error = f"the head '{self.arm_name}' or its scene was deleted during the batch"
            return
        for entry, clip in zip(batch, clips):
            try:
                result = write_baked(arm, entry, clip, scene, self.frame_start)
            except (keys.KeysError, ValueError) as e:         # not a head any more; a clip that fails validation
                self.error = str(e)
                return
            result.action["tdmm_batch"] = self.source
            self.actions.append(result.action.name)
            scene.frame_end = max(scene.frame_end, math.ceil(result.frame_range[1]))

    def cancel(self) -> None:
        """Stop after the request in flight (its result is dropped if the worker had not finished
        it yet); finished actions stay."""
        self._stop = True
        if self.req is not None:
            self.client.cancel(self.req)
        else:
            self.cancelled = bool(self.todo)

    def run(self, timeout: float = WAIT_S) -> None:
        while not self.finished:
            self.step()
            if self.req is not None:
                self.client.wait(self.req, timeout)


class TDMM_PG_batch(bpy.types.PropertyGroup):
    """The panel's Batch Bake fields (saved with the scene)."""
    filepath: StringProperty(name="Prompt File", subtype="FILE_PATH", default="",
                             description="A .txt file (one prompt per line) or .csv file (prompt, seconds, seed)")
    text: PointerProperty(name="Text", type=bpy.types.Text,
                          description="A Text datablock with the list instead of a file (a name ending in .csv "
                                      "is read as CSV)")


class TDMM_OT_batch_bake(bpy.types.Operator):
    """Bake every prompt of a list (.txt, .csv or a Text datablock) into its own action on the selected head"""
    bl_idname = "tdmm.batch_bake"
    bl_label = "Batch Bake"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Prompt File", subtype="FILE_PATH", default="",
                             description="Empty = the panel's text or file")
    text: StringProperty(name="Text", default="", description="Name of a Text datablock; wins over the file")
    seconds: FloatProperty(name="Seconds", default=-1.0,
                           description="Duration of lines that give none (negative = the panel's)")
    seed: IntProperty(name="Seed", default=-1, description="Seed of lines that give none (negative = the panel's)")

    @classmethod
    def poll(cls, context):
        if _running is not None and not _running.finished:
            cls.poll_message_set("A batch is already running (Esc in the viewport cancels it)")
            return False
        return _head_poll(cls, context)

    # -- reading the list ------------------------------------------------------------------------
    def _read(self, context):
        """(entries, source) after reporting bad lines, or None after an error report."""
        from ._deps import engine
        pl = engine.prompt_list
        s, b = context.scene.tdmm_engine, context.scene.tdmm_batch
        seconds = self.seconds if self.seconds >= 0 else s.seconds
        seed = self.seed if self.seed >= 0 else s.seed
        text_name = self.text or (b.text.name if b.text and not self.filepath else "")
        try:
            if text_name:
                text = bpy.data.texts.get(text_name)
                if text is None:
                    self.report({"ERROR"}, f"There is no Text named '{text_name}': pick one in the panel")
                    return None
                source = f"Text '{text.name}'"
                plist = pl.parse_prompts(text.as_string(), pl.kind_of(text.name), source, seconds, seed)
            else:
                raw = self.filepath or b.filepath
                if not raw:
                    self.report({"ERROR"}, "No prompt list: choose a .txt/.csv file or a Text in the Batch Bake panel")
                    return None
                path = bpy.path.abspath(raw)
                plist = pl.read_prompt_file(path, seconds, seed)
                source = path
        except (engine.errors.InputError, OSError) as e:
            self.report({"ERROR"}, str(e))
            return None
        for p in plist.problems[:MAX_REPORTED]:
            self.report({"WARNING"}, f"{p} (line skipped)")
        if len(plist.problems) > MAX_REPORTED:
            self.report({"WARNING"}, f"... and {len(plist.problems) - MAX_REPORTED} more bad lines, skipped")
        if not plist.entries:
            self.report({"ERROR"}, f"{source} has no prompt to bake: write one prompt per line (.txt) or "
                                   "prompt, seconds, seed (.csv)")
            return None
        self._problems = plist.problems
        return plist.entries, source

    def _begin(self, context):
        global _running
        got = self._read(context)
        if got is None:
            return None
        entries, source = got
        try:
            c = client(context)
        except OSError as e:
            self.report({"ERROR"}, str(e))
            return None
        _running = BatchRun(c, _active_head(context)[0].name, entries, context.scene.tdmm_engine.guidance,
                            context.scene, source)
        _running.problems = list(self._problems)
        return _running

    def _end(self, context, run):
        for w in run.warnings:
            self.report({"WARNING"}, w)
        done = f"{len(run.actions)} of {run.total} prompt(s) baked"
        skipped = f"; {len(run.problems)} bad line(s) skipped" if run.problems else ""
        if run.error:
            self.report({"ERROR"}, f"Batch Bake stopped, {done}{skipped}: {run.error}")
        elif run.cancelled:
            self.report({"WARNING"}, f"Batch Bake cancelled, {done} (kept){skipped}")
        else:
            self.report({"INFO"}, f"Batch Bake: {done}{skipped}")
        # Finished actions are kept even on cancel or error: FINISHED puts them on the undo stack.
        return {"FINISHED"} if run.actions else {"CANCELLED"}

    # -- running -----------------------------------------------------------------------------------
    def execute(self, context):
        run = self._begin(context)
        if run is None:
            return {"CANCELLED"}
        run.run()
        return self._end(context, run)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        run = self._begin(context)
        if run is None:
            return {"CANCELLED"}
        self._run = run
        context.window_manager.progress_begin(0, max(1, run.total))
        return go_modal(self, context, f"Batch Bake: {run.total} prompt(s) (Esc cancels)")

    def modal(self, context, event):
        run = self._run
        if event.type == "ESC" and event.value == "PRESS":
            run.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        run.step()
        wm = context.window_manager
        wm.progress_update(len(run.actions))
        if context.workspace:
            context.workspace.status_text_set(f"TDMM Batch Bake: {run.progress()} (Esc cancels)")
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()
        if not run.finished:
            return {"PASS_THROUGH"}
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
        return self._end(context, run)


def progress_text() -> str | None:
    """What the panel shows while a batch runs."""
    if _running is None or _running.finished:
        return None
    return f"Baking {_running.progress()}"


CLASSES = (TDMM_PG_batch, TDMM_OT_batch_bake)
_register, _unregister = bpy.utils.register_classes_factory(CLASSES)


def register():
    _register()
    bpy.types.Scene.tdmm_batch = PointerProperty(type=TDMM_PG_batch)


def unregister():
    global _running
    _running = None
    del bpy.types.Scene.tdmm_batch
    _unregister()
