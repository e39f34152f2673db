"""mjnb.inputs: every kind of image argument, every refusal, downscaling, hashes, masks."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mjnb.errors import InvalidArgument
from mjnb.inputs import ImageInput, image_input
from mjnb.masks import make_mask, mask_base64, mask_png
from mjnb.vocab import MAX_IMAGE_BYTES, MAX_PIXELS


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _noise(width: int, height: int, mode: str = "RGB", seed: int = 1) -> Image.Image:
    bands = len(mode)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, bands), dtype=np.uint8)
    return Image.fromarray(pixels, mode=mode)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.endswith("."), text
    return text


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(_png(Image.new("RGB", (64, 48), (200, 120, 40))))
    return path


# ------------------------------------------------------------------ every kind of input


@pytest.mark.parametrize("url", ["https://cdn.example.com/a.png", "http://example.com/x?y=1"])
def test_an_http_url_stays_a_url(url: str) -> None:
    got = image_input(url)
    assert got.is_remote and not got.is_local
    assert (got.url, got.data, got.size) == (url, None, None)
    assert got.ref == got.url_or_data_url == url
    assert got.fit(max_side=16) is got  # the provider fetches it; nothing to shrink


def test_a_url_with_a_credential_is_logged_redacted() -> None:
    got = image_input("https://example.com/a.png?token=s3cret&w=1")
    assert got.url == "https://example.com/a.png?token=s3cret&w=1"  # sent as given
    assert "s3cret" not in got.ref and "s3cret" not in got.name and "w=1" in got.ref


def test_a_url_has_no_bytes_to_encode() -> None:
    got = image_input("https://example.com/a.png")
    with pytest.raises(InvalidArgument, match="is a URL, and base64 needs the image's bytes"):
        _ = got.base64
    with pytest.raises(InvalidArgument, match="data URL needs"):
        _ = got.data_url


def test_a_path_string_and_a_pathlike_give_the_same_image(cat: Path) -> None:
    by_str, by_path = image_input(str(cat)), image_input(cat)
    assert by_str == by_path
    assert by_str.is_local and by_str.name == "cat.png"
    assert (by_str.mime, by_str.width, by_str.height) == ("image/png", 64, 48)
    assert by_str.data == cat.read_bytes()  # within limits: the bytes are sent untouched


def test_a_relative_path(cat: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(cat.parent)
    assert image_input("./cat.png").data == cat.read_bytes()
    assert image_input("cat.png").size == (64, 48)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_of_every_kind(cat: Path, kind: type) -> None:
    got = image_input(kind(cat.read_bytes()))
    assert got.data == cat.read_bytes() and got.name == "The image"
    assert got.sha256 == image_input(cat).sha256


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_each_accepted_type(fmt: str, mime: str) -> None:
    got = image_input(_encoded(Image.new("RGB", (40, 30), (10, 200, 30)), fmt))
    assert (got.mime, got.size) == (mime, (40, 30))
    assert got.data_url.startswith(f"data:{mime};base64,")


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"])
def test_a_pil_image_of_any_mode_becomes_png(mode: str) -> None:
    image = Image.new(mode, (20, 10))
    got = image_input(image)
    assert (got.mime, got.size, got.name) == ("image/png", (20, 10), "The PIL image")
    assert Image.open(io.BytesIO(got.data or b"")).format == "PNG"


def test_an_image_input_passes_through_and_name_labels_messages(cat: Path) -> None:
    first = image_input(cat)
    assert image_input(first) is first
    assert image_input(cat.read_bytes(), name="my upload").name == "my upload"
    with pytest.raises(InvalidArgument, match=r"^my upload is empty"):
        image_input(b"", name="my upload")


def test_repr_never_shows_the_bytes(cat: Path) -> None:
    got = image_input(cat)
    assert "data=" not in repr(got) and got.base64[:20] not in repr(got)
    assert got.sha256 in repr(got)


# ------------------------------------------------------------------ data URLs and hashes


def test_data_url_round_trip(cat: Path) -> None:
    got = image_input(cat)
    assert got.url_or_data_url == got.data_url
    back = image_input(got.data_url)
    assert back.data == got.data and back.sha256 == got.sha256 and back.mime == got.mime
    assert back.name == "The data URL" and back.is_local
    assert base64.b64decode(got.base64) == got.data
    assert got.data_url == f"data:image/png;base64,{got.base64}"


def test_a_percent_encoded_data_url(cat: Path) -> None:
    from urllib.parse import quote_from_bytes

    got = image_input("data:image/png," + quote_from_bytes(cat.read_bytes()))
    assert got.data == cat.read_bytes()


def test_the_hash_is_the_sha256_of_the_bytes_and_stable(cat: Path) -> None:
    got = image_input(cat)
    assert got.sha256 == hashlib.sha256(cat.read_bytes()).hexdigest()
    assert got.ref == f"sha256:{got.sha256}"
    image = Image.new("RGB", (30, 30), (1, 2, 3))
    assert image_input(image).sha256 == image_input(image.copy()).sha256
    assert image_input(image).sha256 != image_input(Image.new("RGB", (30, 30))).sha256
    # fitting is deterministic too: the same source gives the same downscaled bytes
    big = _noise(600, 400)
    assert image_input(big, max_side=100).sha256 == image_input(big, max_side=100).sha256


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("value", [42, None, 1.5, ["https://x.y/a.png"], {"url": "x"}, object()])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(InvalidArgument) as exc:
        image_input(value)
    text = _one_line(exc)
    assert text.startswith("An image must be a URL, a local path, bytes or a PIL image, got ")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("file:///tmp/cat.png", "file: URLs are not accepted as images: pass the path itself "
         "('/tmp/cat.png')."),
        ("javascript:alert(1)", "javascript: URLs are not accepted as images"),
        ("ftp://example.com/a.png", "ftp: URLs are not accepted"),
        ("https:///nohost.png", "is not a valid image URL"),
        ("https://example.com/a b.png", "is not a valid image URL"),
        ("   ", "An image was an empty string"),
        ("data:image/png;base64", "The data: URL has no ',' before its data"),
        ("data:image/png;base64,@@@@", "The data: URL's base64 is damaged"),
    ],
)  # fmt: skip
def test_bad_urls_are_refused(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=None) as exc:
        image_input(value)
    assert message in _one_line(exc)


def test_a_file_whose_name_looks_like_a_scheme_is_a_file(
    cat: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cat.parent)
    (cat.parent / "shot:1.png").write_bytes(cat.read_bytes())
    assert image_input("shot:1.png").data == cat.read_bytes()
    with pytest.raises(InvalidArgument, match="shot: URLs are not accepted"):
        image_input("shot:2.png")


def test_a_data_url_over_the_size_limit_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidArgument, match=r"^The data URL is 52 MB; the limit is 40 MB"):
        image_input("data:image/png;base64," + "A" * (52 * 1024 * 1024 * 4 // 3))


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as exc:
        image_input(tmp_path / "nope.png")
    assert _one_line(exc) == f"No image file at {tmp_path / 'nope.png'}: check the path."


def test_a_relative_missing_file_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument) as exc:
        image_input("cat.png")
    assert _one_line(exc) == f"No image file at cat.png (relative to {tmp_path}): check the path."


def test_an_unreadable_file_names_the_path(cat: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as exc:
        image_input(cat / "inside")  # a file used as a folder: the OS refuses
    assert _one_line(exc).startswith(f"Cannot read {cat / 'inside'}: ")
    with pytest.raises(InvalidArgument) as exc:
        image_input(tmp_path)
    assert _one_line(exc) == f"{tmp_path} is a folder, not an image file: name the file in it."


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    with path.open("wb") as f:
        f.truncate(52 * 1024 * 1024)  # sparse: no 52 MB written
    with pytest.raises(InvalidArgument) as exc:
        image_input(path)
    assert _one_line(exc) == "cat.png is 52 MB; the limit is 40 MB: shrink it first."
    with path.open("wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(InvalidArgument) as exc:
        image_input(path)
    assert _one_line(exc) == (
        f"cat.png is {MAX_IMAGE_BYTES + 1:,} bytes; the limit is {MAX_IMAGE_BYTES:,}: shrink it "
        "first."
    )


def test_bytes_over_the_size_limit_are_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^The image is 41 MB; the limit is 40 MB"):
        image_input(b"\x89PNG\r\n\x1a\n" + bytes(41 * 1024 * 1024))


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR only: huge dimensions, no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    head += struct.pack(">I", zlib.crc32(chunk))
    idat = b"IDAT" + zlib.compress(b"\x00" * 64)  # a few bytes of a row: far too few
    return head + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat))


def test_too_many_pixels_is_read_from_the_header_before_decoding() -> None:
    side = int(MAX_PIXELS**0.5) + 10
    with pytest.raises(InvalidArgument) as exc:
        image_input(_png_header(side, side), name="huge.png")  # no data: decoding would fail
    assert _one_line(exc) == (
        f"huge.png is {side}x{side} pixels; the limit is 64 megapixels: shrink it first."
    )
    with pytest.raises(InvalidArgument, match="far more than 64 megapixels"):
        image_input(_png_header(60_000, 60_000), name="bomb.png")  # past Pillow's own limit


def test_a_pil_image_with_too_many_pixels_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="is 9000x8000 pixels; the limit is 64 megapixels"):
        image_input(Image.new("1", (9000, 8000)))


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"BM" + bytes(60), "The image is a BMP image, not a PNG, JPEG, WebP or GIF: convert it "
         "first."),
        (b"II*\x00" + bytes(60), "is a TIFF image"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(40), "is a HEIC image"),
        (b"%PDF-1.7\n", "is a PDF document"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "is an SVG drawing"),
        (b"hello, world", "is not an image mjnb can read, not a PNG, JPEG, WebP or GIF"),
        (b"", "The image is empty (0 bytes): pass a PNG, JPEG, WebP or GIF image."),
    ],
)  # fmt: skip
def test_other_file_types_are_refused_by_name(data: bytes, what: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        image_input(data)
    assert what in _one_line(exc)


def test_a_real_bmp_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cat.bmp"
    Image.new("RGB", (8, 8)).save(path, "BMP")
    with pytest.raises(InvalidArgument, match=r"^cat\.bmp is a BMP image, not a PNG"):
        image_input(str(path))


def test_a_truncated_image_is_refused_before_sending(cat: Path) -> None:
    data = _png(_noise(64, 64))
    with pytest.raises(InvalidArgument) as exc:
        image_input(data[: len(data) // 2], name="half.png")
    assert _one_line(exc).startswith("half.png is damaged or cut short (")
    with pytest.raises(InvalidArgument, match="header is damaged"):
        image_input(b"\x89PNG\r\n\x1a\n" + bytes(30), name="bad.png")


# ------------------------------------------------------------------ fitting to limits


def test_within_the_limits_nothing_changes(cat: Path) -> None:
    got = image_input(cat)
    assert got.fit(max_side=64, max_bytes=10**6) is got


def test_max_side_downscales_keeping_the_aspect_and_the_type() -> None:
    png = image_input(_noise(900, 300), max_side=300)
    assert (png.size, png.mime) == ((300, 100), "image/png")
    jpeg = image_input(_encoded(_noise(400, 800), "JPEG", quality=90)).fit(max_side=200)
    assert (jpeg.size, jpeg.mime) == ((100, 200), "image/jpeg")
    webp = image_input(_encoded(_noise(500, 500), "WEBP")).fit(max_side=128)
    assert (webp.size, webp.mime) == ((128, 128), "image/webp")
    decoded = Image.open(io.BytesIO(jpeg.data or b""))
    assert decoded.size == (100, 200)  # the bytes match the reported size
    assert jpeg.sha256 == hashlib.sha256(jpeg.data or b"").hexdigest()


def test_a_gif_is_downscaled_to_a_png() -> None:
    got = image_input(_encoded(Image.new("P", (300, 300)), "GIF"), max_side=100)
    assert (got.mime, got.size) == ("image/png", (100, 100))


def test_max_bytes_turns_an_opaque_png_into_a_jpeg_under_the_limit() -> None:
    source = image_input(_noise(800, 600))
    assert len(source.data or b"") > 1_000_000
    got = source.fit(max_bytes=200_000)
    assert got.mime == "image/jpeg" and len(got.data or b"") <= 200_000
    assert got.size is not None and got.size[0] / got.size[1] == pytest.approx(800 / 600, 0.01)


def test_max_bytes_keeps_transparency_by_shrinking() -> None:
    got = image_input(_noise(600, 600, "RGBA"), max_bytes=100_000)
    assert got.mime == "image/png" and len(got.data or b"") <= 100_000
    assert got.size is not None and got.size[0] < 600
    assert Image.open(io.BytesIO(got.data or b"")).mode == "RGBA"


def test_fit_applies_the_exif_rotation() -> None:
    image = Image.new("RGB", (200, 100), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    got = image_input(_encoded(image, "JPEG", exif=exif.tobytes()), max_side=50)
    assert got.size == (25, 50)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_side": 0}, "max_side must be a positive"), ({"max_bytes": 10}, "max_bytes must be")],
)
def test_bad_limits(cat: Path, options: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        image_input(cat).fit(**options)


# ------------------------------------------------------------------ masks

SIZE = (200, 100)  # (width, height) of the image the mask is for


def _white(mask: Image.Image) -> np.ndarray:
    assert mask.mode == "L" and mask.size == SIZE
    values = np.asarray(mask)
    assert set(np.unique(values)) <= {0, 255}  # black and white only
    return values == 255


def _expected_box(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    want = np.zeros((SIZE[1], SIZE[0]), bool)
    want[y0:y1, x0:x1] = True
    return want


def test_a_box_mask() -> None:
    mask, notes = make_mask((20, 10, 60, 40), SIZE)
    assert notes == ()
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()
    mask, _ = make_mask([20.4, 9.6, 59.5, 40.2], SIZE)  # floats round; a list works
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()


def test_a_box_reaching_past_the_image_is_clipped_and_the_user_told() -> None:
    mask, notes = make_mask((150, -10, 260, 50), SIZE)
    assert (_white(mask) == _expected_box(150, 0, 200, 50)).all()
    assert notes == (
        "The mask box (150, -10, 260, 50) reaches past the 200x100 image: clipped to "
        "(150, 0, 200, 50).",
    )


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((60, 10, 20, 40), "The mask box (60, 10, 20, 40) is inverted or empty: x1 must exceed x0"),
        ((20, 40, 60, 40), "is inverted or empty"),
        ((210, 0, 300, 50), "The mask box (210, 0, 300, 50) lies outside the 200x100 image"),
        ((-50, -50, 0, 0), "lies outside"),
        ((0, 0, 200, 100), "The mask covers the whole image (all white)"),
        ((-5, -5, 500, 500), "covers the whole image"),
        ((1, 2, 3), "A mask box is four numbers (x0, y0, x1, y1) in image pixels, got (1, 2, 3)."),
        ((1, 2, 3, "4"), "A mask box is four numbers"),
        ((True, 0, 5, 5), "A mask box is four numbers"),
        ((float("nan"), 0, 5, 5), "A mask box is four numbers"),
    ],
)
def test_bad_boxes(box: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        make_mask(box, SIZE)
    assert message in _one_line(exc)


def _painted(mode: str, white: object, black: object) -> Image.Image:
    image = Image.new(mode, SIZE, black)  # type: ignore[arg-type]
    image.paste(white, (20, 10, 60, 40))  # type: ignore[arg-type]
    return image


@pytest.mark.parametrize(
    ("mode", "white", "black"),
    [
        ("L", 255, 0),
        ("1", 1, 0),
        ("RGB", (255, 255, 255), (0, 0, 0)),
        ("RGBA", (255, 255, 255, 255), (0, 0, 0, 255)),
        ("RGBA", (255, 255, 255, 255), (255, 255, 255, 0)),  # transparent = not painted
        ("LA", (255, 255), (255, 0)),
        ("I;16", 65535, 0),
        ("F", 1.0, 0.0),
    ],
)
def test_a_pil_mask_of_any_mode(mode: str, white: object, black: object) -> None:
    mask, notes = make_mask(_painted(mode, white, black), SIZE)
    assert notes == ()
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()


def test_a_palette_mask() -> None:
    mask, _ = make_mask(_painted("RGB", (255, 255, 255), (0, 0, 0)).convert("P"), SIZE)
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()


def test_grey_is_thresholded_at_half() -> None:
    image = Image.new("L", SIZE, 127)
    image.paste(128, (0, 0, 50, 100))
    assert (_white(make_mask(image, SIZE)[0]) == _expected_box(0, 0, 50, 100)).all()


def _box_array(dtype: type, white: object, shape: tuple[int, ...] = ()) -> np.ndarray:
    a = np.zeros((SIZE[1], SIZE[0], *shape), dtype)
    a[10:40, 20:60] = white
    return a


@pytest.mark.parametrize(
    "array",
    [
        _box_array(bool, True),
        _box_array(np.uint8, 255),
        _box_array(np.uint8, 1),  # 0/1 integers: 1 = repaint
        _box_array(np.int64, 1),
        _box_array(np.int32, 200),
        _box_array(np.float32, 1.0),
        _box_array(np.float64, 0.75),
        _box_array(np.uint8, 255, (1,)),
        _box_array(np.uint8, 255, (3,)),
        _box_array(np.float64, 1.0, (3,)),
    ],
    ids=lambda a: f"{a.dtype}-{a.shape}",
)
def test_an_array_mask(array: np.ndarray) -> None:
    mask, notes = make_mask(array, SIZE)
    assert notes == ()
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()


def test_an_rgba_array_mask_uses_its_alpha() -> None:
    a = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    a[..., 3] = 0  # white but transparent everywhere ...
    a[10:40, 20:60, 3] = 255  # ... except the painted box
    assert (_white(make_mask(a, SIZE)[0]) == _expected_box(20, 10, 60, 40)).all()


def test_a_mask_of_another_size_is_scaled_and_the_user_told() -> None:
    small = np.zeros((50, 100), bool)  # half the image's size
    small[5:20, 10:30] = True
    mask, notes = make_mask(small, SIZE)
    assert notes == ("The mask is 100x50 but the image is 200x100: it was scaled to fit.",)
    assert (_white(mask) == _expected_box(20, 10, 60, 40)).all()
    _, notes = make_mask(_square_mask(), SIZE)
    assert notes == (
        "The mask is 100x100 but the image is 200x100: it was scaled to fit (and stretched: "
        "its shape differs).",
    )


def _square_mask() -> Image.Image:
    image = Image.new("L", (100, 100), 0)
    image.paste(255, (0, 0, 10, 10))
    return image


@pytest.mark.parametrize(
    "mask",
    [
        np.zeros((100, 200), bool),
        np.zeros((100, 200), np.uint8),
        np.full((100, 200), 0.4),
        Image.new("L", SIZE, 0),
        Image.new("RGBA", SIZE, (255, 255, 255, 0)),
        np.zeros((10, 10), bool),  # scaled first, still empty
    ],
    ids=["bool", "uint8", "float", "pil", "transparent", "small"],
)
def test_an_empty_mask_is_refused(mask: object) -> None:
    with pytest.raises(InvalidArgument) as exc:
        make_mask(mask, SIZE)
    assert _one_line(exc) == "The mask is empty (all black): paint the area to repaint in white."


@pytest.mark.parametrize(
    "mask",
    [
        np.ones((100, 200), bool),
        np.full((100, 200), 255, np.uint8),
        Image.new("RGB", SIZE, "white"),
    ],
    ids=["bool", "uint8", "pil"],
)
def test_a_mask_covering_everything_is_refused(mask: object) -> None:
    with pytest.raises(InvalidArgument) as exc:
        make_mask(mask, SIZE)
    assert _one_line(exc).startswith("The mask covers the whole image (all white)")


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ("mask.png", "A mask must be a PIL image, a numpy array or a box (x0, y0, x1, y1), "
         "got str."),
        (None, "got NoneType"),
        (np.zeros((2, 3, 4, 5)), "A mask array must be 2-D (height, width) or (height, width, "
         "1|3|4), got shape (2, 3, 4, 5)."),
        (np.zeros((10, 10, 2)), "got shape (10, 10, 2)"),
        (np.zeros((0, 10)), "The mask array has no pixels"),
        (np.full((10, 10), 1.5), "The mask array holds floats 1.5..1.5; use 0-1 (1 = repaint)."),
        (np.full((10, 10), np.nan), "holds NaN or infinity"),
        (np.full((10, 10), -1), "The mask array holds -1..-1; use 0-255, 0/1, bool or floats 0-1."),
        (np.full((10, 10), 1000), "holds 1000..1000"),
        (np.zeros((10, 10), complex), "The mask array is complex128; use bool, uint8 or floats"),
    ],
)  # fmt: skip
def test_bad_masks(mask: object, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        make_mask(mask, SIZE)
    assert message in _one_line(exc)


@pytest.mark.parametrize("size", [(0, 10), (10,), "big", None])
def test_a_bad_size(size: object) -> None:
    with pytest.raises(InvalidArgument, match="size must be"):
        make_mask((0, 0, 5, 5), size)  # type: ignore[arg-type]


def test_mask_encodings_are_grayscale_png() -> None:
    mask, _ = make_mask((20, 10, 60, 40), SIZE)
    data = mask_png(mask)
    assert base64.b64decode(mask_base64(mask)) == data
    decoded = Image.open(io.BytesIO(data))
    assert (decoded.format, decoded.mode, decoded.size) == ("PNG", "L", SIZE)
    assert (np.asarray(decoded) == np.asarray(mask)).all()
    # the encoded mask is itself a valid image input (for an upload or a data URL)
    assert image_input(data).mime == "image/png"
    assert isinstance(image_input(data), ImageInput)


def test_import_mjnb_inputs_loads_no_pillow_or_numpy() -> None:
    import json
    import subprocess
    import sys

    probe = (
        "import sys, json, mjnb.inputs; "
        "print(json.dumps(sorted(m for m in ('PIL', 'numpy') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
