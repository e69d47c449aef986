"""dlib's face descriptor network as an ONNX graph, run by ONNX Runtime.

The same network and weights as ``egate.biometrics.network`` (read from
dlib's model file, each frozen batch normalisation folded into the
convolution below it), written as an ONNX graph in memory with the ``onnx``
package and run by ONNX Runtime on one thread.  Its convolution kernels use
the processor's widest vector instructions (AVX-512 here), about twice as fast
as numpy's unfold-and-multiply; the descriptor stays within 1e-6 of dlib's
per component.  Nothing is downloaded and no file is written: the graph is
built from the model file face_recognition ships.

dlib's shortcut sum adds tensors of different sizes (a strided block's
convolution has fewer rows than the pooled shortcut beside it, and fewer
channels before it): the missing values count as zero, so the smaller tensor
is padded with zeros at the end before ``Add``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from egate.biometrics.dlibmodel import (
    DESCRIPTOR_SIZE,
    AddPrevious,
    Dense,
    ModelFile,
    ModelFormatError,
    Pool,
    Relu,
    Skip,
    Tag,
    read_model,
)
from egate.biometrics.network import FoldedConvolution, Scale, compile_steps, output_size

# Operator set the graph is written in (every operator used exists unchanged since 13).
OPSET = 13


class RuntimeUnavailable(RuntimeError):
    """The ``onnx`` or ``onnxruntime`` package is not installed."""


Shape = tuple[int, int, int]  # channels, rows, columns


class _GraphWriter:
    """Adds nodes and weights to a graph, tracking each tensor's shape."""

    def __init__(self, onnx: ModuleType) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self.shapes: dict[str, Shape] = {}

    def constant(self, values: npt.NDArray[Any], stem: str) -> str:
        name = f"{stem}{len(self.weights)}"
        self.weights.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(values), name))
        return name

    def node(self, op: str, inputs: list[str], shape: Shape, **attributes: int | list[int]) -> str:
        name = f"{op.lower()}{len(self.nodes)}"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], **attributes))
        self.shapes[name] = shape
        return name

    def padded(self, tensor: str, shape: Shape) -> str:
        """``tensor`` with zeros after its last channel, row and column up to ``shape``."""
        if self.shapes[tensor] == shape:
            return tensor
        after = [full - own for full, own in zip(shape, self.shapes[tensor], strict=True)]
        pads = self.constant(np.array([0, 0, 0, 0, 0, *after], np.int64), "pads")
        return self.node("Pad", [tensor, pads], shape)


def build_graph(model: ModelFile) -> bytes:
    """The network of ``model`` as a serialized ONNX model.

    Input ``chip``: 1 x rows x columns x 3 uint8 RGB (a face chip as it is);
    output ``descriptor``: 1 x 128 float32.  ``RuntimeUnavailable`` without
    the ``onnx`` package; ``ModelFormatError`` if the layers do not fit.
    """
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError as error:
        raise RuntimeUnavailable(f"{error.name} is not installed") from None
    rows, columns = model.input.rows, model.input.columns
    graph = _GraphWriter(onnx)
    # The input layer: (pixel - channel mean) / 256, as dlib does.  Channels go
    # first before the arithmetic: ONNX Runtime subtracts a mean per plane
    # with vector instructions, where a mean per pixel's last axis of three
    # took 5 % of the network's time (the same values either way).
    planes = graph.node("Transpose", ["chip"], (3, rows, columns), perm=[0, 3, 1, 2])
    pixels = graph.node("Cast", [planes], (3, rows, columns), to=onnx.TensorProto.FLOAT)
    means = graph.constant(model.input.means.astype(np.float32).reshape(3, 1, 1), "means")
    centred = graph.node("Sub", [pixels, means], (3, rows, columns))
    scale = graph.constant(np.array(1 / 256, np.float32), "scale")
    x = graph.node("Mul", [centred, scale], (3, rows, columns))
    tags: dict[int, str] = {}
    output: str | None = None
    for step in compile_steps(model):
        channels, height, width = graph.shapes[x]
        if isinstance(step, FoldedConvolution):
            filters = step.filters()
            if filters.shape[1] != channels:
                raise ModelFormatError(
                    f"a convolution of {filters.shape[1]} channels on {channels}"
                )
            size, stride, padding = step.size, step.stride, step.padding
            shape = (
                filters.shape[0],
                output_size(height, size, stride, padding),
                output_size(width, size, stride, padding),
            )
            inputs = [x, graph.constant(filters, "w"), graph.constant(step.biases, "b")]
            x = graph.node(
                "Conv",
                inputs,
                shape,
                kernel_shape=[size, size],
                strides=[stride, stride],
                pads=[padding] * 4,
            )
            if step.relu:
                x = graph.node("Relu", [x], shape)
        elif isinstance(step, Relu):
            x = graph.node("Relu", [x], graph.shapes[x])
        elif isinstance(step, Scale):
            gamma = graph.constant(step.gamma.reshape(-1, 1, 1), "gamma")
            beta = graph.constant(step.beta.reshape(-1, 1, 1), "beta")
            x = graph.node(
                "Add", [graph.node("Mul", [x, gamma], graph.shapes[x]), beta], graph.shapes[x]
            )
        elif isinstance(step, Tag):
            tags[step.tag] = x
        elif isinstance(step, Skip):
            x = tags[step.tag]
        elif isinstance(step, AddPrevious):
            other = tags[step.tag]
            full = (
                max(graph.shapes[x][0], graph.shapes[other][0]),
                max(graph.shapes[x][1], graph.shapes[other][1]),
                max(graph.shapes[x][2], graph.shapes[other][2]),
            )
            x = graph.node("Add", [graph.padded(x, full), graph.padded(other, full)], full)
        elif isinstance(step, Pool):
            if step.size == 0:
                x = graph.node("GlobalAveragePool", [x], (channels, 1, 1))
            else:
                shape = (
                    channels,
                    output_size(height, step.size, step.stride, step.padding),
                    output_size(width, step.size, step.stride, step.padding),
                )
                x = graph.node(
                    "MaxPool" if step.kind == "max" else "AveragePool",
                    [x],
                    shape,
                    kernel_shape=[step.size, step.size],
                    strides=[step.stride, step.stride],
                    pads=[step.padding] * 4,
                )
        elif isinstance(step, Dense):
            if step.weights.shape[0] != channels * height * width:
                inputs_found = channels * height * width
                raise ModelFormatError(
                    f"a dense layer of {step.weights.shape[0]} inputs on {inputs_found}"
                )
            flat = graph.node("Flatten", [x], (channels * height * width, 1, 1))
            weights = graph.constant(step.weights.astype(np.float32), "dense")
            output = graph.node("MatMul", [flat, weights], (step.weights.shape[1], 1, 1))
            x = output
        else:
            raise ModelFormatError(f"a layer ONNX is not written for: {type(step).__name__}")
    if output is None or output != x or graph.shapes[output][0] != DESCRIPTOR_SIZE:
        raise ModelFormatError(f"the network does not end in a {DESCRIPTOR_SIZE}-d dense layer")
    graph.nodes[-1].output[0] = "descriptor"
    written = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            "dlib_face_recognition_resnet_model_v1",
            [
                onnx.helper.make_tensor_value_info(
                    "chip", onnx.TensorProto.UINT8, [1, rows, columns, 3]
                )
            ],
            [
                onnx.helper.make_tensor_value_info(
                    "descriptor", onnx.TensorProto.FLOAT, [1, DESCRIPTOR_SIZE]
                )
            ],
            graph.weights,
        ),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="egate",
    )
    # The IR version of the operator set, not of the installed onnx: older runtimes read it.
    written.ir_version = 8
    try:
        onnx.checker.check_model(written)
    except onnx.checker.ValidationError as error:
        raise ModelFormatError(f"the ONNX graph is not valid: {error}") from None
    serialized: bytes = written.SerializeToString()
    return serialized


class OnnxDescriptorNetwork:
    """The face descriptor network on ONNX Runtime, on ``threads`` threads; thread-safe."""

    def __init__(self, model: ModelFile, threads: int = 1) -> None:
        graph = build_graph(model)
        try:
            import onnxruntime
        except ImportError as error:
            raise RuntimeUnavailable(f"{error.name} is not installed") from None
        options = onnxruntime.SessionOptions()
        # One thread by default, as OpenBLAS gets for the numpy runtime: a second
        # thread waits for a core that the matching core's other worker (or
        # anything else on the machine) keeps busy.  Two for one image at a time
        # on a machine with a core to spare (below).
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # With two threads, the second waits for work by spinning while a chip
        # runs (each of the 29 convolutions is a parallel section: woken from
        # sleep each time, it gained little) and stops when the run ends, so it
        # never spins between chips.  Measured here with other work between
        # chips: 3.9 ms a chip and 7.6 ms of processor time, against 4.9 and
        # 8.4 without spinning, and 6.8 and 6.8 on one thread.
        spinning = "1" if threads > 1 else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.add_session_config_entry("session.force_spinning_stop", spinning)
        options.log_severity_level = 3  # errors only: its notes on optimisations are not ours
        self._rows, self._columns = model.input.rows, model.input.columns
        try:
            self._session = onnxruntime.InferenceSession(
                graph, options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ONNX Runtime reports a graph it refuses as its own Fail
            raise ModelFormatError(f"ONNX Runtime refused the graph: {error}") from None
        blank = self.describe(np.zeros((self._rows, self._columns, 3), np.uint8))
        if not np.isfinite(blank).all():
            raise ModelFormatError("the network does not give a finite descriptor")

    def describe(self, chip: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
        """The 128-d descriptor of a 150 x 150 RGB chip, as dlib computes it."""
        expected = (self._rows, self._columns, 3)
        if chip.shape != expected:
            raise ValueError(f"a face chip is {expected[0]}x{expected[1]} RGB, got {chip.shape}")
        batch = np.ascontiguousarray(chip, dtype=np.uint8)[None]
        (descriptor,) = self._session.run(["descriptor"], {"chip": batch})
        return np.asarray(descriptor, dtype=np.float64).reshape(DESCRIPTOR_SIZE)


_cache: dict[tuple[Path, int], OnnxDescriptorNetwork] = {}
_cache_lock = threading.Lock()


def load_onnx_network(path: Path, threads: int = 1) -> OnnxDescriptorNetwork:
    """The network of ``path`` on ONNX Runtime with ``threads`` threads, built once per process.

    ``RuntimeUnavailable`` without onnx or onnxruntime, ``ModelFormatError``
    when the file is not the expected network.
    """
    key = (path.resolve(), threads)
    with _cache_lock:
        network = _cache.get(key)
        if network is None:
            network = _cache[key] = OnnxDescriptorNetwork(read_model(key[0]), threads)
        return network
