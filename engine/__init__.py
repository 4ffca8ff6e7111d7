"""Inference engine: pure numpy + torch, no bpy, imports nothing else of ours.

Modules import lazily (torch is heavy; Blender's UI only needs numpy parts).
"""
__version__ = "0.1.0"
