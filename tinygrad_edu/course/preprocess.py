"""Turn a photo or scan of one handwritten digit into a 28x28 MNIST-style input.

MNIST's own recipe (LeCun et al.): white ink on black, the digit's bounding box scaled so its
longer side is 20 px (aspect ratio kept, anti-aliased), then translated so its centre of mass
sits at the centre (14, 14) of a 28x28 field. A photo needs a few steps before that recipe:

1. **greyscale** ``g`` in [0, 1]: RGB via luma ``0.299 R + 0.587 G + 0.114 B``, alpha
   composited onto white paper, 16-bit scaled by 1/65535; EXIF rotation applied.
2. **background** ``b(x, y)``: a smooth quadratic surface fitted (robustly) to a band of pixels
   along the border, where there is only paper; it absorbs uneven lighting. The residual
   ``r = g - b`` is ~0 on paper; the noise level ``sigma`` is the border residuals' MAD.
3. **polarity**: the ink is whichever side of the background reaches further (``r`` strongly
   negative: dark ink on light paper, so ``r <- -r``, the inversion MNIST needs); too little
   contrast (below ``MIN_CONTRAST`` or ``6 sigma``) means a blank image.
4. **ink mask**: ``r > t`` with ``t`` Otsu's threshold (at least ``4 sigma``); connected
   components much smaller than the largest one are specks and are dropped. No ink: an error.
5. **crop** to the mask's bounding box and scale intensities so that paper is 0 and the
   typical stroke is 1.
6. **pen width** (not in MNIST's recipe, but its digits all share it): MNIST strokes are about
   1/8 of the digit's longer side wide; a ballpoint line on a big photo may be 1/25 and would
   shrink to a faint hairline. Strokes thinner than ``THIN_STROKE`` are thickened (a grey
   dilation by a disc) to ``THICK_STROKE``; ``thicken=False`` turns this off.
7. **resize** the longer side to 20 px, **paste** into 28x28 at the integer shift that puts the
   centre of mass nearest to (14, 14).

Pure numpy plus Pillow (for decoding and resampling).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BOX_SIZE",
    "CANVAS_SIZE",
    "DigitSteps",
    "ImageError",
    "load_greyscale",
    "otsu_threshold",
    "preprocess_digit",
    "preprocess_steps",
    "stroke_width",
]

#: The side of the MNIST field, and of the box the digit's longer side is scaled to.
CANVAS_SIZE = 28
BOX_SIZE = 20
#: Larger inputs are first downscaled (area average) so their longer side is this many pixels.
WORKING_SIZE = 800
#: Minimum contrast between ink and paper (in [0, 1] greyscale units) to count as a digit.
MIN_CONTRAST = 0.08
#: Connected ink components smaller than this fraction of the largest are ignored as specks.
SPECK_FRACTION = 0.05
#: Stroke width relative to the digit's longer side: MNIST's median is ~0.125 (5th percentile
#: ~0.08). Thinner strokes (a ballpoint on a big photo) are thickened to THICK_STROKE.
THIN_STROKE, THICK_STROKE = 0.08, 0.12
#: Thickening works on the crop max-pooled so its longer side is at most this many pixels.
THICKEN_SIZE = 100

ImageInput = str | os.PathLike[str] | np.ndarray | Any  # Any: a PIL.Image.Image


class ImageError(ValueError):
    """An image cannot be read or holds no digit; the message says which image and why."""


# ----------------------------------------------------------------------------- loading


def _name(image: object) -> str:
    if isinstance(image, str | os.PathLike):
        return str(image)
    if isinstance(image, np.ndarray):
        return f"array {image.shape}"
    return type(image).__name__


def _open_path(path: Path) -> Any:
    """Decode an image file with Pillow (EXIF rotation applied); ImageError if impossible."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read (PNG, JPEG, ...)") from None
    except (
        Exception
    ) as err:  # decoders of corrupt files raise OSError, SyntaxError, struct.error...
        raise ImageError(f"{path}: cannot decode the image ({err})") from None


def _pil_to_array(img: Any, max_side: int | None) -> np.ndarray:
    """A PIL image as a numpy array with channels last, keeping 16-bit data 16-bit; when
    ``max_side`` is given, big images are first shrunk by an integer factor (box average)."""
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I", "F"):
        converted = img
    elif mode == "1":
        converted = img.convert("L")
    elif mode in ("P", "PA"):
        converted = img.convert("RGBA")
    elif mode == "La":
        converted = img.convert("LA")
    elif mode == "RGBa":
        converted = img.convert("RGBA")
    else:  # CMYK, YCbCr, LAB, HSV, ...
        converted = img.convert("RGB")
    factor = max(converted.size) // max_side if max_side else 0
    if factor >= 2 and not converted.mode.startswith("I;16"):  # Pillow cannot reduce I;16
        converted = converted.reduce(factor)
    if converted.mode.startswith("I;16"):
        return np.asarray(converted).astype(np.uint16)  # 16-bit: scaled by 1/65535 later
    if converted.mode == "I":  # 32-bit integers: 8-bit or 16-bit values by their range
        return np.clip(np.asarray(converted, dtype=np.int64), 0, 65535)
    if converted.mode == "F":  # 32-bit floats: [0, 1], else 8-bit or 16-bit ranges
        arr = np.nan_to_num(np.asarray(converted, dtype=np.float64))
        top = arr.max(initial=0.0)
        return np.clip(arr / (1.0 if top <= 1 else 255.0 if top <= 255 else 65535.0), 0, 1)
    return np.asarray(converted)


def _to_unit_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Integer or float pixel values as float64 in [0, 1] (8-bit, 16-bit or floats in [0, 1])."""
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 65535:
            raise ImageError(
                f"{name}: integer pixel values must lie in 0..255 (8-bit) or 0..65535 (16-bit), "
                f"got {lo}..{hi}"
            )
        sixteen_bit = arr.dtype == np.uint16 or hi > 255  # uint16 always; others by range
        scale = 65535.0 if sixteen_bit else 255.0
        return arr.astype(np.float64) / scale
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise ImageError(f"{name}: pixel values contain NaN or infinity")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(f"{name}: float pixel values must lie in [0, 1], got [{lo:g}, {hi:g}]")
        return out
    raise ImageError(f"{name}: pixel values of dtype {arr.dtype} are not numbers")


def _greyscale(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1|2|3|4) pixels -> (H, W) float64 grey in [0, 1], alpha onto white."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ImageError(
            f"{name}: expected an image of shape (H, W) or (H, W, C) with C in 1..4, "
            f"got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ImageError(f"{name}: the image is empty (shape {arr.shape})")
    x = _to_unit_float(arr, name)
    if x.ndim == 2:
        return x
    channels = x.shape[2]
    colour, alpha = (x, None) if channels == 3 else (x[:, :, :-1], x[:, :, -1])
    grey = colour[:, :, 0] if colour.shape[2] == 1 else colour @ np.array([0.299, 0.587, 0.114])
    if alpha is not None:  # composite onto white paper: a*g + (1 - a)*1
        grey = alpha * grey + (1.0 - alpha)
    return np.clip(grey, 0.0, 1.0)


def _resample(img: np.ndarray, height: int, width: int, resample: str) -> np.ndarray:
    """``img`` resampled to (height, width) by Pillow's filter ``resample`` (BOX, LANCZOS...),
    as float64 (computed in float32)."""
    from PIL import Image

    pil = Image.fromarray(img.astype(np.float32), mode="F")
    return np.asarray(pil.resize((width, height), getattr(Image.Resampling, resample)), np.float64)


def _downscale(grey: np.ndarray, max_side: int) -> np.ndarray:
    """Area-average ``grey`` so its longer side is at most ``max_side`` (aspect kept)."""
    h, w = grey.shape
    if max(h, w) <= max_side:
        return grey
    scale = max_side / max(h, w)
    return _resample(grey, max(1, round(h * scale)), max(1, round(w * scale)), "BOX")


def _pixels(image: Any, name: str, max_side: int | None) -> np.ndarray:
    """A numpy array as it is; a PIL image as an array (:func:`_pil_to_array`)."""
    if isinstance(image, np.ndarray):
        return image
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(
            f"preprocess: expected a path, a PIL image or a numpy array, got {type(image).__name__}"
        )
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{name}: the image is empty ({image.width}x{image.height})")
    return _pil_to_array(image, max_side)


def load_greyscale(image: ImageInput, max_side: int | None = None) -> np.ndarray:
    """The image as float64 ``(H, W)`` greyscale in [0, 1] (1 = white).

    ``image`` is a path, a PIL image or a numpy array ``(H, W)`` / ``(H, W, C)`` with C = 1
    (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA); uint8, uint16 or floats in [0, 1].
    Transparent pixels are composited onto white. With ``max_side``, the longer side is
    area-averaged down to at most ``max_side`` pixels. Raises :class:`ImageError`.
    """
    name = _name(image)
    if isinstance(image, str | os.PathLike):
        image = _open_path(Path(image))
    grey = _greyscale(_pixels(image, name, max_side), name)
    return grey if max_side is None else _downscale(grey, max_side)


# ----------------------------------------------------------------------------- analysis


def _border_mask(h: int, w: int) -> np.ndarray:
    """True on a band along the four edges, ~5% of the shorter side wide (at least 1 px)."""
    band = max(1, round(0.05 * min(h, w)))
    mask = np.zeros((h, w), dtype=bool)
    mask[:band], mask[-band:], mask[:, :band], mask[:, -band:] = True, True, True, True
    return mask


def _fit_background(grey: np.ndarray) -> tuple[np.ndarray, float]:
    """A quadratic surface ``b(x, y)`` fitted to the border band, and the noise level sigma.

    Least squares on ``[1, u, v, u^2, v^2, uv]`` (u, v in [-0.5, 0.5]), refitted twice without
    the pixels more than ``3 sigma`` away (ink touching the border, dust). ``sigma`` is the MAD
    of the kept residuals scaled to a Gaussian's standard deviation (at least 1/255).
    """
    h, w = grey.shape
    u = np.linspace(-0.5, 0.5, w) if w > 1 else np.zeros(1)
    v = np.linspace(-0.5, 0.5, h) if h > 1 else np.zeros(1)

    def terms(uu: np.ndarray, vv: np.ndarray) -> np.ndarray:
        return np.stack([np.ones_like(uu), uu, vv, uu * uu, vv * vv, uu * vv], axis=-1)

    rows, cols = np.nonzero(_border_mask(h, w))
    a, y = terms(u[cols], v[rows]), grey[rows, cols]
    keep = np.ones(len(y), dtype=bool)
    sigma = 1.0 / 255
    coef = np.zeros(a.shape[1])
    for _ in range(3):
        coef = np.linalg.lstsq(a[keep], y[keep], rcond=None)[0]
        res = y - a @ coef
        sigma = max(1.4826 * float(np.median(np.abs(res[keep] - np.median(res[keep])))), 1 / 255)
        new_keep = np.abs(res) <= 3 * sigma
        if new_keep.sum() < a.shape[1] * 2 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    uu, vv = u[None, :], v[:, None]
    surface = (
        coef[0]
        + coef[1] * uu
        + coef[2] * vv
        + coef[3] * uu**2
        + coef[4] * vv**2
        + coef[5] * uu * vv
    )
    return surface, sigma


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the ``t`` maximising the between-class variance ``w0 w1 (m0 - m1)^2``
    of the two classes ``values <= t`` and ``values > t`` (histogram with ``bins`` bins); the
    middle of the maximum when it is flat (an empty gap between the classes)."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(np.float64)
    w1 = counts.sum() - w0
    s0 = np.cumsum(counts * centres)[:-1]
    m0 = s0 / np.maximum(w0, 1)
    m1 = (np.sum(counts * centres) - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))  # a plateau in a clean gap:
    return float(edges[1:-1][(best[0] + best[-1]) // 2])  # take its middle


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``mask``: a label image (0 = none, 1..K) and the K sizes.

    Works on runs of True pixels in each row, joined by union-find with the overlapping runs
    (8-connectivity: touching diagonally counts) of the row above.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    diff = np.diff(padded, axis=1)
    starts_r, starts_c = np.nonzero(diff == 1)
    _, ends_c = np.nonzero(diff == -1)  # same row order as the starts; end is exclusive
    n = len(starts_r)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_begin = np.searchsorted(starts_r, np.arange(h + 1))
    for row in range(1, h):
        above = range(row_begin[row - 1], row_begin[row])
        j0 = above.start
        for i in range(row_begin[row], row_begin[row + 1]):
            s, e = starts_c[i], ends_c[i]
            while j0 < above.stop and ends_c[j0] < s:  # runs above ending left of s - 1
                j0 += 1
            j = j0
            while j < above.stop and starts_c[j] <= e:  # overlaps [s - 1, e] incl. diagonals
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
                j += 1
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    _, run_label = np.unique(roots, return_inverse=True)
    labels = np.zeros((h, w), dtype=np.int64)
    for i in range(n):
        labels[starts_r[i], starts_c[i] : ends_c[i]] = run_label[i] + 1
    sizes = np.bincount(labels.ravel(), minlength=run_label.max(initial=-1) + 2)[1:]
    return labels, sizes


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2 radius + 1)-square, via shifted ORs."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        out = grown
    return out


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of the ink ``mask`` in pixels: ``2 A / B`` for area A and B boundary
    pixels (a stroke of length L and width w has A = L w and B ~ 2 L)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    boundary = int((mask & ~inner).sum())
    return 2.0 * float(mask.sum()) / boundary if boundary else 0.0


def _thicken(crop: np.ndarray, relative_width: float) -> np.ndarray:
    """Grey dilation of ``crop`` by a disc so strokes become ``THICK_STROKE`` of the longer side.

    A stroke w = f L wide grows to w + 2r in a box of L + 2r, so r = L (T - f) / (2 (1 - T)).
    Runs on the crop max-pooled to at most ``THICKEN_SIZE`` px (it is scaled to 20 px next).
    """
    k = int(np.ceil(max(crop.shape) / THICKEN_SIZE))
    if k > 1:  # max-pool k x k blocks: a hairline keeps its full intensity (averaging fades it)
        h, w = -(-crop.shape[0] // k) * k, -(-crop.shape[1] // k) * k
        crop = np.pad(crop, ((0, h - crop.shape[0]), (0, w - crop.shape[1])))
        crop = crop.reshape(h // k, k, w // k, k).max(axis=(1, 3))
    radius = max(crop.shape) * (THICK_STROKE - relative_width) / (2 * (1 - THICK_STROKE))
    pad = int(np.ceil(radius))
    framed = np.pad(crop, pad)  # room for the strokes to grow outwards
    shifted = np.pad(framed, pad)  # every disc offset of `framed`, read from here
    out = np.zeros_like(framed)
    h, w = framed.shape
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            if dy * dy + dx * dx <= radius * radius:
                window = shifted[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
                np.maximum(out, window, out=out)
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    return out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _fit_and_centre(crop: np.ndarray) -> np.ndarray:
    """Resize ``crop`` so its longer side is 20 (aspect kept) and paste it into 28x28 so the
    centre of mass lands on the pixel nearest to (14, 14), keeping the whole box in view."""
    h, w = crop.shape
    scale = BOX_SIZE / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    box = np.clip(_resample(crop, nh, nw, "LANCZOS"), 0.0, 1.0).astype(np.float32)
    mass = box.sum()
    rows, cols = np.arange(nh), np.arange(nw)
    cy = float(box.sum(axis=1) @ rows / mass) if mass > 0 else (nh - 1) / 2
    cx = float(box.sum(axis=0) @ cols / mass) if mass > 0 else (nw - 1) / 2
    centre = CANVAS_SIZE // 2
    top = int(np.clip(round(centre - cy), 0, CANVAS_SIZE - nh))
    left = int(np.clip(round(centre - cx), 0, CANVAS_SIZE - nw))
    out = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.float32)
    out[top : top + nh, left : left + nw] = box
    return out


@dataclass(frozen=True)
class DigitSteps:
    """The intermediate images of :func:`preprocess_steps`, for figures and debugging.

    ``grey`` (H, W) the greyscale input (downscaled to the working size), ``background`` the
    fitted paper surface, ``ink`` the background-subtracted image with ink positive (inverted
    when ``inverted``), ``mask`` the ink pixels kept after dropping specks, ``box`` the crop
    ``(top, bottom, left, right)`` (bottom/right exclusive), ``level`` the ink scaled to
    [0, 1], ``crop`` the part of ``level`` that is scaled to 20 px (thickened if
    ``thickened``), ``output`` the float32 (28, 28) network input; ``threshold`` and ``sigma``
    the ink threshold and the noise level, ``stroke`` the stroke width as a fraction of the
    digit's longer side before any thickening.
    """

    grey: np.ndarray
    background: np.ndarray
    ink: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]
    level: np.ndarray
    crop: np.ndarray
    output: np.ndarray
    inverted: bool
    thickened: bool
    threshold: float
    sigma: float
    stroke: float


def _ink_side(residual: np.ndarray, sigma: float, name: str) -> tuple[np.ndarray, bool]:
    """Step 3, polarity: ``residual`` with the ink positive, and whether that meant ``-residual``
    (dark ink on light paper). The ink is the side reaching further from the paper, judged by the
    0.02% most extreme pixels (a thin line on a big photo may cover well under 1% of it)."""
    dark, light = -float(np.percentile(residual, 0.02)), float(np.percentile(residual, 99.98))
    contrast = max(dark, light)
    if contrast < max(MIN_CONTRAST, 6 * sigma):
        raise ImageError(
            f"{name}: no digit found: the image is blank (ink contrast {contrast:.3f} is below "
            f"{max(MIN_CONTRAST, 6 * sigma):.3f} for noise level {sigma:.3f})"
        )
    inverted = dark > light
    return (-residual if inverted else residual), bool(inverted)


def _ink_mask(ink: np.ndarray, threshold: float, name: str) -> np.ndarray:
    """Step 4: the pixels with ``ink > threshold``, without the connected components smaller
    than ``SPECK_FRACTION`` of the largest."""
    labels, sizes = _components(ink > threshold)
    if sizes.size == 0:
        raise ImageError(f"{name}: no digit found: no pixel stands out from the background")
    kept = np.flatnonzero(sizes >= SPECK_FRACTION * sizes.max()) + 1
    return np.isin(labels, kept)


def _bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the True pixels, bottom and right exclusive."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def _ink_level(
    ink: np.ndarray,
    mask: np.ndarray,
    box: tuple[int, int, int, int],
    threshold: float,
    sigma: float,
) -> np.ndarray:
    """Step 5: ink scaled so paper is 0 and a typical stroke pixel 1, clipped to [0, 1]; only
    ink near the kept components survives (a margin of ~2% of the digit for anti-aliased
    edges), so specks inside the box vanish."""
    top, bottom, left, right = box
    lo = max(3 * sigma, 0.5 * threshold)
    hi = max(float(np.median(ink[mask])), lo + 1e-6)
    level = np.clip((ink - lo) / (hi - lo), 0.0, 1.0)
    margin = max(1, round(0.02 * max(bottom - top, right - left)))
    level[~_dilate(mask, margin)] = 0.0
    return level


def preprocess_steps(image: ImageInput, thicken: bool = True) -> DigitSteps:
    """:func:`preprocess_digit` keeping every intermediate image (see :class:`DigitSteps`);
    the steps are numbered as in the module's docstring."""
    name = _name(image)
    grey = load_greyscale(image, max_side=WORKING_SIZE)  # 1
    h, w = grey.shape
    if min(h, w) < 8:
        raise ImageError(f"{name}: the image is too small ({w}x{h}); need at least 8x8 pixels")
    background, sigma = _fit_background(grey)  # 2
    ink, inverted = _ink_side(grey - background, sigma, name)  # 3
    threshold = max(otsu_threshold(ink), 4 * sigma)  # 4
    mask = _ink_mask(ink, threshold, name)
    box = top, bottom, left, right = _bounding_box(mask)  # 5
    level = _ink_level(ink, mask, box, threshold, sigma)
    crop = level[top:bottom, left:right]
    stroke = stroke_width(mask[top:bottom, left:right]) / max(bottom - top, right - left)  # 6
    thickened = thicken and stroke < THIN_STROKE
    if thickened:
        crop = _thicken(crop, stroke)
    return DigitSteps(
        grey=grey,
        background=background,
        ink=ink,
        mask=mask,
        box=box,
        level=level,
        crop=crop,
        output=_fit_and_centre(crop),  # 7
        inverted=inverted,
        thickened=bool(thickened),
        threshold=float(threshold),
        sigma=sigma,
        stroke=stroke,
    )


def preprocess_digit(image: ImageInput, thicken: bool = True) -> np.ndarray:
    """One handwritten digit (path, PIL image or array) -> float32 ``(28, 28)`` in [0, 1].

    White ink on black, the digit's bounding box scaled to fit 20x20 (longer side 20) and its
    centre of mass at (14, 14): MNIST's own preprocessing, after removing uneven lighting and
    inverting dark-on-light images (see the module docstring). With ``thicken``, strokes
    thinner than MNIST's are first thickened to its typical width. Raises
    :class:`ImageError` for unreadable files and for images with no ink.
    """
    return preprocess_steps(image, thicken=thicken).output
