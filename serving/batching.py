"""Request batching (`--enable_batching`): concurrent runs of the same version and signature merge into one.

Like TF Serving's shared batch scheduler: each (servable, signature, input layout) has a queue; a batch thread
takes the oldest queue whose batch is full or whose first task has waited `batch_timeout_micros`, concatenates
the tasks' inputs along dimension 0 (padded up to the next `allowed_batch_sizes` entry by repeating the last
row), runs the model once and hands each task its rows back, in order. Unlike TF Serving, when the merged run
fails each task is run again alone, so one bad request fails alone instead of failing its neighbours.
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

from serving.batching_config import BatchingOptions
from serving.errors import InvalidArgument, ServingError

log = logging.getLogger("serving.batching")


class Unavailable(ServingError):
    code = "UNAVAILABLE"


@dataclass
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


@dataclass
class _Queue:
    servable: Any
    signature_name: str
    tasks: deque = field(default_factory=deque)
    size: int = 0  # rows waiting
    first_at: float = 0.0


def batch_size_of(inputs: Mapping[str, np.ndarray]) -> Optional[int]:
    """The common dimension 0 of every input, or None when the inputs cannot be batched (scalars, mismatch)."""
    sizes = {a.shape[0] if isinstance(a, np.ndarray) and a.ndim else None for a in inputs.values()}
    size = sizes.pop() if len(sizes) == 1 else None
    return size if size else None


class Batcher:
    def __init__(self, options: BatchingOptions):
        self.options = options
        self._queues: dict[tuple, _Queue] = {}
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"batch-{i}", daemon=True)
                         for i in range(options.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    # ---- producers ------------------------------------------------------------------------------------
    def submit(self, servable, signature_name: str, inputs: Mapping[str, np.ndarray]) -> concurrent.futures.Future:
        """A future for this task's outputs. Tasks that cannot be batched run alone (still on a batch thread)."""
        size = batch_size_of(inputs) or 1
        if size > self.options.max_batch_size:
            raise InvalidArgument(f"Task size {size} is larger than maximum input batch size "
                                  f"{self.options.max_batch_size}")
        key = (id(servable), signature_name, self._layout(inputs))
        task = _Task(inputs, size)
        with self._ready:
            queue = self._queues.get(key)
            if queue is None or queue.servable is not servable:
                queue = self._queues[key] = _Queue(servable, signature_name)
            pending = -(-(queue.size + size) // self.options.max_batch_size)
            if pending > self.options.max_enqueued_batches:
                raise Unavailable("The batch scheduling queue to which this task was submitted is full")
            if not queue.tasks:
                queue.first_at = time.monotonic()
            queue.tasks.append(task)
            queue.size += size
            self._ready.notify()
        return task.future

    def _layout(self, inputs: Mapping[str, np.ndarray]) -> tuple:
        """What must match for tasks to share a batch: names, dtypes and (unless padding) the non-batch shape."""
        if batch_size_of(inputs) is None:
            return ("alone", id(inputs))  # a key of its own: never merged
        pad = self.options.pad_variable_length_inputs
        return tuple((name, array.dtype.str, array.ndim if pad else array.shape[1:])
                     for name, array in sorted(inputs.items()))

    # ---- batch threads --------------------------------------------------------------------------------
    def _next_batch(self) -> Optional[tuple[_Queue, list[_Task]]]:
        timeout = self.options.batch_timeout_micros / 1e6
        with self._ready:
            while not self._closed:
                now, wait = time.monotonic(), None
                for key, queue in list(self._queues.items()):
                    if not queue.tasks:
                        del self._queues[key]
                        continue
                    due = queue.first_at + timeout
                    if queue.size >= self.options.max_batch_size or now >= due:
                        return queue, self._take(queue)
                    wait = due - now if wait is None else min(wait, due - now)
                self._ready.wait(wait)
        return None

    def _take(self, queue: _Queue) -> list[_Task]:
        taken, rows = [], 0
        while queue.tasks and rows + queue.tasks[0].size <= self.options.max_batch_size:
            task = queue.tasks.popleft()
            queue.size -= task.size
            if task.future.set_running_or_notify_cancel():  # skip tasks whose request already gave up
                taken.append(task)
                rows += task.size
        queue.first_at = time.monotonic()
        return taken

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            queue, tasks = batch
            if tasks:
                self._run(queue, tasks)
            del batch, queue, tasks  # an idle thread must not keep the last batch's tensors and results alive

    def _run(self, queue: _Queue, tasks: list[_Task]) -> None:
        if len(tasks) > 1:
            try:
                outputs = self._run_merged(queue, tasks)
            except Exception as exc:  # rerun one by one below, so only the bad request fails
                log.debug("merged batch of %d tasks failed (%s); running them one by one", len(tasks), exc)
            else:
                for task, result in zip(tasks, outputs):
                    task.future.set_result(result)
                return
        # Popped one by one: a failed task's traceback keeps this frame alive (frame.f_back), and with it
        # whatever this frame still references.
        while tasks:
            _run_alone(queue.servable, queue.signature_name, tasks.pop(0))

    def _run_merged(self, queue: _Queue, tasks: list[_Task]) -> list[dict]:
        rows = sum(task.size for task in tasks)
        target = next((s for s in self.options.allowed_batch_sizes if s >= rows), rows)
        merged = {}
        for name in tasks[0].inputs:
            parts = [task.inputs[name] for task in tasks]
            if self.options.pad_variable_length_inputs:
                parts = _pad_to_common_shape(parts)
            if target > rows:
                parts.append(np.repeat(parts[-1][-1:], target - rows, axis=0))
            merged[name] = np.concatenate(parts)
        outputs = queue.servable.run(queue.signature_name, merged)
        if any(np.ndim(v) == 0 or len(v) != target for v in outputs.values()):
            raise InvalidArgument("an output has no batch dimension matching the merged batch")
        results, start = [], 0
        for task in tasks:
            results.append({k: v[start:start + task.size] for k, v in outputs.items()})
            start += task.size
        return results

    def close(self) -> None:
        with self._ready:
            self._closed = True
            for queue in self._queues.values():
                for task in queue.tasks:
                    task.future.cancel()
            self._ready.notify_all()


def _run_alone(servable, signature_name: str, task: _Task) -> None:
    future, inputs = task.future, task.inputs
    del task
    try:
        future.set_result(servable.run(signature_name, inputs))
    except BaseException as exc:  # handed to the waiting request, which maps it to a status
        future.set_exception(exc)
    finally:
        # The exception's traceback holds this frame: without these dels the frame, the future and the
        # request's tensors would form a cycle that only a GC pass frees.
        del future, inputs


def _pad_to_common_shape(parts: list[np.ndarray]) -> list[np.ndarray]:
    """pad_variable_length_inputs: grow every dimension after the first to the largest in the batch."""
    target = np.max([p.shape for p in parts], axis=0)
    padded = []
    for part in parts:
        widths = [(0, 0)] + [(0, int(t - s)) for t, s in zip(target[1:], part.shape[1:])]
        if any(w[1] for w in widths) and part.dtype != object:
            part = np.pad(part, widths, constant_values=part.flat[0] if part.size else 0)
        elif any(w[1] for w in widths):
            raise InvalidArgument("string inputs of different shapes cannot be padded into one batch")
        padded.append(part)
    return padded
