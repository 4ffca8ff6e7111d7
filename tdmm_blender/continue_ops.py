"""Continue and In-between: generate next to the animator's own keys, always into NEW actions.

Continue: the last CONTEXT_S seconds of the head's animation (keys.read_clip, at the scene's
frame rate) go to the engine as `continue_from`; each variation of the continuation becomes
a new action that starts on the frame after the last key. The action it continues is
un-assigned but kept, untouched, with a fake user (keys.write_clip).

In-between: two key poses of the animator's, at frames From and To, and a prompt for what
happens between them. The motion up to From and from To on go to the engine as
`continue_from` and `until`; the bridge it makes (exactly the frames From+1 ... To-1) is spliced
into a COPY of the head's action (splice.py), so the new action plays the animator's keys
outside the range, the bridge inside, and hits both key poses exactly. The original action
is kept, untouched. The range is the operator's From/To, else the scene's preview range,
else the span of the selected keys.

Both run through the engine worker like Generate (engine_ops._EngineRequest): modal with Esc
to cancel from the UI, blocking from scripts and background mode.
"""
from __future__ import annotations

import math

import bpy
from bpy.props import IntProperty

from .engine_ops import _EngineRequest, _GenerateSettings
from .operators import _active_head, _head_poll

# Seconds of the animator's motion sent as context: the generator reads its last 8 code
# positions (1.28 s at 25 fps) and the decoder matches the seam to the very last frame.
CONTEXT_S = 1.5
MIN_CONTEXT_FRAMES = 4            # engine/engine.py's minimum (importing it would load torch)
RANGE_HINT = ("set the preview range (Timeline > View > Frame Range > Set Preview Range) from one key pose to the "
              "other, or select the keys of both poses in the Dope Sheet")


def _context_frames(fps: float) -> int:
    return max(MIN_CONTEXT_FRAMES, int(round(CONTEXT_S * fps)))


def _read(arm, fps, first, last, scene):
    """The head's motion on frames first..last, one sample per scene frame. Frames before the
    first key or after the last read as Blender plays them (held), so short actions still
    give the engine enough context."""
    from . import keys
    return keys.read_clip(arm, fps=fps, frame_range=(first, last), scene=scene)


class _NextToKeys(_GenerateSettings, _EngineRequest):
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not _head_poll(cls, context):
            return False
        arm = _active_head(context)[0]
        if arm.animation_data is None or arm.animation_data.action is None:
            mesh_key = _active_head(context)[1].data.shape_keys
            if mesh_key is None or mesh_key.animation_data is None or mesh_key.animation_data.action is None:
                cls.poll_message_set("The head has no action: generate or key one first")
                return False
        return True

    def _head(self, context):
        arm = _active_head(context)[0]
        self._arm_name = arm.name
        return arm

    def _arm_or_report(self):
        arm = bpy.data.objects.get(self._arm_name)
        if arm is None:
            self.report({"ERROR"}, f"The head '{self._arm_name}' was deleted while the engine worked: try again")
        return arm


class TDMM_OT_continue(_NextToKeys, bpy.types.Operator):
    """Carry the head's animation on from its last key: each variation becomes a new action that starts
    where the current one ends (the current action is kept, untouched)"""
    bl_idname = "tdmm.continue_action"
    bl_label = "Continue"

    def _send(self, context):
        from . import keys
        arm, scene = self._head(context), context.scene
        fps = keys.scene_fps(scene)
        try:
            _first, last = keys.key_span(arm)
            before = _read(arm, fps, last - (_context_frames(fps) - 1), last, scene)
        except (keys.KeysError, ValueError) as e:
            self.report({"ERROR"}, str(e))
            return None
        self._start = last + 1
        self._source = list(before.meta["actions"])
        self._hold = before.transl[-1].copy()
        self._fields = {**self._settings(context), "fps": fps}
        return self._client.submit("generate", self._fields, near={"continue_from": before})

    def _apply(self, context, req):
        from . import keys
        arm = self._arm_or_report()
        if arm is None:
            return {"CANCELLED"}
        scene, prompt, names = context.scene, self._fields["prompts"][0], []
        for v, clip in enumerate(req.clips):
            clip.transl[:] = self._hold          # the model makes no root translation: stay where the keys end
            title = f"{prompt[:36]} (cont.)" + (f" v{v}" if len(req.clips) > 1 else "")
            try:
                result = keys.write_clip(arm, clip, name=title, frame_start=self._start, scene=scene)
            except (keys.KeysError, ValueError) as e:
                self.report({"ERROR"}, str(e))
                return {"CANCELLED"}
            result.action["tdmm_seed"] = int(clip.meta.get("generator", {}).get("seed", self._fields["seed"]))
            result.action["tdmm_continues"] = self._source
            names.append(result.action.name)
        scene.frame_end = max(scene.frame_end, math.ceil(result.frame_range[1]))
        self.report({"INFO"}, f"Continued {', '.join(self._source)} from frame {self._start:g} with "
                              f"{len(names)} new action(s): {', '.join(names)} (the original is kept unchanged)")
        return {"FINISHED"}


class TDMM_OT_inbetween(_NextToKeys, bpy.types.Operator):
    """Fill the frames between two of your key poses from a prompt, into a new action that keeps your keys
    outside the range and hits both poses (your action is kept, untouched)"""
    bl_idname = "tdmm.inbetween"
    bl_label = "In-between"

    frame_from: IntProperty(name="From", default=0,
                            description="Frame of the key pose before the gap (From = To: the preview range, "
                                        "else the selected keys)")
    frame_to: IntProperty(name="To", default=0, description="Frame of the key pose after the gap")

    def _range(self, context, arm):
        from . import splice
        scene = context.scene
        if self.frame_to != self.frame_from:
            return float(min(self.frame_from, self.frame_to)), float(max(self.frame_from, self.frame_to)), "From/To"
        if scene.use_preview_range:
            return float(scene.frame_preview_start), float(scene.frame_preview_end), "the preview range"
        span = splice.selected_key_span(arm)
        if span is not None:
            return span[0], span[1], "the selected keys"
        return None

    def _send(self, context):
        from . import keys
        from ._deps import engine
        arm, scene = self._head(context), context.scene
        fps = keys.scene_fps(scene)
        try:
            found = self._range(context, arm)
        except keys.KeysError as e:
            self.report({"ERROR"}, str(e))
            return None
        if found is None:
            self.report({"ERROR"}, f"In-between needs the two key poses to fill between: {RANGE_HINT}")
            return None
        a, b, where = found
        n = math.floor(b - a - 1e-4)                    # frames strictly between a and b
        seconds = n / fps
        lo, hi = engine.prompt_list.SECONDS_RANGE
        if not lo <= seconds <= hi:
            self.report({"ERROR"}, f"{where} ({a:g}-{b:g}) leaves {max(n, 0)} frame(s) = {max(seconds, 0):.2f} s "
                                   f"to fill at {fps:g} fps; In-between fills {lo:g}-{hi:g} s: {RANGE_HINT}")
            return None
        c = _context_frames(fps)
        try:
            before = _read(arm, fps, a - (c - 1), a, scene)
            after = _read(arm, fps, b, b + (c - 1), scene)
        except (keys.KeysError, ValueError) as e:
            self.report({"ERROR"}, str(e))
            return None
        from . import splice
        self._a, self._b, self._where = a, b, where
        self._source = list(before.meta["actions"])
        self._assigned = splice.assigned(arm)        # every variation copies these, not the previous copy
        self._fields = {**self._settings(context), "seconds": seconds, "fps": fps}
        return self._client.submit("generate", self._fields, near={"continue_from": before, "until": after})

    def _apply(self, context, req):
        from . import keys, splice
        arm = self._arm_or_report()
        if arm is None:
            return {"CANCELLED"}
        prompt, names = self._fields["prompts"][0], []
        base = self._source[0] if self._source else "action"
        for v, clip in enumerate(req.clips):
            title = f"{base[:24]} + {prompt[:30]}" + (f" v{v}" if len(req.clips) > 1 else "")
            try:
                result = splice.splice_clip(arm, clip, self._a, self._b, name=title, sources=self._assigned)
            except (keys.KeysError, ValueError) as e:
                self.report({"ERROR"}, str(e))
                return {"CANCELLED"}
            result.action["tdmm_seed"] = int(clip.meta.get("generator", {}).get("seed", self._fields["seed"]))
            result.action["tdmm_prompt"] = prompt
            names.append(result.action.name)
        self.report({"INFO"}, f"Filled frames {self._a + 1:g}-{self._b - 1:g} ({self._where}) into {len(names)} "
                              f"new action(s): {', '.join(names)} ({', '.join(self._source)} kept unchanged)")
        return {"FINISHED"}


CLASSES = (TDMM_OT_continue, TDMM_OT_inbetween)
register, unregister = bpy.utils.register_classes_factory(CLASSES)
