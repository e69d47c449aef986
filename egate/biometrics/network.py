"""dlib's face descriptor network, read from its model file and run on numpy.

The descriptor of face_recognition is dlib's ResNet (``dlib_face_recognition_
resnet_model_v1.dat``).  The prebuilt dlib-bin wheels run it without BLAS; here
the *same* network with the *same* weights runs on numpy, whose matrix
products go through OpenBLAS.  Each convolution becomes one matrix product
over an unfolded copy of its input, with the frozen batch normalisation that
follows it (dlib's ``affine`` layer) folded into its weights.  On a 150 x 150
chip the descriptor agrees with dlib's to better than 1e-6 per component.

The model file is read by ``egate.biometrics.dlibmodel``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from egate.biometrics.dlibmodel import (
    DESCRIPTOR_SIZE,
    AddPrevious,
    Affine,
    Convolution,
    Dense,
    Floats,
    ModelFile,
    ModelFormatError,
    Pool,
    Relu,
    Skip,
    Tag,
    read_model,
)

_log = logging.getLogger(__name__)

# -- the forward pass -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoldedConvolution:
    """A convolution ready to run: weights as (rows*columns*channels) x filters."""

    matrix: Floats
    biases: Floats
    size: int
    stride: int
    padding: int
    relu: bool

    def filters(self) -> Floats:
        """The folded weights in dlib's (and ONNX's) layout: filters x channels x rows x columns."""
        channels = self.matrix.shape[0] // (self.size * self.size)
        shaped = self.matrix.reshape(self.size, self.size, channels, self.matrix.shape[1])
        return np.ascontiguousarray(shaped.transpose(3, 2, 0, 1))


@dataclass(frozen=True, slots=True)
class Scale:
    """A per-channel affine layer that could not be folded into a convolution."""

    gamma: Floats
    beta: Floats


Step = FoldedConvolution | Scale | Pool | Dense | Relu | Tag | Skip | AddPrevious


def compile_steps(model: ModelFile) -> tuple[Step, ...]:
    """Fold each affine layer into the convolution below it, and each ReLU into the one above."""
    steps: list[Step] = []
    for layer in model.layers:
        previous = steps[-1] if steps else None
        if (
            isinstance(layer, Affine)
            and isinstance(previous, FoldedConvolution)
            and not previous.relu
        ):
            steps[-1] = FoldedConvolution(
                (previous.matrix * layer.gamma).astype(np.float32),
                (previous.biases * layer.gamma + layer.beta).astype(np.float32),
                previous.size,
                previous.stride,
                previous.padding,
                False,
            )
        elif (
            isinstance(layer, Relu)
            and isinstance(previous, FoldedConvolution)
            and not previous.relu
        ):
            steps[-1] = FoldedConvolution(
                previous.matrix,
                previous.biases,
                previous.size,
                previous.stride,
                previous.padding,
                True,
            )
        elif isinstance(layer, Convolution):
            filters, channels, rows, columns = layer.weights.shape
            # Unfolded input rows are ordered (row, column, channel), like the weights here.
            matrix = layer.weights.transpose(2, 3, 1, 0).reshape(rows * columns * channels, filters)
            steps.append(
                FoldedConvolution(
                    np.ascontiguousarray(matrix, dtype=np.float32),
                    layer.biases.astype(np.float32),
                    rows,
                    layer.stride,
                    layer.padding,
                    layer.relu,
                )
            )
        elif isinstance(layer, Affine):
            steps.append(Scale(layer.gamma, layer.beta))
        else:
            steps.append(layer)
    return tuple(steps)


def output_size(size: int, window: int, stride: int, padding: int) -> int:
    """Rows (or columns) out of a convolution or pooling window sliding over ``size``."""
    return 1 + (size + 2 * padding - window) // stride


class _Workspace:
    """One thread's scratch buffers, by step, reused from call to call."""

    def __init__(self) -> None:
        self.buffers: dict[tuple[int, str], Floats] = {}

    def get(self, step: int, role: str, shape: tuple[int, ...], zero: bool = False) -> Floats:
        buffer = self.buffers.get((step, role))
        if buffer is None or buffer.shape != shape:
            buffer = np.zeros(shape, np.float32) if zero else np.empty(shape, np.float32)
            self.buffers[(step, role)] = buffer
        return buffer


class DescriptorNetwork:
    """The face descriptor network on numpy; thread-safe (scratch buffers are per thread)."""

    def __init__(self, model: ModelFile) -> None:
        self.model = model
        self._means = model.input.means
        self._local = threading.local()
        # A file whose layers do not fit together fails here, not on the first face.
        try:
            self._steps = compile_steps(model)
            blank = self.describe(np.zeros((model.input.rows, model.input.columns, 3), np.uint8))
        except (ValueError, KeyError, IndexError) as error:
            raise ModelFormatError(f"the layers do not fit together: {error}") from None
        if blank.shape != (DESCRIPTOR_SIZE,) or not np.isfinite(blank).all():
            raise ModelFormatError(f"the network does not give a finite {DESCRIPTOR_SIZE}-d vector")

    @classmethod
    def from_file(cls, path: Path) -> DescriptorNetwork:
        return cls(read_model(path))

    def _workspace(self) -> _Workspace:
        workspace: _Workspace | None = getattr(self._local, "workspace", None)
        if workspace is None:
            workspace = self._local.workspace = _Workspace()
        return workspace

    def describe(self, chip: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """The 128-d descriptor of a 150 x 150 RGB chip, as dlib computes it."""
        expected = (self.model.input.rows, self.model.input.columns, 3)
        if chip.shape != expected:
            raise ValueError(f"a face chip is {expected[0]}x{expected[1]} RGB, got {chip.shape}")
        workspace = self._workspace()
        x = workspace.get(-1, "input", expected)
        np.subtract(chip, self._means, out=x, casting="unsafe")
        x *= np.float32(1 / 256)
        tags: dict[int, Floats] = {}
        for index, step in enumerate(self._steps):
            x = self._run(index, step, x, tags, workspace)
        return x.reshape(-1).astype(np.float64)

    def _run(
        self,
        index: int,
        step: Step,
        x: Floats,
        tags: dict[int, Floats],
        workspace: _Workspace,
    ) -> Floats:
        if isinstance(step, FoldedConvolution):
            return _convolve(index, step, x, workspace)
        if isinstance(step, Relu):
            remembered = any(x is tagged for tagged in tags.values())
            return np.maximum(x, 0, out=None if remembered else x)
        if isinstance(step, Tag):
            tags[step.tag] = x
            return x
        if isinstance(step, Skip):
            return tags[step.tag]
        if isinstance(step, AddPrevious):
            return _add(index, x, tags[step.tag], workspace)
        if isinstance(step, Pool):
            return _pool(index, step, x, workspace)
        if isinstance(step, Dense):
            return x.reshape(1, -1) @ step.weights
        if isinstance(step, Scale):
            return x * step.gamma + step.beta
        raise AssertionError(step)


def _convolve(index: int, conv: FoldedConvolution, x: Floats, workspace: _Workspace) -> Floats:
    rows, columns, channels = x.shape
    size, stride, padding = conv.size, conv.stride, conv.padding
    if padding:
        padded = workspace.get(
            index, "padded", (rows + 2 * padding, columns + 2 * padding, channels), zero=True
        )
        padded[padding : padding + rows, padding : padding + columns] = x
        x = padded
    out_rows = output_size(rows, size, stride, padding)
    out_columns = output_size(columns, size, stride, padding)
    unfolded = workspace.get(index, "unfolded", (out_rows, out_columns, size, size, channels))
    # Every output pixel's receptive field, as a strided view of the input, copied at once.
    row, column, value = x.strides
    unfolded[...] = np.lib.stride_tricks.as_strided(
        x,
        shape=unfolded.shape,
        strides=(row * stride, column * stride, row, column, value),
        writeable=False,
    )
    out = workspace.get(index, "out", (out_rows * out_columns, conv.matrix.shape[1]))
    np.matmul(unfolded.reshape(out_rows * out_columns, -1), conv.matrix, out=out)
    out += conv.biases
    if conv.relu:
        np.maximum(out, 0, out=out)
    return out.reshape(out_rows, out_columns, -1)


def _add(index: int, first: Floats, second: Floats, workspace: _Workspace) -> Floats:
    if first.shape == second.shape:
        out = workspace.get(index, "sum", first.shape)
        return np.add(first, second, out=out)
    shape = tuple(max(a, b) for a, b in zip(first.shape, second.shape, strict=True))
    out = workspace.get(index, "sum", shape)
    out.fill(0)
    for part in (first, second):
        out[: part.shape[0], : part.shape[1], : part.shape[2]] += part
    return out


def _pool(index: int, pool: Pool, x: Floats, workspace: _Workspace) -> Floats:
    rows, columns, channels = x.shape
    if pool.size == 0:
        mean: Floats = x.mean(axis=(0, 1), dtype=np.float32)
        return mean.reshape(1, 1, channels)
    size, stride = pool.size, pool.stride
    out_rows = output_size(rows, size, stride, pool.padding)
    out_columns = output_size(columns, size, stride, pool.padding)
    out = workspace.get(index, "pool", (out_rows, out_columns, channels))
    combine = np.maximum if pool.kind == "max" else np.add
    for dy in range(size):
        for dx in range(size):
            window = x[
                dy : dy + stride * (out_rows - 1) + 1 : stride,
                dx : dx + stride * (out_columns - 1) + 1 : stride,
            ]
            if dy == dx == 0:
                out[...] = window
            else:
                combine(out, window, out=out)
    if pool.kind == "avg":
        out *= np.float32(1 / (size * size))
    return out


# -- OpenBLAS threads -------------------------------------------------------------------------

# Variables by which an operator chooses OpenBLAS's thread count (read when it loads).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def set_blas_threads(threads: int) -> bool:
    """Ask the OpenBLAS that numpy loaded to use ``threads`` threads; False if not found.

    Looks the library up among those mapped into this process (Linux) and
    calls its ``set_num_threads`` under the names OpenBLAS builds use.
    """
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    libraries = sorted(
        {
            line.split()[-1]
            for line in maps.splitlines()
            if line.split()[-1].startswith("/")
            and "openblas" in line.split()[-1].rsplit("/", 1)[-1].lower()
        }
    )
    for library in libraries:
        try:
            handle = ctypes.CDLL(library, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64", ""):
                setter = getattr(handle, f"{prefix}_set_num_threads{suffix}", None)
                if setter is not None:
                    setter(ctypes.c_int(threads))
                    return True
    return False


_cache: dict[Path, DescriptorNetwork] = {}
_cache_lock = threading.Lock()


def load_network(path: Path) -> DescriptorNetwork:
    """The network of ``path``, parsed once per process.

    The first load also gives OpenBLAS one thread, unless the environment
    chooses (``BLAS_THREAD_VARIABLES``): its matrices here are small, and
    measured on two cores a second thread saved 2-3 ms per descriptor when
    the machine was idle but cost over 100 ms when another process kept one
    core busy, because each product waits for the thread that gets no CPU.
    """
    resolved = path.resolve()
    with _cache_lock:
        network = _cache.get(resolved)
        if network is None:
            network = _cache[resolved] = DescriptorNetwork.from_file(resolved)
            chosen = any(name in os.environ for name in BLAS_THREAD_VARIABLES)
            if not chosen and not set_blas_threads(1):
                _log.debug("OpenBLAS not found: its thread count is left as it is")
        return network
