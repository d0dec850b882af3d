"""A look at a file before it is parsed: is it there, compressed, UTF-8; its header, delimiter and column types.

Only the first 64 KiB are read here (the UTF-8 scan reads on in blocks when asked), so these
checks cost nothing next to parsing; their :class:`~embrec.errors.DataError` messages name the
file, the line or byte where known, and the fix.
"""

from __future__ import annotations

import codecs
import csv
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from embrec.data.quoting import clipped, quoted
from embrec.errors import DataError

__all__ = [
    "DICT_STRING",
    "SAMPLE_BYTES",
    "Header",
    "base_suffix",
    "check_file",
    "compression_of",
    "describe_sep",
    "find_invalid_utf8",
    "guess_types",
    "normalize_sep",
    "read_head",
    "read_header",
    "read_sample",
    "utf8_error",
]

SAMPLE_BYTES = 1 << 16
#: How text ids are read: dictionary-encoded, each distinct id stored once.
DICT_STRING = pa.dictionary(pa.int32(), pa.string())
_CANDIDATE_SEPS = (",", "\t", ";", "|")
_SEP_BY_SUFFIX = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_COMPRESSED = {".gz", ".bz2", ".zst", ".lz4"}


def describe_sep(sep: str) -> str:
    """A delimiter as messages show it (a tab as ``'\\t' (tab)``)."""
    return "'\\t' (tab)" if sep == "\t" else repr(sep)


def normalize_sep(sep: str | None) -> str | None:
    """Accept ``\\t``, ``tab`` and the like for a tab; refuse multi-character delimiters."""
    if sep is None:
        return None
    named = {"\\t": "\t", "tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    sep = named.get(sep.lower(), sep)
    if len(sep) != 1:
        raise DataError(
            f"sep={quoted(sep, 40)} is not one character; pass a single-character delimiter such as ',', ';', '|' or "
            "'\\t' (MovieLens '::' files are read from their folder: pass the folder instead)."
        )
    if sep in '\r\n"':
        raise DataError(f"sep={sep!r} cannot be a delimiter; pass one such as ',', ';', '|' or '\\t'.")
    return sep


def check_file(path: str | Path, what: str = "ratings file") -> Path:
    """The path as a :class:`Path` if it is an existing, non-empty file; else a clear :class:`DataError`."""
    path = Path(path).expanduser()
    if not path.exists():
        parent = path.parent
        hint = ""
        if parent.is_dir():
            close = difflib.get_close_matches(path.name, [p.name for p in parent.iterdir()], n=3, cutoff=0.6)
            if close:
                hint = f" Did you mean {', '.join(repr(str(parent / c)) for c in close)}?"
        else:
            hint = f" (the folder {str(parent)!r} does not exist either)."
        raise DataError(f"{what} {str(path)!r} does not exist; check the path.{hint}")
    if path.is_dir():
        raise DataError(f"{what} {str(path)!r} is a folder, not a file; pass a file inside it.")
    if path.stat().st_size == 0:
        raise DataError(f"{what} {str(path)!r} is empty (0 bytes); give a file with a header and data rows.")
    return path


def compression_of(path: Path) -> str | None:
    """The pyarrow compression name of a ``.gz``/``.bz2``/``.zst``/``.lz4`` file, else ``None``."""
    suffix = path.suffix.lower()
    return {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}.get(suffix)


def base_suffix(path: Path) -> str:
    """The format extension, looking through a compression suffix (``x.csv.gz`` -> ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_head(path: Path, n: int = SAMPLE_BYTES) -> bytes:
    """The first ``n`` bytes of the (decompressed) file."""
    compression = compression_of(path)
    try:
        if compression is None:
            with open(path, "rb") as fh:
                return fh.read(n)
        with pa.input_stream(str(path), compression=compression) as stream:
            return bytes(stream.read(n))
    except (OSError, pa.ArrowException) as exc:
        raise DataError(
            f"{path}: cannot be read ({clipped(str(exc))}); check that it is a complete, readable file."
        ) from None


def find_invalid_utf8(path: str | Path) -> tuple[int, int, bytes] | None:
    """Where a file stops being UTF-8: ``(byte offset, line number, the bad bytes)``, or ``None``.

    Reads in blocks, so it works on files larger than memory.
    """
    path = Path(path)
    compression = compression_of(path)
    offset, line, carry = 0, 1, b""
    with pa.input_stream(str(path), compression=compression) if compression else open(path, "rb") as stream:
        while True:
            chunk = stream.read(1 << 22)
            last = not chunk
            data = carry + bytes(chunk)
            if not data:
                return None
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and not last:
                    good = data[: exc.start]
                    offset += len(good)
                    line += good.count(b"\n")
                    carry = data[exc.start :]
                    continue
                return offset + exc.start, line + data[: exc.start].count(b"\n"), data[exc.start : exc.end]
            if last:
                return None
            offset += len(data)
            line += data.count(b"\n")
            carry = b""


def utf8_error(path: Path) -> DataError | None:
    """A :class:`DataError` naming where ``path`` stops being UTF-8 and how to re-encode it; ``None`` if it is UTF-8."""
    found = find_invalid_utf8(path)
    if found is None:
        return None
    offset, line, bad = found
    guess = "Latin-1 (ISO-8859-1) or Windows-1252" if bad and bad[0] >= 0x80 else "another encoding"
    return DataError(
        f"{path}, line {line}: not UTF-8 text: byte {bad[:4].hex(' ')} at byte offset {offset:,} cannot be "
        f"decoded (the file is probably {guess}); re-encode it as UTF-8, e.g. "
        f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`."
    )


# --------------------------------------------------------------------------- header sniffing
@dataclass(frozen=True)
class Header:
    """The first line of a delimited text file, split by its delimiter."""

    fields: list[str]
    sep: str


def _decode_sample(path: Path, sample: bytes) -> str:
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            f"{path}: the file is UTF-16 text; re-encode it as UTF-8, e.g. "
            f"`iconv -f utf-16 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`."
        )
    nul = sample.find(b"\0")
    if nul >= 0:
        # no text format has NUL bytes: this is binary data (or UTF-16 without its byte-order mark)
        line = sample.count(b"\n", 0, nul) + 1
        raise DataError(
            f"{path}: holds NUL bytes (the first at byte offset {nul:,}, line {line}), so it "
            "is binary data, not CSV/TSV text; give a UTF-8 text file or a Parquet file (a Parquet file starts "
            "with b'PAR1': export it again if it should be one)."
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        raise (utf8_error(path) or DataError(f"{path}: not UTF-8 text; re-encode it as UTF-8.")) from None
    return text.lstrip("\ufeff")


def _sniff_sep(lines: list[str]) -> str | None:
    """The candidate delimiter that splits every sample line into the same number (>1) of fields."""
    best: tuple[int, str] | None = None
    for sep in _CANDIDATE_SEPS:
        counts = {len(next(csv.reader([ln], delimiter=sep))) for ln in lines if ln.strip()}
        if len(counts) == 1:
            n = counts.pop()
            if n > 1 and (best is None or n > best[0]):
                best = (n, sep)
    return None if best is None else best[1]


def read_header(path: Path, sep: str | None) -> Header:
    """The header fields and delimiter of a text file: ``sep`` if given, else by extension, else sniffed."""
    lines = _sample_lines(path)
    if sep is None:
        sep = _SEP_BY_SUFFIX.get(base_suffix(path)) or _sniff_sep(lines) or ","
    fields = [f.strip() for f in next(csv.reader([lines[0]], delimiter=sep))]
    # the header alone decides when the rows disagree (a ragged row, a delimiter inside a value)
    other = (_sniff_sep(lines) or _sniff_sep(lines[:1])) if len(fields) == 1 else None
    if other is not None and other != sep:
        raise DataError(
            f"{path}: reading it as {describe_sep(sep)}-separated gives one column ({quoted(lines[0], 80)}), but "
            f"it looks like it is separated by {describe_sep(other)} — pass sep={other!r}."
        )
    return Header(fields, sep)


def _sample_lines(path: Path) -> list[str]:
    """Up to 20 whole, non-blank lines from the start of the file."""
    sample = read_head(path)
    lines = _decode_sample(path, sample).splitlines()
    if len(sample) == SAMPLE_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut short
    lines = [ln for ln in lines[:20] if ln.strip()]
    if not lines:
        raise DataError(f"{path}: holds only blank lines; give a file with a header and data rows.")
    return lines


# --------------------------------------------------------------------------- column types
def read_sample(path: Path, sep: str, include: list[str]) -> pa.Table:
    """The ``include`` columns of the whole lines in the first 64 KiB, as pyarrow types them.

    Raises:
        pa.ArrowException, OSError: the sample cannot be parsed (the full read names the line).
    """
    sample = read_head(path)
    cut = sample.rfind(b"\n")
    if cut > 0 and len(sample) == SAMPLE_BYTES:
        sample = sample[: cut + 1]
    return pacsv.read_csv(
        pa.BufferReader(sample),
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(delimiter=sep),
        convert_options=pacsv.ConvertOptions(include_columns=include),
    )


def guess_types(path: Path, sep: str, include: list[str], roles: Mapping[str, str]) -> dict[str, pa.DataType]:
    """Column types from the first rows: ``int32`` ids, ``float32`` ratings, ``int64`` timestamps."""
    try:
        table = read_sample(path, sep, include)
    except (pa.ArrowException, OSError):
        return {}  # the full read reports the problem with its line number
    types = {name: _TYPE_OF[roles[name]](table.schema.field(name).type) for name in include if roles[name] in _TYPE_OF}
    return {name: typ for name, typ in types.items() if typ is not None}


# the type to read a column of a role as, from the type of its first rows; None: pyarrow's own guess
def _id_type(sampled: pa.DataType) -> pa.DataType | None:
    # ids in a text file are integers when every one is, else the text as written: "1.5", "007",
    # and integers too large for int64 (pyarrow samples those as floats) stay exact
    if pa.types.is_integer(sampled):
        return pa.int32()
    return DICT_STRING


def _rating_type(sampled: pa.DataType) -> pa.DataType | None:
    numeric = pa.types.is_integer(sampled) or pa.types.is_floating(sampled) or pa.types.is_null(sampled)
    return pa.float32() if numeric else pa.string()


def _timestamp_type(sampled: pa.DataType) -> pa.DataType | None:
    if pa.types.is_integer(sampled):
        return pa.int64()
    if pa.types.is_floating(sampled):
        return pa.float64()
    return None if pa.types.is_null(sampled) else pa.string()


_TYPE_OF: dict[str, Callable[[pa.DataType], pa.DataType | None]] = {
    "id": _id_type,
    "rating": _rating_type,
    "timestamp": _timestamp_type,
}
