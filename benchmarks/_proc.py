"""Resident memory from Linux's /proc/self/status, for the benchmarks that report peak memory."""

from __future__ import annotations


def status_mib(field: str) -> float:
    """A size field of /proc/self/status (VmRSS: resident now, VmHWM: the peak so far), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak() -> None:
    """Start the peak (VmHWM) again from the current resident size."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
