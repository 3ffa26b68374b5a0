"""Shared fixtures: paths to the build's CLI and guests, and a VM factory."""

import os
import pathlib
import subprocess

import pytest

import tortuga

BUILD = pathlib.Path(os.environ.get("TORTUGA_BUILD", pathlib.Path(__file__).parents[2] / "build"))
CLI = pathlib.Path(os.environ.get("TORTUGA_CLI", BUILD / "cli" / "tortuga"))


def guest_path(name):
    """Path of a guest built by meson (guests/<name>.elf)."""
    env = os.environ.get("TORTUGA_GUEST_" + name.upper().replace("-", "_"))
    p = pathlib.Path(env) if env else BUILD / "guests" / (name + ".elf")
    if not env and not p.exists():
        p = BUILD / "guests" / "pc" / (name + ".elf")
    if not p.exists():
        pytest.fail("guest %s not built (%s)" % (name, p))
    return p


@pytest.fixture
def guest():
    return guest_path


@pytest.fixture
def vm():
    """A fresh VM (64 MiB); closed after the test."""
    made = []

    def make(**kw):
        kw.setdefault("mem", "64M")
        v = tortuga.VM(**kw)
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()


def run_cli(*args, timeout=120, **kw):
    """Run the tortuga command; returns CompletedProcess (text)."""
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture
def cli():
    return run_cli
