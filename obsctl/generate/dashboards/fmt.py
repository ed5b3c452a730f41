"""Jsonnet formatting with the formatter that jsonnetfmt is built on.

jsonnetfmt is not packaged for this machine, but the PyPI `jsonnet` wheel's extension module links
the C++ libjsonnet, which exports the formatter's C API (libjsonnet_fmt.h: jsonnet_fmt_snippet and
its option setters). We call it through ctypes with jsonnetfmt's default options, so the result is
byte-for-byte what `jsonnetfmt` prints.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

import _jsonnet

from obsctl import paths
from obsctl.errors import ObsctlError, Problem


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_jsonnet.__file__)
    lib.jsonnet_make.restype = ctypes.c_void_p
    lib.jsonnet_destroy.argtypes = [ctypes.c_void_p]
    lib.jsonnet_fmt_snippet.restype = ctypes.c_void_p  # a buffer we must release with jsonnet_realloc
    lib.jsonnet_fmt_snippet.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
    ]
    lib.jsonnet_realloc.restype = ctypes.c_void_p
    lib.jsonnet_realloc.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    return lib


def format_source(text: str, filename: str = "<snippet>") -> str:
    """The jsonnetfmt rendering of `text`; ObsctlError naming the file when it does not parse."""
    lib = _lib()
    vm = lib.jsonnet_make()
    try:
        error = ctypes.c_int(0)
        buf = lib.jsonnet_fmt_snippet(vm, filename.encode(), text.encode("utf-8"), ctypes.byref(error))
        out = ctypes.string_at(buf).decode("utf-8")
        lib.jsonnet_realloc(vm, buf, 0)
    finally:
        lib.jsonnet_destroy(vm)
    if error.value:
        raise ObsctlError([Problem(file=filename, message=f"jsonnet does not parse: {out.strip()}")])
    return out


def sources() -> list[Path]:
    root = paths.DASHBOARDS
    return sorted(p for ext in ("*.jsonnet", "*.libsonnet") for p in root.rglob(ext))


def unformatted() -> list[str]:
    """Problems for `obsctl check`: every jsonnet file that jsonnetfmt would change."""
    problems = []
    for path in sources():
        rel = path.relative_to(paths.REPO).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            if format_source(text, rel) != text:
                problems.append(f"{rel}: not formatted as jsonnetfmt would; run `obsctl dashboards fmt`")
        except ObsctlError as exc:
            problems.extend(str(p) for p in exc.problems)
    return problems


def format_in_place() -> list[str]:
    """Reformat every jsonnet file under dashboards/; returns the ones that changed."""
    changed = []
    for path in sources():
        rel = path.relative_to(paths.REPO).as_posix()
        text = path.read_text(encoding="utf-8")
        formatted = format_source(text, rel)
        if formatted != text:
            path.write_text(formatted, encoding="utf-8")
            changed.append(rel)
    return changed
