"""Download MNIST and Fashion-MNIST: mirrors tried in turn, checksums, a cache, atomic writes.

A file is streamed into a temporary file beside its destination, its MD5 / SHA-256 checked,
and only then renamed (``os.replace``) to its final name: a file under the final name is always
complete and verified. A download has a total deadline and a size cap (for the known files,
their size), so a server that trickles bytes or sends without end cannot hold it or fill the
disk. A temp file ``.<name>.<pid>.<hex>.part`` is removed when its download fails, and one left
by a killed process is removed when the next download of that file starts. Only ``urllib`` is
used.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "DEADLINE",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_MIRRORS",
    "FASHION_MNIST_SIZES",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "MNIST_SIZES",
    "DownloadError",
    "cache_dir",
    "download_fashion_mnist",
    "download_file",
    "download_mnist",
    "file_md5",
    "remove_stale_temp_files",
]

#: Mirrors of the MNIST files, tried in this order.
MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: The official MD5 sums of the four MNIST files.
MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
#: The sizes in bytes of the four MNIST files (a download is cut off past them).
MNIST_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}
#: The official Fashion-MNIST mirror (Zalando Research).
FASHION_MNIST_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
#: The MD5 sums published in the Fashion-MNIST README.
FASHION_MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

#: The sizes in bytes of the four Fashion-MNIST files.
FASHION_MNIST_SIZES: dict[str, int] = {
    "train-images-idx3-ubyte.gz": 26_421_880,
    "train-labels-idx1-ubyte.gz": 29_515,
    "t10k-images-idx3-ubyte.gz": 4_422_102,
    "t10k-labels-idx1-ubyte.gz": 5_148,
}
#: Seconds a download of one file may take in all (26 MB at 50 kB/s; then one more timeout).
DEADLINE = 600.0

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """Every mirror failed; ``errors`` holds one ``(url, reason)`` pair per mirror tried."""

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


def cache_dir() -> Path:
    """The user cache directory: ``$TINYGRAD_EDU_CACHE``, else ``$XDG_CACHE_HOME/tinygrad_edu``,
    else ``~/.cache/tinygrad_edu``. It is not created here."""
    if env := os.environ.get("TINYGRAD_EDU_CACHE"):
        return Path(env).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "tinygrad_edu"
    return Path.home() / ".cache" / "tinygrad_edu"


def file_md5(path: str | os.PathLike[str]) -> str:
    """The hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: int | None, name: str, quiet: bool):  # -> tqdm | None
    """A tqdm bar on an interactive stderr or in a Jupyter notebook (whose stderr is no
    terminal but shows the bar), else None (also when tqdm is not installed)."""
    if quiet or not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


def _resolve(host: str, port: int, timeout: float) -> None:
    """Look ``host`` up within ``timeout`` seconds (``getaddrinfo`` itself has no timeout)."""
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except OSError as err:
            outcome.append(err)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise OSError(f"DNS lookup of {host} timed out after {timeout:g} s")
    if outcome[0] is not None:
        raise OSError(f"cannot resolve {host}: {outcome[0]}")


def _fetch(url: str, dest: Path, check: _Check, timeout: float, quiet: bool) -> None:
    """Stream ``url`` into a temp file beside ``dest``, verify it, then rename it to ``dest``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"unsupported URL {url!r}: only http:// and https:// are downloaded")
    via_proxy = urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(
        parts.hostname
    )
    if not via_proxy:  # behind a proxy the proxy resolves the name, not us
        _resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), timeout)
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_edu"})
    with urllib.request.urlopen(request, timeout=min(timeout, check.left())) as response:
        if not quiet:  # only once a server answers: offline runs stay silent
            print(f"tinygrad_edu: downloading {url}", file=sys.stderr)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and check.max_bytes is not None and total > check.max_bytes:
            raise OSError(
                f"the server announces {total} bytes, more than the {check.max_bytes} expected"
            )
        # Not tempfile.mkstemp: its files are mode 0600; this one gets 0666 minus the umask.
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                received = _stream(response, out, check, _progress(total, dest.name, quiet))
            if total is not None and received != total:
                raise OSError(f"truncated: expected {total} bytes, got {received}")
            check.verify()
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


class _Check:
    """What a download must meet: a total ``deadline`` (seconds from now), at most
    ``max_bytes``, and the MD5 / SHA-256 given; the digests are computed as bytes arrive."""

    def __init__(
        self, md5: str | None, sha256: str | None, max_bytes: int | None, deadline: float
    ) -> None:
        self.md5, self.sha256, self.max_bytes, self.deadline = md5, sha256, max_bytes, deadline
        self.end = time.monotonic() + deadline
        self.md5_hash, self.sha_hash, self.received = hashlib.md5(), hashlib.sha256(), 0

    def left(self) -> float:
        """Seconds left before the deadline (an OSError once it has passed)."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise OSError(
                f"took longer than the {self.deadline:g} s deadline ({self.received} bytes "
                "received)"
            )
        return left

    def add(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.max_bytes is not None and self.received > self.max_bytes:
            raise OSError(f"more than the {self.max_bytes} bytes expected: not the right file")
        self.md5_hash.update(chunk)
        self.sha_hash.update(chunk)
        self.left()

    def verify(self) -> None:
        if self.md5 is not None and self.md5_hash.hexdigest() != self.md5.lower():
            raise OSError(f"MD5 mismatch: expected {self.md5}, got {self.md5_hash.hexdigest()}")
        if self.sha256 is not None and self.sha_hash.hexdigest() != self.sha256.lower():
            raise OSError(
                f"SHA-256 mismatch: expected {self.sha256}, got {self.sha_hash.hexdigest()}"
            )


def _stream(response: Any, out: BinaryIO, check: _Check, bar: Any) -> int:
    """Copy ``response`` to ``out`` as bytes arrive (``read1``: a trickle cannot hold one read
    for long), under ``check``; returns the bytes received."""
    try:
        while chunk := response.read1(_CHUNK):
            check.add(chunk)
            out.write(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return check.received


def remove_stale_temp_files(path: str | os.PathLike[str], suffix: str) -> list[Path]:
    """Remove the temp files ``.<name>.<pid>.<hex><suffix>`` of ``path`` whose process is gone
    (killed mid-write: a download's ``.part``, a save's ``.tmp``); returns those removed. A live
    process's temp file is left alone."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]+{re.escape(suffix)}")
    removed = []
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match and not _process_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (a PermissionError means it does)."""
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def download_file(
    urls: str | Iterable[str],
    dest: str | os.PathLike[str],
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 5.0,
    quiet: bool = False,
    max_bytes: int | None = None,
    deadline: float = DEADLINE,
) -> Path:
    """Download the first of ``urls`` that works to ``dest`` and return ``dest``.

    Each mirror is tried in turn; a response that is cut short (fewer bytes than its
    Content-Length), larger than ``max_bytes``, slower than ``deadline`` seconds in all (checked
    as bytes arrive, so at most one ``timeout`` late), or that fails the MD5 / SHA-256 check
    counts as a failure. ``dest`` appears only once a download is complete and verified.
    ``timeout`` (seconds) bounds the DNS lookup, the connection and each read. Raises
    :class:`DownloadError` listing each mirror's error.
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if not url_list:
        raise DownloadError(f"{dest.name}: no URL to download from")
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(dest, ".part")
    errors: list[tuple[str, str]] = []
    for url in url_list:
        try:
            _fetch(url, dest, _Check(md5, sha256, max_bytes, deadline), timeout, quiet)
            return dest
        except urllib.error.HTTPError as err:
            errors.append((url, f"HTTP {err.code} {err.reason}"))
        except urllib.error.URLError as err:
            errors.append((url, str(err.reason)))
        except (OSError, ValueError, http.client.HTTPException) as err:
            errors.append((url, str(err) or type(err).__name__))
    listing = "\n".join(f"  {url}: {reason}" for url, reason in errors)
    raise DownloadError(f"could not download {dest.name}; every mirror failed:\n{listing}", errors)


def _download_set(
    name: str,
    dest_dir: str | os.PathLike[str] | None = None,
    mirrors: Iterable[str] | None = None,
    files: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    quiet: bool = False,
    sizes: Mapping[str, int] | None = None,
    deadline: float = DEADLINE,
) -> Path:
    """Fetch each ``file -> md5`` of the set ``name``, mnist or fashion-mnist (its files,
    mirrors and sizes: the ``MNIST_*`` or ``FASHION_MNIST_*`` tables, unless given) into
    ``dest_dir`` (default ``cache_dir()/name``), skipping any file already there with the right
    MD5; ``sizes[file]`` (if there) caps a download. Stops at the first file no mirror can
    provide."""
    known_files, known_mirrors, known_sizes = (
        (MNIST_MD5, MNIST_MIRRORS, MNIST_SIZES)
        if name == "mnist"
        else (FASHION_MNIST_MD5, FASHION_MNIST_MIRRORS, FASHION_MNIST_SIZES)
    )
    files = known_files if files is None else files
    sizes = known_sizes if sizes is None else sizes
    mirror_list = [m if m.endswith("/") else m + "/" for m in mirrors or known_mirrors]
    dest = Path(dest_dir) if dest_dir is not None else cache_dir() / name
    dest.mkdir(parents=True, exist_ok=True)
    for file, md5 in files.items():
        if (dest / file).is_file() and file_md5(dest / file) == md5:
            continue
        download_file(
            [m + file for m in mirror_list],
            dest / file,
            md5=md5,
            timeout=timeout,
            quiet=quiet,
            max_bytes=sizes.get(file),
            deadline=deadline,
        )
    return dest


def download_mnist(dest_dir: str | os.PathLike[str] | None = None, **options: Any) -> Path:
    """Download the four MNIST files into ``dest_dir`` (default ``cache_dir()/"mnist"``).

    ``options``: ``mirrors`` (default :data:`MNIST_MIRRORS`), ``files`` (name -> MD5, default
    :data:`MNIST_MD5`), ``sizes`` (name -> the most bytes accepted, default
    :data:`MNIST_SIZES`), ``timeout`` (5 s), ``quiet`` and ``deadline`` (per file); files
    already present with the right MD5 are kept. Returns ``dest_dir``.
    """
    return _download_set("mnist", dest_dir, **options)


def download_fashion_mnist(dest_dir: str | os.PathLike[str] | None = None, **options: Any) -> Path:
    """Download the four Fashion-MNIST files into ``dest_dir`` (default
    ``cache_dir()/"fashion-mnist"``), with :func:`download_mnist`'s options (their defaults the
    ``FASHION_MNIST_*`` ones)."""
    return _download_set("fashion-mnist", dest_dir, **options)
