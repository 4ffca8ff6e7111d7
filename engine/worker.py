"""The engine worker: runs `Engine` in its own process and answers requests over stdin/stdout.

    python -m engine.worker          # with engine's parent folder on PYTHONPATH

The Blender add-on starts it (tdmm_blender/engine_client.py) so that torch never loads into
Blender, a long generation never blocks Blender's UI and a crash in model code only ends this
process. Messages are `engine/protocol.py` frames. Requests and their replies:

    generate {id, prompts, seconds, seed, variations, guidance, ...} [+ continue_from / until clip]
                                          -> progress*, then clips {id, clips, warnings} + arrays
    caption {id} + clip                   -> progress*, then text {id, text, warnings}
    ask {id, question} + clip             -> progress*, then text {id, text, warnings}
    cancel {id}                           -> the request's reply becomes cancelled {id}
    ping {id}                             -> pong {id, loaded, pid}
    quit                                  -> the worker exits

Any request can instead be answered error {id, kind, message}: kind "input" carries an
InputError's message verbatim (it already names the input and what to do), "failed" a
ValueError, RuntimeError or OSError, "internal" anything else (a bug: the traceback goes to
stderr, which the add-on keeps in a log file). On start the worker says ready {pid, python,
torch}, or fatal {message} when torch cannot be imported, and exits.

Requests run one at a time in arrival order. A cancel cannot stop a generation that is
already running (the model call is not interruptible), so its result is dropped instead;
queued requests that were cancelled are skipped. When stdin closes (Blender quit or was
killed) the worker exits at once, so it never outlives the add-on that started it.
"""
from __future__ import annotations

import os
import queue
import sys
import threading
import traceback
import warnings

from . import protocol
from .errors import InputError

GENERATE_KEYS = ("seconds", "seed", "variations", "guidance", "temperature", "top_k", "top_p", "fps")


class Worker:
    def __init__(self, out_stream, engine=None):
        self.out = out_stream
        self.engine = engine
        self.requests: queue.Queue = queue.Queue()
        self.cancelled: set = set()
        self._lock = threading.Lock()            # the reader thread also replies (to pings while busy)

    def send(self, header: dict, arrays=None) -> None:
        with self._lock:
            protocol.write_message(self.out, header, arrays)

    # -- the reader thread: requests in, cancels noted at once -----------------------------------
    def read_requests(self, in_stream) -> None:
        try:
            while True:
                msg = protocol.read_message(in_stream)
                if msg is None or msg[0]["type"] == "quit":
                    break
                if msg[0]["type"] == "cancel":
                    self.cancelled.add(msg[0].get("id"))
                elif msg[0]["type"] == "ping":       # answered at once, even during a long generation
                    self.send({"type": "pong", "id": msg[0].get("id"), "loaded": self.engine.loaded(),
                               "pid": os.getpid()})
                else:
                    self.requests.put(msg)
        except protocol.ProtocolError as e:
            print(f"tdmm worker: {e}; stopping", file=sys.stderr)
        # Nobody is listening any more: stop now, even in the middle of a model call.
        sys.stderr.flush()
        os._exit(0)

    # -- the main thread: one request at a time ------------------------------------------------------
    def serve(self) -> None:
        while True:
            header, arrays = self.requests.get()
            rid = header.get("id")
            if rid in self.cancelled:
                self.send({"type": "cancelled", "id": rid})
                continue
            try:
                reply, out_arrays = self.handle(header, arrays)
            except InputError as e:
                reply, out_arrays = {"type": "error", "kind": "input", "message": str(e)}, None
            except (ValueError, RuntimeError, OSError) as e:
                traceback.print_exc()
                reply, out_arrays = {"type": "error", "kind": "failed", "message": str(e)}, None
            except Exception as e:                      # a bug of ours: never take the worker down for it
                traceback.print_exc()
                reply, out_arrays = {"type": "error", "kind": "internal",
                                     "message": f"internal error in the engine ({type(e).__name__}: {e})"}, None
            if rid in self.cancelled:
                reply, out_arrays = {"type": "cancelled"}, None
            self.send({**reply, "id": rid}, out_arrays)
            sys.stderr.flush()

    def handle(self, header: dict, arrays: dict):
        kind, rid = header["type"], header.get("id")
        if kind not in ("generate", "caption", "ask"):
            raise InputError(f"request {kind!r}", "is not one the engine worker knows",
                             "update the add-on and the engine together")
        if not any(self.engine.loaded().values()):
            self.send({"type": "progress", "id": rid, "stage": "loading models"})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if kind == "generate":
                near = {k: protocol.unpack_clips([header[k]], arrays, k)[0] for k in ("continue_from", "until")
                        if header.get(k)}
                self.send({"type": "progress", "id": rid, "stage": "generating"})
                clips = self.engine.generate(header.get("prompts"), **{k: header[k] for k in GENERATE_KEYS
                                                                       if k in header}, **near)
                descs, out = protocol.pack_clips(clips)
                reply = {"type": "clips", "clips": descs}
            else:
                (clip,) = protocol.unpack_clips([header.get("clip")], arrays) if header.get("clip") else [None]
                if clip is None:
                    raise InputError("clip", "was not sent with the request", "select an animated head")
                self.send({"type": "progress", "id": rid, "stage": "captioning"})
                question = header.get("question") if kind == "ask" else None
                reply, out = {"type": "text", "text": self.engine.caption(clip, question=question)}, None
        reply["warnings"] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        return reply, out


def main() -> int:
    # The protocol owns the real stdout; anything else that prints (a library's banner, a
    # stray print) goes to stderr instead of corrupting the message stream.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    try:
        import torch

        from .engine import Engine
    except ImportError as e:
        protocol.write_message(out, {"type": "fatal", "message": (
            f"the Python at {sys.executable} cannot run the models ({e}): install torch there, or point "
            "the add-on at a Python with torch (Preferences > Add-ons > TDMM > Engine Python)")})
        return 1
    threads = os.environ.get("TDMM_WORKER_THREADS")
    worker = Worker(out, Engine(threads=int(threads) if threads else None))
    worker.send({"type": "ready", "pid": os.getpid(), "python": sys.executable, "torch": torch.__version__})
    threading.Thread(target=worker.read_requests, args=(sys.stdin.buffer,), daemon=True).start()
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
