"""dlib's face descriptor model file, read and checked layer by layer.

(One concept past the ~400-line guideline: dlib's model file format. The
primitive decoders, the table of the network's layers and the layer readers
are read together against one file; the forward pass is
egate.biometrics.network's.)

The model file
--------------
dlib writes a network as a nest: each layer writes a version number, then the
network below it, then its own settings and state.  So the file starts with
the version numbers of every layer from the top down and then holds the
layers' settings from the input up.  Tag and skip layers write only a version
number, so the file alone does not say where they are: the layout of
``ARCHITECTURE`` (the network of dlib's face recognition example) does, and
the reader checks the file against it.

Primitive encodings (all little-endian):

* integers: a control byte whose low four bits give the number of bytes that
  follow (1-8) and whose top bit marks a negative value, then the magnitude;
* floating point numbers: an integer mantissa and an integer exponent, the
  value being mantissa * 2**exponent (exponents 32000, 32001 and 32002 stand
  for +inf, -inf and NaN);
* strings: their length as an integer, then the bytes;
* booleans: the character ``1`` or ``0``;
* tensors: version 1 (every value as a floating point number as above) or
  version 2 (IEEE 754 single precision); both after the sample count,
  channels, rows and columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Parsed = TypeVar("Parsed")

# Exponents that stand for special values in dlib's floating point encoding.
_INFINITY, _MINUS_INFINITY, _NOT_A_NUMBER = 32000, 32001, 32002
INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128


class ModelFormatError(ValueError):
    """The model file is not the face descriptor network this reader knows."""


# -- primitive decoding --------------------------------------------------------------------


def decode_integer(data: bytes | memoryview, position: int) -> tuple[int, int]:
    """The integer encoded at ``position`` and the position after it."""
    if position >= len(data):
        raise ModelFormatError(f"file ends at byte {position}, where an integer should be")
    control = data[position]
    size = control & 0x0F
    if size == 0 or size > 8 or control & 0x70:
        raise ModelFormatError(f"byte {position}: {control:#04x} is not an integer's control byte")
    end = position + 1 + size
    if end > len(data):
        raise ModelFormatError(f"file ends inside the integer at byte {position}")
    value = int.from_bytes(data[position + 1 : end], "little")
    return (-value if control & 0x80 else value), end


def decode_float(
    data: bytes | memoryview, position: int, *, single: bool = False
) -> tuple[float, int]:
    """The floating point number encoded at ``position`` and the position after it.

    ``single`` rounds as a single-precision value would be read (the mantissa
    is rounded to single precision first, as dlib does for a ``float``).
    """
    mantissa, position = decode_integer(data, position)
    exponent, position = decode_integer(data, position)
    if not -(2**63) <= mantissa < 2**63 or not -(2**15) <= exponent < 2**15:
        raise ModelFormatError(f"byte {position}: floating point number out of range")
    if exponent == _INFINITY:
        return math.inf, position
    if exponent == _MINUS_INFINITY:
        return -math.inf, position
    if exponent >= _NOT_A_NUMBER:
        return math.nan, position
    if single:
        with np.errstate(over="ignore", under="ignore"):
            return float(np.ldexp(np.float32(mantissa), exponent)), position
    try:
        return math.ldexp(float(mantissa), exponent), position
    except OverflowError:
        return math.copysign(math.inf, mantissa), position


def decode_tensor(data: bytes, position: int) -> tuple[Floats, int]:
    """The values of the tensor encoded at ``position`` (flat, float32) and the position after."""
    reader = _Reader(data)
    reader.position = position
    values = reader.tensor()
    return values, reader.position


class _Reader:
    """Walks through the model file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def fail(self, message: str) -> ModelFormatError:
        return ModelFormatError(f"byte {self.position}: {message}")

    def integer(self, *, unsigned: bool = False) -> int:
        value, self.position = decode_integer(self.data, self.position)
        if unsigned and value < 0:
            raise self.fail(f"negative value {value} where a size was expected")
        return value

    def real(self, *, single: bool = False) -> float:
        value, self.position = decode_float(self.data, self.position, single=single)
        return value

    def text(self, longest: int = 256) -> str:
        length = self.integer(unsigned=True)
        if length > longest or self.position + length > len(self.data):
            raise self.fail(f"implausible string length {length}")
        raw = self.data[self.position : self.position + length]
        self.position += length
        return raw.decode("latin-1")

    def flag(self) -> bool:
        if self.position >= len(self.data) or self.data[self.position] not in b"01":
            raise self.fail("expected a boolean ('0' or '1')")
        self.position += 1
        return self.data[self.position - 1] == ord("1")

    def version(self, expected: int, what: str) -> None:
        start = self.position
        found = self.integer()
        if found != expected:
            self.position = start
            raise self.fail(f"{what} has version {found}, expected {expected}")

    def shape(self) -> tuple[int, int, int, int]:
        n, k, rows, columns = (self.integer(unsigned=True) for _ in range(4))
        if n * k * rows * columns > len(self.data):
            raise self.fail(f"tensor of {n}x{k}x{rows}x{columns} cannot fit in the file")
        return n, k, rows, columns

    def tensor(self) -> Floats:
        """A tensor's values, flat, as float32."""
        version = self.integer()
        if version not in (1, 2):
            raise self.fail(f"unknown tensor version {version}")
        count = math.prod(self.shape())
        if version == 2:
            end = self.position + 4 * count
            if end > len(self.data):
                raise self.fail("file ends inside a tensor")
            values = np.frombuffer(self.data, "<f4", count, self.position).astype(np.float32)
            self.position = end
            return values
        return np.array([self.real(single=True) for _ in range(count)], dtype=np.float32)

    def alias(self) -> tuple[int, int, int, int]:
        """The shape of a view into a layer's parameters."""
        self.version(1, "parameter view")
        return self.shape()


# -- the architecture -------------------------------------------------------------------------

LayerKind = Literal[
    "loss", "fc", "avg_pool", "max_pool", "relu", "add_prev", "skip", "tag", "affine", "con"
]


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """One layer of the expected network, as the file lists them (top first)."""

    kind: LayerKind
    # Filters and size/stride for con, window and stride for pools, tag id
    # for tag/skip/add_prev, outputs for fc; 0 where "everything".
    filters: int = 0
    size: int = 0
    stride: int = 1
    tag: int = 0


def _block(filters: int, stride: int) -> list[LayerSpec]:
    """Two 3x3 convolutions, each followed by a frozen batch norm, a ReLU between."""
    return [
        LayerSpec("affine"),
        LayerSpec("con", filters, 3, 1),
        LayerSpec("relu"),
        LayerSpec("affine"),
        LayerSpec("con", filters, 3, stride),
    ]


def _residual(filters: int) -> list[LayerSpec]:
    return [
        LayerSpec("relu"),
        LayerSpec("add_prev", tag=1),
        *_block(filters, 1),
        LayerSpec("tag", tag=1),
    ]


def _residual_down(filters: int) -> list[LayerSpec]:
    """Stride-2 block; the shortcut is the input averaged over 2x2 cells."""
    return [
        LayerSpec("relu"),
        LayerSpec("add_prev", tag=2),
        LayerSpec("avg_pool", size=2, stride=2),
        LayerSpec("skip", tag=1),
        LayerSpec("tag", tag=2),
        *_block(filters, 2),
        LayerSpec("tag", tag=1),
    ]


def _architecture() -> tuple[LayerSpec, ...]:
    layers = [
        LayerSpec("loss"),
        LayerSpec("fc", DESCRIPTOR_SIZE),
        LayerSpec("avg_pool", size=0),
        *_residual_down(256),
        *_residual(256),
        *_residual(256),
        *_residual_down(256),
        *_residual(128),
        *_residual(128),
        *_residual_down(128),
        *_residual(64),
        *_residual(64),
        *_residual(64),
        *_residual_down(64),
        *_residual(32),
        *_residual(32),
        *_residual(32),
        LayerSpec("max_pool", size=3, stride=2),
        LayerSpec("relu"),
        LayerSpec("affine"),
        LayerSpec("con", 32, 7, 2),
    ]
    return tuple(layers)


# dlib_face_recognition_resnet_model_v1: loss_metric over fc_no_bias<128> over an
# average over everything over 29 convolutions in residual blocks, top first.
ARCHITECTURE = _architecture()


# -- parsed layers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputLayer:
    """Per-channel means subtracted from the 0-255 pixel values, before dividing by 256."""

    means: Floats
    rows: int
    columns: int


@dataclass(frozen=True, slots=True)
class Convolution:
    """A convolution with dlib's layout: filters x channels x rows x columns, plus biases."""

    weights: Floats
    biases: Floats
    stride: int
    padding: int
    relu: bool = False


@dataclass(frozen=True, slots=True)
class Affine:
    """Per-channel ``gamma * x + beta`` (batch normalisation with frozen statistics)."""

    gamma: Floats
    beta: Floats


@dataclass(frozen=True, slots=True)
class Pool:
    """Max or average pooling; ``size`` 0 averages over the whole image."""

    kind: Literal["max", "avg"]
    size: int
    stride: int
    padding: int


@dataclass(frozen=True, slots=True)
class Dense:
    """A fully connected layer without bias: inputs x outputs."""

    weights: Floats


@dataclass(frozen=True, slots=True)
class Relu:
    pass


@dataclass(frozen=True, slots=True)
class Tag:
    """Remembers the output below under ``tag``."""

    tag: int


@dataclass(frozen=True, slots=True)
class Skip:
    """Passes on the output remembered under ``tag`` instead of the one below."""

    tag: int


@dataclass(frozen=True, slots=True)
class AddPrevious:
    """Adds the output remembered under ``tag``; sizes may differ (missing values count 0)."""

    tag: int


Layer = Convolution | Affine | Pool | Dense | Relu | Tag | Skip | AddPrevious


@dataclass(frozen=True, slots=True)
class ModelFile:
    """The network as read from the file, input first."""

    input: InputLayer
    layers: tuple[Layer, ...]

    @property
    def parameter_count(self) -> int:
        """Weights, biases and affine factors, all layers together."""
        count = 0
        for layer in self.layers:
            if isinstance(layer, Convolution):
                count += layer.weights.size + layer.biases.size
            elif isinstance(layer, Affine):
                count += layer.gamma.size + layer.beta.size
            elif isinstance(layer, Dense):
                count += layer.weights.size
        return count


def _skip_layer_state(reader: _Reader, on_input: bool) -> None:
    """What dlib writes after a layer's settings: training state this reader does not need."""
    for _ in range(3):
        reader.flag()
    for _ in range(3):  # gradients and the cached output: empty in a saved model
        reader.tensor()
    if on_input:
        reader.integer(unsigned=True)


def _read_details(reader: _Reader, spec: LayerSpec) -> Layer:
    start = reader.position
    name = reader.text()
    try:
        return _DETAIL_READERS[spec.kind](reader, spec, name)
    except ModelFormatError:
        raise
    except (ValueError, IndexError) as error:
        raise ModelFormatError(f"byte {start}: layer {name!r}: {error}") from None


def _read_con(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    if name not in ("con_4", "con_5", "con_6"):
        raise reader.fail(f"expected a convolution layer, found {name!r}")
    params = reader.tensor()
    filters = reader.integer()
    rows, columns = reader.integer(), reader.integer()
    stride_y, stride_x = reader.integer(), reader.integer()
    padding_y, padding_x = reader.integer(), reader.integer()
    _, channels, filter_rows, filter_columns = reader.alias()
    bias_shape = reader.alias()
    for _ in range(4):  # learning rate and weight decay multipliers
        reader.real()
    use_bias = reader.flag() if name in ("con_5", "con_6") else True
    relu = reader.flag() if name == "con_6" else False
    expected = (spec.filters, spec.size, spec.size, spec.stride, spec.stride)
    found = (filters, rows, columns, stride_y, stride_x)
    if found != expected or (filter_rows, filter_columns) != (rows, columns):
        raise reader.fail(f"convolution {found} where {expected} was expected")
    # dlib pads stride-1 convolutions to keep the size, and does not pad strided ones.
    padding = rows // 2 if spec.stride == 1 else 0
    if (padding_y, padding_x) != (padding, padding):
        raise reader.fail(f"convolution padding {padding_y},{padding_x}, expected {padding}")
    count = filters * channels * rows * columns
    if params.size != count + (filters if use_bias else 0):
        raise reader.fail(f"convolution has {params.size} parameters, expected {count}+bias")
    if use_bias and math.prod(bias_shape) != filters:
        raise reader.fail("convolution bias size does not match its filters")
    weights = params[:count].reshape(filters, channels, rows, columns)
    biases = params[count:] if use_bias else np.zeros(filters, np.float32)
    return Convolution(weights, biases, spec.stride, padding, relu)


def _read_affine(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    if name != "affine_":
        raise reader.fail(f"expected a frozen batch norm ('affine_'), found {name!r}")
    params = reader.tensor()
    gamma_shape, beta_shape = reader.alias(), reader.alias()
    mode = reader.integer()
    size = math.prod(gamma_shape)
    if mode != 0 or gamma_shape != beta_shape or params.size != 2 * size:
        raise reader.fail("only per-channel affine layers are supported")
    return Affine(params[:size].copy(), params[size:].copy())


def _read_pool(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    kind: Literal["max", "avg"] = "max" if spec.kind == "max_pool" else "avg"
    if name != f"{kind}_pool_2":
        raise reader.fail(f"expected {kind}_pool_2, found {name!r}")
    rows, columns = reader.integer(), reader.integer()
    stride_y, stride_x = reader.integer(), reader.integer()
    padding_y, padding_x = reader.integer(), reader.integer()
    expected = (spec.size, spec.size, spec.stride, spec.stride, 0, 0)
    found = (rows, columns, stride_y, stride_x, padding_y, padding_x)
    if found != expected:
        raise reader.fail(f"pooling {found} where {expected} was expected")
    return Pool(kind, spec.size, spec.stride, 0)


def _read_fc(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    if name != "fc_2":
        raise reader.fail(f"expected fc_2, found {name!r}")
    outputs = reader.integer(unsigned=True)
    inputs = reader.integer(unsigned=True)
    params = reader.tensor()
    reader.alias()
    reader.alias()
    bias_mode = reader.integer()
    for _ in range(4):
        reader.real()
    if outputs != spec.filters or bias_mode != 1 or params.size != inputs * outputs:
        raise reader.fail(f"expected a fully connected layer of {spec.filters} without bias")
    return Dense(params.reshape(inputs, outputs))


def _read_relu(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    if name != "relu_":
        raise reader.fail(f"expected 'relu_', found {name!r}")
    return Relu()


def _read_add_prev(reader: _Reader, spec: LayerSpec, name: str) -> Layer:
    if name != "add_prev_":
        raise reader.fail(f"expected 'add_prev_', found {name!r}")
    return AddPrevious(spec.tag)


_DETAIL_READERS: dict[str, Callable[[_Reader, LayerSpec, str], Layer]] = {
    "con": _read_con,
    "affine": _read_affine,
    "max_pool": _read_pool,
    "avg_pool": _read_pool,
    "fc": _read_fc,
    "relu": _read_relu,
    "add_prev": _read_add_prev,
}


def parse_model(data: bytes, architecture: Sequence[LayerSpec] = ARCHITECTURE) -> ModelFile:
    """Read a serialized dlib network with the given layout; ``ModelFormatError`` if it is not."""
    reader = _Reader(data)
    if not architecture or architecture[0].kind != "loss":
        raise ValueError("the architecture must start with its loss layer")
    reader.version(1, "the loss layer")
    loss = reader.text()
    if loss != "loss_metric_2":
        raise reader.fail(f"expected the metric loss ('loss_metric_2'), found {loss!r}")
    reader.real(single=True)  # margin
    reader.real(single=True)  # distance threshold
    body = architecture[1:]
    for index, spec in enumerate(body):
        on_input = index == len(body) - 1
        expected = 1 if spec.kind in ("tag", "skip") else (3 if on_input else 2)
        reader.version(expected, f"layer {index + 1} ({spec.kind})")
    name = reader.text()
    if name != "input_rgb_image_sized":
        raise reader.fail(f"expected the input layer 'input_rgb_image_sized', found {name!r}")
    means = np.array([reader.real(single=True) for _ in range(3)], dtype=np.float32)
    rows, columns = reader.integer(unsigned=True), reader.integer(unsigned=True)
    if (rows, columns) != (INPUT_SIZE, INPUT_SIZE):
        raise reader.fail(f"input of {rows}x{columns}, expected {INPUT_SIZE}x{INPUT_SIZE}")
    layers: list[Layer] = []
    for index, spec in enumerate(reversed(body)):
        if spec.kind == "tag":
            layers.append(Tag(spec.tag))
            continue
        if spec.kind == "skip":
            layers.append(Skip(spec.tag))
            continue
        layers.append(_read_details(reader, spec))
        _skip_layer_state(reader, on_input=index == 0)
    if reader.position != len(data):
        raise reader.fail(f"{len(data) - reader.position} bytes left after the network")
    return ModelFile(InputLayer(means, rows, columns), tuple(layers))


def read_model(path: Path) -> ModelFile:
    """Parse a model file; ``ModelFormatError`` (a ``ValueError``) names the file on failure."""
    return read_model_file(path, parse_model)


def read_model_file(path: Path, parse: Callable[[bytes], Parsed]) -> Parsed:
    """``parse`` of the bytes of the dlib model file at ``path``; any error names the file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFormatError(f"{path}: cannot read the model file: {error.strerror}") from None
    try:
        return parse(data)
    except ModelFormatError as error:
        raise ModelFormatError(f"{path}: {error}") from None
