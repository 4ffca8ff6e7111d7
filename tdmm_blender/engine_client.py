"""The add-on's side of the engine worker: start it, send requests, collect replies. No bpy, no torch.

    c = get_client()                       # one per Blender session; nothing starts yet
    req = c.submit("generate", {"prompts": ["a shy smile"], "seconds": 4, "seed": 3})
    c.poll()                               # from the main thread (a timer or a modal operator)
    if req.done: req.clips / req.text / req.error

The worker (engine/worker.py) runs with Blender's own Python, which sees the extension's
unpacked wheels through the site-packages folders on our sys.path, or with the Python the
user chose in the add-on's preferences (their own environment with torch, a GPU ...), which
gets only the engine's folder. Two threads per worker move bytes, so the main thread never
waits on a pipe: a writer sends queued requests, a reader turns replies into messages on a
queue. Only poll(), on the main thread, reads that queue and changes requests, so the
operators that apply the results (touching Blender data) never race a thread.

A worker that dies (a crash in model code, a kill) fails its pending requests with a clear
error that quotes the last line of its log; the next submit starts a new one. stop() ends it:
the add-on calls it on unregister, and atexit at Blender's exit. The worker also exits by
itself when its stdin closes, so even a killed Blender leaves no worker behind.
"""
from __future__ import annotations

import atexit
import itertools
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ._deps import engine

protocol = engine.protocol
FINAL = ("clips", "text", "error", "cancelled", "pong")


class Request:
    """One request and, once `done`, its answer: clips, text or error (a one-line message)."""

    def __init__(self, rid: int, kind: str):
        self.id, self.kind = rid, kind
        self.stage = "queued"
        self.done = False
        self.clips = None
        self.text = None
        self.error: str | None = None
        self.cancelled = False
        self.warnings: list[str] = []
        self.info: dict = {}


class EngineClient:
    def __init__(self, python: str | None = None):
        self.python = python or None           # None: Blender's own Python (sys.executable)
        self.proc: subprocess.Popen | None = None
        self.status = "not started"            # starting, ready, or "error: <why>"
        self.starts = 0
        self.info: dict = {}
        self.log_path = Path(tempfile.gettempdir()) / f"tdmm-worker-{os.getpid()}.log"
        self._log_start = 0
        self._replies: queue.Queue = queue.Queue()
        self._outbox: queue.Queue | None = None
        self._pending: dict[int, Request] = {}
        self._ids = itertools.count(1)
        self._fatal: str | None = None

    # -- the worker process -------------------------------------------------------------------
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def set_python(self, python: str | None) -> None:
        """Use another interpreter from the next start on (a running worker is stopped)."""
        if (python or None) != self.python:
            self.stop()
            self.python = python or None

    def command(self) -> tuple[list[str], dict]:
        """The worker's command line and environment."""
        root = Path(engine.__file__).resolve().parent.parent      # the folder holding `engine`
        paths = [str(root)]
        if self.python is None:
            # Blender's Python does not see the extension's wheels by itself: Blender adds their
            # folder (extensions/.local/lib/pythonX.Y/site-packages) to its own sys.path only.
            paths += [p for p in sys.path if p and "-packages" in Path(p).name and os.path.isdir(p)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
        return [self.python or sys.executable, "-m", "engine.worker"], env

    def start(self) -> None:
        if self.running():
            return
        python = self.python or sys.executable
        if self.python and not os.path.isfile(self.python):
            raise FileNotFoundError(f"Engine Python {self.python} does not exist: fix the path in Preferences > "
                                    "Add-ons > TDMM, or clear it to use Blender's own Python")
        cmd, env = self.command()
        log = open(self.log_path, "ab")
        self._log_start = log.tell()
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         env=env, cwd=tempfile.gettempdir(),
                                         creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as e:
            raise OSError(f"Engine Python {python} cannot be started ({e.strerror or e}): check the path in "
                          "Preferences > Add-ons > TDMM") from None
        finally:
            log.close()
        self.starts += 1
        self.status, self.info, self._fatal = "starting", {}, None
        self._outbox = queue.Queue()
        threading.Thread(target=_read_replies, args=(self.proc, self._replies), daemon=True).start()
        threading.Thread(target=_write_requests, args=(self.proc, self._outbox), daemon=True).start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the worker to quit, then kill it if it does not. Pending requests are failed."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if self._outbox is not None:
                self._outbox.put(None)                  # the writer sends quit and closes stdin
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stdin):
                try:
                    stream.close()
                except OSError:
                    pass
        self._fail_pending("the engine was stopped")
        self.status = "not started"

    # -- requests -----------------------------------------------------------------------------
    def submit(self, kind: str, fields: dict | None = None, clip=None, near: dict | None = None) -> Request:
        """Queue a request (starting the worker when none runs). `clip` goes with caption/ask;
        `near` ({"continue_from": clip, "until": clip}, either or both) with generate."""
        if not self.running():
            self.poll()                                 # collect the old worker's last words first
            self.proc = None
            self.start()
        req = Request(next(self._ids), kind)
        header, arrays = {"type": kind, "id": req.id, **(fields or {})}, {}
        if clip is not None:
            (header["clip"],), arrays = protocol.pack_clips([clip])
        for name, c in (near or {}).items():
            # the worker reads them as unpack_clips([header[name]], arrays, prefix=name)
            (header[name],), more = protocol.pack_clips([c], prefix=name)
            arrays.update(more)
        self._pending[req.id] = req
        self._outbox.put((header, arrays))
        return req

    def cancel(self, req: Request) -> None:
        if not req.done and self.running():
            self._outbox.put(({"type": "cancel", "id": req.id}, {}))

    def poll(self) -> list[Request]:
        """Apply every reply that has arrived; returns the requests that finished. Main thread only."""
        finished = []
        while True:
            try:
                proc, msg = self._replies.get_nowait()
            except queue.Empty:
                return finished
            if proc is not self.proc and msg is not None:
                continue                                # a stopped worker's leftovers
            if msg is None:
                if proc is self.proc:
                    finished += self._worker_died(proc)
                continue
            header, arrays = msg
            kind = header["type"]
            if kind == "ready":
                self.status, self.info = "ready", header
            elif kind == "fatal":
                self._fatal = header.get("message", "the engine could not start")
            req = self._pending.get(header.get("id"))
            if req is None:
                continue
            if kind == "progress":
                req.stage = header.get("stage", "working")
            elif kind in FINAL:
                self._pending.pop(req.id)
                req.done, req.stage, req.warnings = True, "done", list(header.get("warnings", []))
                if kind == "clips":
                    try:
                        req.clips = protocol.unpack_clips(header.get("clips"), arrays)
                    except (protocol.ProtocolError, ValueError) as e:
                        req.error = f"the engine sent a clip that cannot be used ({e})"
                elif kind == "text":
                    req.text = str(header.get("text", ""))
                elif kind == "error":
                    req.error = header.get("message") or "the engine failed without saying why"
                    if header.get("kind") == "internal":
                        req.error += f" (details in {self.log_path})"
                elif kind == "cancelled":
                    req.cancelled, req.error = True, "cancelled"
                else:
                    req.info = header
                finished.append(req)

    def wait(self, req: Request, timeout: float = 600.0) -> Request:
        """Block until `req` is done (scripts, background mode); the UI uses poll() instead."""
        end = time.monotonic() + timeout
        while not req.done:
            self.poll()
            if req.done:
                break
            if time.monotonic() > end:
                self.cancel(req)
                self._pending.pop(req.id, None)
                req.done, req.error = True, f"the engine gave no answer in {timeout:g} s"
                break
            time.sleep(0.005)
        return req

    def busy(self) -> Request | None:
        """The oldest unfinished request, if any (what the panel shows)."""
        return next(iter(self._pending.values()), None)

    def state_text(self) -> str:
        if self.status == "ready" and self._pending:
            return f"working: {self.busy().stage}"
        return self.status

    # -- a worker that went away ---------------------------------------------------------------
    def _worker_died(self, proc) -> list[Request]:
        try:
            rc = proc.wait(2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        self.proc = None
        if self._fatal:
            why = self._fatal
        else:
            last = self.log_tail()
            why = (f"the engine stopped unexpectedly (exit code {rc})" + (f": {last}" if last else "")
                   + "; it restarts on the next request")
        self.status = f"error: {why}"
        return self._fail_pending(why)

    def _fail_pending(self, why: str) -> list[Request]:
        failed = list(self._pending.values())
        for req in failed:
            req.done, req.error, req.stage = True, why, "failed"
        self._pending.clear()
        return failed

    def log_tail(self) -> str:
        """The last non-empty line the current worker wrote to its log."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._log_start)
                lines = [ln.strip() for ln in fh.read()[-4000:].decode("utf-8", "replace").splitlines()]
        except OSError:
            return ""
        return next((ln for ln in reversed(lines) if ln), "")


def _read_replies(proc, replies: queue.Queue) -> None:
    """Reader thread: every message of `proc`, then None when its stdout ends."""
    try:
        while (msg := protocol.read_message(proc.stdout)) is not None:
            replies.put((proc, msg))
    except (protocol.ProtocolError, OSError, ValueError):
        pass
    replies.put((proc, None))


def _write_requests(proc, outbox: queue.Queue) -> None:
    """Writer thread: queued requests to `proc`'s stdin; None sends quit and closes it."""
    try:
        while (item := outbox.get()) is not None:
            protocol.write_message(proc.stdin, *item)
        protocol.write_message(proc.stdin, {"type": "quit"})
        proc.stdin.close()
    except (OSError, ValueError):
        pass                                            # the worker is gone; the reader reports it


# -- one client per Blender session ---------------------------------------------------------------
_client: EngineClient | None = None


def get_client() -> EngineClient:
    global _client
    if _client is None:
        _client = EngineClient()
        atexit.register(stop_client)
    return _client


def peek() -> EngineClient | None:
    """The client if one exists (the panel shows its state without creating one)."""
    return _client


def stop_client() -> None:
    if _client is not None:
        _client.stop()
