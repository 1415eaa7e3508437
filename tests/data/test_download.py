"""The downloader against a loopback HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from tinygrad_edu.data import DownloadError, cache_dir, download_file, download_mnist
from tinygrad_edu.data.download import MNIST_MD5, MNIST_SIZES, file_md5

if TYPE_CHECKING:
    from conftest import FileServer

LABELS = "t10k-labels-idx1-ubyte.gz"
IMAGES = "t10k-images-idx3-ubyte.gz"
# From shared/data/mnist-24k/README.md: the official test files' SHA-256.
IMAGES_SHA256 = "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"


BLOB = "blob.bin"


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def blob_server(file_server: FileServer) -> FileServer:
    """The loopback server holding ``blob.bin``, 300 kB of random bytes (no real data needed)."""
    (file_server.root / BLOB).write_bytes(np.random.default_rng(0).bytes(300_000))
    return file_server


def test_good_file_verifies(t10k_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / LABELS
    got = download_file(t10k_server.url() + LABELS, dest, md5=MNIST_MD5[LABELS], quiet=True)
    assert got == dest
    assert file_md5(dest) == MNIST_MD5[LABELS]
    assert leftovers(dest.parent) == [LABELS]  # no temp file left behind


def test_md5_and_sha256_together(t10k_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / IMAGES
    download_file(
        [t10k_server.url() + IMAGES], dest, md5=MNIST_MD5[IMAGES], sha256=IMAGES_SHA256, quiet=True
    )
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == IMAGES_SHA256


def test_wrong_md5_rejected_and_nothing_left(t10k_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / LABELS
    with pytest.raises(DownloadError, match=r"MD5 mismatch: expected 0{32}") as info:
        download_file(t10k_server.url() + LABELS, dest, md5="0" * 32, quiet=True)
    assert leftovers(dest.parent) == []
    assert len(info.value.errors) == 1


def test_wrong_sha256_rejected(blob_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / BLOB
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download_file(blob_server.url() + BLOB, dest, sha256="f" * 64, quiet=True)
    assert not dest.exists()
    assert not list(tmp_path.glob("*.part"))


def test_truncated_response_rejected(blob_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / BLOB
    with pytest.raises(DownloadError, match="truncated: expected 300000 bytes, got 150000"):
        download_file(blob_server.url("truncated") + BLOB, dest, quiet=True)  # no checksum
    assert leftovers(dest.parent) == []


def test_truncated_official_file_rejected(t10k_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / IMAGES
    with pytest.raises(DownloadError, match="truncated"):
        download_file(
            t10k_server.url("truncated") + IMAGES, dest, md5=MNIST_MD5[IMAGES], quiet=True
        )
    assert leftovers(dest.parent) == []


def test_failure_keeps_an_existing_file(blob_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "out" / BLOB
    dest.parent.mkdir()
    dest.write_bytes(b"previous content")
    with pytest.raises(DownloadError):
        download_file(blob_server.url("truncated") + BLOB, dest, quiet=True)
    assert dest.read_bytes() == b"previous content"
    assert leftovers(dest.parent) == [BLOB]


def test_success_replaces_an_existing_file(blob_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / BLOB
    dest.write_bytes(b"old")
    md5 = file_md5(blob_server.root / BLOB)
    download_file(blob_server.url() + BLOB, dest, md5=md5, quiet=True)
    assert file_md5(dest) == md5
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_server_down_fails_fast(tmp_path: Path, dead_url: Callable[[], str]) -> None:
    url = dead_url() + LABELS
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download_file(url, tmp_path / "out" / LABELS, timeout=2.0, quiet=True)
    assert time.monotonic() - start < 3.0
    assert url in str(info.value)
    assert "every mirror failed" in str(info.value)
    assert leftovers(tmp_path / "out") == []


def test_http_error_is_reported(file_server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(file_server.url() + "missing.gz", tmp_path / "missing.gz", quiet=True)


def test_first_mirror_bad_second_good(
    t10k_server: FileServer, tmp_path: Path, dead_url: Callable[[], str]
) -> None:
    mirrors = [
        dead_url(),  # down
        t10k_server.url("truncated"),  # cut short
        t10k_server.url(),  # good
    ]
    dest = tmp_path / "out" / LABELS
    download_file([m + LABELS for m in mirrors], dest, md5=MNIST_MD5[LABELS], quiet=True)
    assert file_md5(dest) == MNIST_MD5[LABELS]
    assert leftovers(dest.parent) == [LABELS]


def test_first_mirror_bad_second_good_no_real_data(
    blob_server: FileServer, tmp_path: Path, dead_url: Callable[[], str]
) -> None:
    md5 = file_md5(blob_server.root / BLOB)
    mirrors = [dead_url(), blob_server.url("truncated"), blob_server.url()]
    dest = tmp_path / "out" / BLOB
    download_file([m + BLOB for m in mirrors], dest, md5=md5, quiet=True)
    assert file_md5(dest) == md5 and leftovers(dest.parent) == [BLOB]


def test_all_mirrors_listed(blob_server: FileServer, tmp_path: Path) -> None:
    urls = [blob_server.url("truncated") + BLOB, blob_server.url() + "nope.gz"]
    with pytest.raises(DownloadError) as info:
        download_file(urls, tmp_path / BLOB, quiet=True)
    assert [url for url, _ in info.value.errors] == urls
    for url in urls:
        assert url in str(info.value)


def test_only_http_urls(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"x")
    with pytest.raises(DownloadError, match="only http:// and https://"):
        download_file(source.as_uri(), tmp_path / "dest", quiet=True)
    with pytest.raises(DownloadError, match="no URL"):
        download_file([], tmp_path / "dest", quiet=True)


def test_progress_line_unless_quiet(
    blob_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    download_file(blob_server.url() + BLOB, tmp_path / "a", quiet=False)
    assert "downloading" in capsys.readouterr().err
    download_file(blob_server.url() + BLOB, tmp_path / "b", quiet=True)
    assert capsys.readouterr().err == ""


def test_progress_bar_in_a_notebook_only(
    blob_server: FileServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No bar on a stderr that is not a terminal (a log file), but one in a Jupyter kernel, whose
    stderr is not a terminal either but shows it."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    download_file(blob_server.url() + BLOB, tmp_path / "a", quiet=False)
    assert "B/s" not in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    download_file(blob_server.url() + BLOB, tmp_path / "b", quiet=False)
    assert "B/s" in capsys.readouterr().err  # tqdm's rate: the bar was drawn
    download_file(blob_server.url() + BLOB, tmp_path / "c", quiet=True)
    assert capsys.readouterr().err == ""


def test_download_mnist_with_injected_mirrors(
    t10k_server: FileServer, tmp_path: Path, dead_url: Callable[[], str]
) -> None:
    files = {name: MNIST_MD5[name] for name in (IMAGES, LABELS)}
    mirrors = [dead_url().rstrip("/"), t10k_server.url()]  # no trailing slash is fine too
    dest = download_mnist(tmp_path / "mnist", mirrors=mirrors, files=files, quiet=True)
    assert sorted(leftovers(dest)) == sorted(files)
    served = len(t10k_server.requests)
    download_mnist(dest, mirrors=mirrors, files=files, quiet=True)  # already there: no request
    assert len(t10k_server.requests) == served


def test_download_mnist_replaces_a_bad_cached_file(t10k_server: FileServer, tmp_path: Path) -> None:
    dest = tmp_path / "mnist"
    dest.mkdir()
    (dest / LABELS).write_bytes(b"garbage")
    download_mnist(dest, mirrors=[t10k_server.url()], files={LABELS: MNIST_MD5[LABELS]}, quiet=True)
    assert file_md5(dest / LABELS) == MNIST_MD5[LABELS]


def test_download_mnist_defaults_to_cache(isolated_cache: Path) -> None:
    # The default mirrors point at a closed loopback port (see conftest), so this fails fast.
    with pytest.raises(DownloadError, match=r"train-images-idx3-ubyte\.gz"):
        download_mnist(quiet=True)
    assert (isolated_cache / "mnist").is_dir()
    assert leftovers(isolated_cache / "mnist") == []


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TINYGRAD_EDU_CACHE", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("TINYGRAD_EDU_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "tinygrad_edu"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "tinygrad_edu"


def test_a_trickling_server_meets_the_deadline(file_server: FileServer, tmp_path: Path) -> None:
    """Before: a server sending one byte every 0.5 s kept the download alive forever."""
    dest = tmp_path / "out" / BLOB
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"took longer than the 0\.3 s deadline \(\d+ bytes"):
        download_file(file_server.url("trickle") + BLOB, dest, deadline=0.3, quiet=True)
    assert time.monotonic() - start < 2.0
    assert leftovers(dest.parent) == []


def test_an_endless_response_is_cut_at_the_size_cap(
    file_server: FileServer, tmp_path: Path
) -> None:
    """Before: an endless response wrote 150 MB into the cache."""
    dest = tmp_path / "out" / BLOB
    start = time.monotonic()
    with pytest.raises(DownloadError, match="more than the 200000 bytes expected"):
        download_file(file_server.url("endless") + BLOB, dest, max_bytes=200_000, quiet=True)
    assert time.monotonic() - start < 2.0
    assert leftovers(dest.parent) == []


def test_a_file_announced_larger_than_the_cap_is_not_read(
    blob_server: FileServer, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="announces 300000 bytes, more than the 1000 expected"):
        download_file(blob_server.url() + BLOB, tmp_path / "out" / BLOB, max_bytes=1000, quiet=True)
    assert leftovers(tmp_path / "out") == []


def test_the_known_files_are_capped_at_their_size(file_server: FileServer, tmp_path: Path) -> None:
    """download_mnist caps each file at its official size (MNIST_SIZES)."""
    files = {LABELS: MNIST_MD5[LABELS]}
    with pytest.raises(DownloadError, match=f"more than the {MNIST_SIZES[LABELS]} bytes"):
        download_mnist(
            tmp_path / "c", mirrors=[file_server.url("endless")], files=files, quiet=True
        )
    assert leftovers(tmp_path / "c") == []


def test_temp_files_of_killed_downloads_are_removed_at_the_next_start(
    blob_server: FileServer, tmp_path: Path
) -> None:
    """Before: a killed download left its .part file for good."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".{BLOB}.{int(done.stdout)}.0badf00d.part"
    live = out / f".{BLOB}.{os.getppid()}.0000abcd.part"  # a running download's: kept
    for p in (stale, live):
        p.write_bytes(b"half a file")
    download_file(blob_server.url() + BLOB, out / BLOB, quiet=True)
    assert leftovers(out) == sorted([BLOB, live.name])
