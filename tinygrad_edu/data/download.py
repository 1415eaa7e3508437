"""Download MNIST and Fashion-MNIST: mirrors tried in turn, checksums, a cache, atomic writes.

A file is streamed into a temporary file beside its destination, its MD5 / SHA-256 checked,
and only then renamed (``os.replace``) to its final name: a file under the final name is always
complete and verified. Only ``urllib`` is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_MIRRORS",
    "MNIST_MD5",
    "MNIST_MIRRORS",
    "DownloadError",
    "cache_dir",
    "download_fashion_mnist",
    "download_file",
    "download_mnist",
    "file_md5",
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
    """A tqdm bar on an interactive stderr, else None (also when tqdm is not installed)."""
    if quiet or not sys.stderr.isatty():
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


def _fetch(
    url: str, dest: Path, md5: str | None, sha256: str | None, timeout: float, quiet: bool
) -> None:
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
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if not quiet:  # only once a server answers: offline runs stay silent
            print(f"tinygrad_edu: downloading {url}", file=sys.stderr)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        # Not tempfile.mkstemp: its files are mode 0600; this one gets 0666 minus the umask.
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            md5_hash, sha_hash, received = hashlib.md5(), hashlib.sha256(), 0
            bar = _progress(total, dest.name, quiet)
            try:
                with os.fdopen(fd, "wb") as out:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        md5_hash.update(chunk)
                        sha_hash.update(chunk)
                        received += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                if bar is not None:
                    bar.close()
            if total is not None and received != total:
                raise OSError(f"truncated: expected {total} bytes, got {received}")
            if md5 is not None and md5_hash.hexdigest() != md5.lower():
                raise OSError(f"MD5 mismatch: expected {md5}, got {md5_hash.hexdigest()}")
            if sha256 is not None and sha_hash.hexdigest() != sha256.lower():
                raise OSError(f"SHA-256 mismatch: expected {sha256}, got {sha_hash.hexdigest()}")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def download_file(
    urls: str | Iterable[str],
    dest: str | os.PathLike[str],
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = 5.0,
    quiet: bool = False,
) -> Path:
    """Download the first of ``urls`` that works to ``dest`` and return ``dest``.

    Each mirror is tried in turn; a response that is cut short (fewer bytes than its
    Content-Length) or fails the MD5 / SHA-256 check counts as a failure. ``dest`` appears only
    once a download is complete and verified. ``timeout`` (seconds) bounds the DNS lookup, the
    connection and each read. Raises :class:`DownloadError` listing each mirror's error.
    """
    url_list = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if not url_list:
        raise DownloadError(f"{dest.name}: no URL to download from")
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors: list[tuple[str, str]] = []
    for url in url_list:
        try:
            _fetch(url, dest, md5, sha256, timeout, quiet)
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
    files: Mapping[str, str],
    mirrors: Iterable[str],
    dest_dir: Path,
    timeout: float,
    quiet: bool,
) -> Path:
    """Fetch each ``name -> md5`` of ``files`` from ``mirrors`` into ``dest_dir``, skipping any
    file already there with the right MD5. Stops at the first file no mirror can provide."""
    mirror_list = [m if m.endswith("/") else m + "/" for m in mirrors]
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name, md5 in files.items():
        dest = dest_dir / name
        if dest.is_file() and file_md5(dest) == md5:
            continue
        download_file([m + name for m in mirror_list], dest, md5=md5, timeout=timeout, quiet=quiet)
    return dest_dir


def download_mnist(
    dest_dir: str | os.PathLike[str] | None = None,
    mirrors: Iterable[str] | None = None,
    files: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    quiet: bool = False,
) -> Path:
    """Download the four MNIST files into ``dest_dir`` (default ``cache_dir()/"mnist"``).

    ``mirrors`` defaults to :data:`MNIST_MIRRORS` and ``files`` (name -> MD5) to
    :data:`MNIST_MD5`; files already present with the right MD5 are kept. Returns ``dest_dir``.
    """
    dest = Path(dest_dir) if dest_dir is not None else cache_dir() / "mnist"
    return _download_set(
        files if files is not None else MNIST_MD5,
        mirrors if mirrors is not None else MNIST_MIRRORS,
        dest,
        timeout,
        quiet,
    )


def download_fashion_mnist(
    dest_dir: str | os.PathLike[str] | None = None,
    mirrors: Iterable[str] | None = None,
    files: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    quiet: bool = False,
) -> Path:
    """Download the four Fashion-MNIST files into ``dest_dir`` (default
    ``cache_dir()/"fashion-mnist"``), like :func:`download_mnist`."""
    dest = Path(dest_dir) if dest_dir is not None else cache_dir() / "fashion-mnist"
    return _download_set(
        files if files is not None else FASHION_MNIST_MD5,
        mirrors if mirrors is not None else FASHION_MNIST_MIRRORS,
        dest,
        timeout,
        quiet,
    )
