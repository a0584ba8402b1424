"""Processes the tests start: free loopback ports, process groups read from /proc, waiting for and stopping servers.

Servers are started with `start_new_session=True`, so each is the leader of its own process group and everything it
spawns (code servers, run workers) stays in that group: stopping the group by its recorded id stops them all.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def group_pids(pgid: int) -> set[int]:
    """The live processes of process group `pgid` (from /proc)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    pids.add(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return pids


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state owned by these processes (from /proc)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(table) as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:
                    address_hex, port_hex = local.split(":")
                    found.add((_address(address_hex, width), int(port_hex, 16)))
    return found


def _address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    if width == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    text = socket.inet_ntop(socket.AF_INET6, words)
    return text.removeprefix("::ffff:") if text.startswith("::ffff:") else text


def stop_group(pgid: int, leader: subprocess.Popen | None = None, *, first: int = signal.SIGTERM,
               grace_s: float = 20) -> None:
    """Signal the whole group (`first`, then SIGKILL after `grace_s`) until none of its processes is left."""
    for sig, seconds in ((first, grace_s), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if leader is not None:
                leader.poll()  # reap the leader so that it does not linger as a zombie of the group
            if not group_pids(pgid):
                break
            time.sleep(0.2)
        else:
            continue
        break
    if leader is not None and leader.poll() is None:
        leader.wait(timeout=10)


def wait_for_http(url: str, process: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    """Wait until `url` answers 200, failing early with the log's tail if `process` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s:\n{log_path.read_text()[-3000:]}")
