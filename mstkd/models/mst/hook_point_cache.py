"""Hook-point caching for S2 (specialized teacher adaptation, Eq. 8-10).

In S2 the base teachers and the student are frozen and, with a
deterministic training pipeline, the teacher's computation up to each
hooked layer gives the same tensors in every epoch. A
:class:`SplitTeacher` splits the teacher's forward at its hooked layers
(by ``torch.fx`` tracing; the hooked modules are kept as leaves), and a
:class:`RowStore` keeps, per training sample, the values that cross the
cut: the hooked layer's output and anything else the rest of the network
reads (a skip connection). Specialized teacher ``j`` is then
``suffix_j(MaskNet_j(h_j), others_j)``: the MaskNet, its mask, and only the
part of the teacher after the hook. Each specialized teacher runs alone
(the paper's use of each MaskNet alone), on the un-repeated batch.

A teacher that ``torch.fx`` cannot trace (data-dependent control flow,
a hooked module called more than once, a cut value that is not a
per-sample tensor) is not split: S2 then runs it uncached, and the reason
is logged. The split is checked once against the teacher's own forward.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
from torch import Tensor


class NotSplittable(Exception):
    """The teacher cannot be split at its hooked layers (with the reason)."""


class _LeafTracer(fx.Tracer):
    """The default tracer, with the hooked modules kept as leaves (so each
    is one ``call_module`` node whose output is the hooked tensor)."""

    def __init__(self, leaves: Sequence[str]):
        super().__init__()
        self.leaves = set(leaves)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return qualname in self.leaves or super().is_leaf_module(m, qualname)


def _closure(nodes: Sequence[fx.Node], step) -> set:
    """Every node reachable from ``nodes`` by ``step`` (node -> nodes)."""
    seen, stack = set(), list(nodes)
    while stack:
        for other in step(stack.pop()):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def _descendants(node: fx.Node) -> set:
    """The nodes that read ``node``'s value, directly or not."""
    return _closure([node], lambda n: n.users)


def _ancestors(nodes: Sequence[fx.Node]) -> set:
    """``nodes`` and every node they read, directly or not."""
    return set(nodes) | _closure(nodes, lambda n: n.all_input_nodes)


class SplitTeacher:
    """A frozen teacher traced and split at its hooked layers.

    Args:
        model (nn.Module): The base teacher (its ``forward`` takes one
            argument: a tensor or a dict of tensors).
        paths (Sequence[str]): The hooked layer paths (module outputs).
        input_keys (Sequence[str], optional): The keys of a dict input, in
            the order :meth:`prefix` receives them; None for a tensor
            input.

    Raises:
        NotSplittable: When tracing fails or a hooked module is not called
            exactly once.
    """

    def __init__(self, model: nn.Module, paths: Sequence[str],
                 input_keys: Optional[Sequence[str]] = None):
        self.paths = list(paths)
        self.input_keys = None if input_keys is None else list(input_keys)
        tracer = _LeafTracer(self.paths)
        concrete = None if self.input_keys is None else {
            'inputs': {k: fx.PH for k in self.input_keys}}
        try:
            graph = tracer.trace(model, concrete_args=concrete)
        except Exception as e:  # noqa: BLE001 (any tracing failure)
            raise NotSplittable(
                f'torch.fx cannot trace {type(model).__name__}: '
                f'{type(e).__name__}: {str(e).splitlines()[0][:200]}')
        self.gm = fx.GraphModule(tracer.root, graph)
        nodes = list(self.gm.graph.nodes)
        self.placeholders = [n for n in nodes if n.op == 'placeholder']
        dynamic = set(self.placeholders) | _closure(self.placeholders,
                                                    lambda n: n.users)
        output = next(n for n in nodes if n.op == 'output')
        self.output = output
        self.hook_nodes: Dict[str, fx.Node] = {}
        self.cuts: Dict[str, List[fx.Node]] = {}
        self.suffix: Dict[str, List[fx.Node]] = {}
        for path in self.paths:
            calls = [n for n in nodes
                     if n.op == 'call_module' and n.target == path]
            if len(calls) != 1:
                raise NotSplittable(
                    f'the hooked module {path} is called {len(calls)} times '
                    'in the traced forward (a split needs exactly one call)')
            hook = calls[0]
            after = _descendants(hook)
            # values from before the cut read after it: cached per sample
            # when they depend on the inputs, recomputed when constant
            needed = [hook]
            for node in [n for n in nodes if n in after]:
                for arg in node.all_input_nodes:
                    if arg not in after and arg is not hook and \
                            arg not in needed:
                        needed.append(arg)
            static = _ancestors([a for a in needed[1:] if a not in dynamic])
            self.cuts[path] = [n for n in needed if n in dynamic]
            self.hook_nodes[path] = hook
            self.suffix[path] = [n for n in nodes
                                 if (n in after or n in static) and
                                 n.op != 'placeholder']
        cut_nodes = []
        for path in self.paths:
            cut_nodes += [n for n in self.cuts[path] if n not in cut_nodes]
        #: every value cached for this teacher (the union over its hooks)
        self.cut_nodes = cut_nodes
        self.cut_names = [n.name for n in cut_nodes]
        ancestors = _ancestors(cut_nodes)
        self.prefix_nodes = [n for n in nodes if n in ancestors and
                             n.op != 'placeholder']
        # built once: an Interpreter indexes the modules and the graph
        self._interp = fx.Interpreter(self.gm)

    # -- running parts of the graph -------------------------------------
    def _run(self, env: dict, nodes: Sequence[fx.Node]) -> dict:
        interp = self._interp
        interp.env = env
        for node in nodes:
            if node.op == 'output':
                args, _ = interp.fetch_args_kwargs_from_env(node)
                env[node] = args[0]
            else:
                env[node] = interp.run_node(node)
        return env

    def _flat_inputs(self, inputs) -> list:
        if self.input_keys is None:
            return [inputs]
        return [inputs[k] for k in self.input_keys]

    @torch.no_grad()
    def prefix(self, inputs) -> Dict[str, Tensor]:
        """The cut values (name -> ``(B, ...)`` tensor) of one batch."""
        env = dict(zip(self.placeholders, self._flat_inputs(inputs)))
        env = self._run(env, self.prefix_nodes)
        return {n.name: env[n] for n in self.cut_nodes}

    def suffix_forward(self, path: str, cut: Dict[str, Tensor],
                       masknet: Optional[nn.Module]) -> Tensor:
        """The teacher's logits from the cut values of ``path``, with
        ``masknet`` applied to the hooked output (None: unmasked)."""
        hook = self.hook_nodes[path]
        env = {n: cut[n.name] for n in self.cuts[path]}
        if masknet is not None:
            env[hook] = masknet(env[hook])
        out = self._run(env, self.suffix[path] + [self.output])[self.output]
        if isinstance(out, (list, tuple)):
            if len(out) != 1:
                raise NotSplittable(f'the teacher returns {len(out)} values,'
                                    ' not one logit tensor')
            out = out[0]
        return out

    def check(self, model: nn.Module, inputs, atol: float = 1e-5) -> dict:
        """Compare prefix + suffix with ``model``'s own forward on a batch.

        Returns:
            dict: The cut values of the batch (to size the stores).

        Raises:
            NotSplittable: If a cut value is not a per-sample tensor or a
                split forward differs from the teacher.
        """
        with torch.no_grad():
            expected = model(inputs)
            cut = self.prefix(inputs)
            batch = expected.shape[0]
            for name, value in cut.items():
                if not isinstance(value, Tensor) or value.dim() == 0 or \
                        value.shape[0] != batch:
                    what = type(value).__name__ if not isinstance(
                        value, Tensor) else f'shape {tuple(value.shape)}'
                    raise NotSplittable(
                        f'the value {name} read after the cut is not a '
                        f'per-sample tensor ({what}, batch {batch})')
            for path in self.paths:
                got = self.suffix_forward(path, cut, None)
                if got.shape != expected.shape or not torch.allclose(
                        got, expected, atol=atol, rtol=1e-4):
                    raise NotSplittable(
                        f'the traced forward split at {path} does not '
                        'reproduce the teacher (largest difference '
                        f'{(got - expected).abs().max():.3g})')
        return cut


class FileSegment:
    """``rows`` rows of ``row_bytes`` bytes in one file, written and read
    with positioned file I/O (``os.pwrite`` / ``os.preadv``).

    Not a memory map: the rows live in the operating system's page cache,
    which the kernel writes back and drops under pressure, and never count
    in the process's resident memory (the pages of a mapped file do, for
    as long as they stay mapped). Any dtype (bfloat16 too): the file holds
    the raw bytes of the tensors given to :meth:`write`.
    """

    def __init__(self, path: str, rows: int, row_bytes: int):
        self.path = path
        self.row_bytes = row_bytes
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self.fd, rows * self.row_bytes)

    @staticmethod
    def _bytes(rows: Tensor) -> memoryview:
        """The bytes of contiguous ``rows`` (no copy)."""
        return memoryview(rows.reshape(-1).view(torch.uint8).numpy())

    def write(self, pos: int, value: Tensor) -> None:
        """Row ``pos`` from ``value`` (the store's dtype, ``row_bytes``)."""
        data = self._bytes(value.contiguous())
        offset, done = pos * self.row_bytes, 0
        while done < len(data):
            done += os.pwrite(self.fd, data[done:], offset + done)

    def read_into(self, pos: int, out: Tensor) -> None:
        """Row ``pos`` into the contiguous tensor ``out`` (its dtype)."""
        view = self._bytes(out)
        offset, done = pos * self.row_bytes, 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got == 0:
                raise OSError(f'{self.path}: row {pos} is truncated')
            done += got

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class RowStore:
    """Per-sample rows of one tensor, kept in RAM or in files on disk.

    Rows are appended in segments of ``segment_rows``; a segment goes to a
    file under ``directory`` (a :class:`FileSegment`) once the RAM in use
    would pass ``ram_budget`` bytes (all stores of one :class:`StoreGroup`
    share the budget), so the cache's resident memory stays within the
    budget at any dataset size. Values are stored as ``dtype`` (e.g.
    float16 halves the size; float32 keeps S2 exact) and returned in the
    dtype they came in.
    """

    def __init__(self, name: str, shape: Sequence[int], dtype: torch.dtype,
                 group: 'StoreGroup', segment_rows: int = 1024):
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype
        self.group = group
        self.segment_rows = segment_rows
        self.segments: List[Union[Tensor, FileSegment]] = []
        self.count = 0
        self.row_bytes = int(np.prod(self.shape, dtype=np.int64)) * \
            torch.empty((), dtype=dtype).element_size()

    def _new_segment(self) -> Union[Tensor, FileSegment]:
        size = self.segment_rows * self.row_bytes
        if self.group.ram_used + size > self.group.ram_budget and \
                self.group.directory:
            os.makedirs(self.group.directory, exist_ok=True)
            path = osp.join(self.group.directory,
                            f'{self.name}.{len(self.segments)}.bin')
            segment = FileSegment(path, self.segment_rows, self.row_bytes)
            self.group.disk_used += size
            self.group.files.append(segment)
            return segment
        self.group.ram_used += size
        return torch.empty((self.segment_rows, *self.shape),
                           dtype=self.dtype)

    def append(self, values: Tensor) -> List[int]:
        """Store the rows of ``values`` ``(B, *shape)``; their row ids."""
        rows = []
        values = values.detach().to('cpu', self.dtype)
        for value in values:
            seg, pos = divmod(self.count, self.segment_rows)
            if seg == len(self.segments):
                self.segments.append(self._new_segment())
            segment = self.segments[seg]
            if isinstance(segment, FileSegment):
                segment.write(pos, value)
            else:
                segment[pos].copy_(value)
            rows.append(self.count)
            self.count += 1
        return rows

    def gather(self, rows: Sequence[int], dtype: torch.dtype,
               device) -> Tensor:
        out = torch.empty((len(rows), *self.shape), dtype=self.dtype)
        for i, r in enumerate(rows):
            segment = self.segments[r // self.segment_rows]
            if isinstance(segment, FileSegment):
                segment.read_into(r % self.segment_rows, out[i])
            else:
                out[i].copy_(segment[r % self.segment_rows])
        return out.to(device=device, dtype=dtype)


class StoreGroup:
    """The rows of every cached value, keyed by sample id (one cache).

    Args:
        dtype (torch.dtype): Storage dtype.
        ram_budget (float): Bytes held in RAM before segments go to disk.
        directory (str, optional): Where disk segments go; None keeps
            everything in RAM (past the budget too).
    """

    def __init__(self, dtype: torch.dtype, ram_budget: float,
                 directory: Optional[str] = None):
        self.dtype = dtype
        self.ram_budget = ram_budget
        self.directory = directory
        self.ram_used = 0
        self.disk_used = 0
        #: the disk segments (their files are deleted by :meth:`clear`)
        self.files: List[FileSegment] = []
        self.stores: Dict[str, RowStore] = {}
        self.rows: Dict[str, Dict[object, int]] = {}
        self.dtypes: Dict[str, torch.dtype] = {}

    def has(self, key: str, ids: Sequence) -> bool:
        rows = self.rows.get(key)
        return rows is not None and all(i in rows for i in ids)

    def put(self, key: str, ids: Sequence, values: Tensor) -> None:
        if key not in self.stores:
            store_dtype = self.dtype if values.is_floating_point() else \
                values.dtype
            self.stores[key] = RowStore(key, values.shape[1:], store_dtype,
                                        self)
            self.rows[key] = {}
            self.dtypes[key] = values.dtype
        rows = self.rows[key]
        new = [j for j, i in enumerate(ids) if i not in rows]
        if not new:
            return
        got = self.stores[key].append(values[new])
        for j, row in zip(new, got):
            rows[ids[j]] = row

    def get(self, key: str, ids: Sequence, device) -> Tensor:
        rows = self.rows[key]
        return self.stores[key].gather([rows[i] for i in ids],
                                        self.dtypes[key], device)

    def row_bytes(self) -> Dict[str, int]:
        return {k: s.row_bytes for k, s in self.stores.items()}

    def clear(self) -> None:
        """Drop every row (and delete the disk segments)."""
        self.stores.clear()
        self.rows.clear()
        for segment in self.files:
            segment.close()
            if osp.isfile(segment.path):
                os.remove(segment.path)
        self.files.clear()
        self.ram_used = self.disk_used = 0
