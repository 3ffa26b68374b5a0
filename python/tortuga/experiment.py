"""Experiment matrices: run guests under a set of policies and compare.

A Policy is a named set of VM settings (keyword arguments of tortuga.VM)
plus the guest's command line. policy_matrix() crosses axes of settings;
run_matrix() runs a guest under each policy with its trace in a file.

    from tortuga.experiment import policy_matrix, run_matrix
    runs = run_matrix("build/guests/hello.elf",
                      policy_matrix(args=[["exit=0"], ["exit=0", "x" * 200]]), "out/")
    for r in runs:
        print(r.policy.name, r.result.exits, r.report["sources"][0]["exits"])

As tortuga grows exit-policy settings (VMCS shadowing, EPT, ...), they are
new VM keyword arguments and become axes here unchanged. A setting this
tortuga does not know raises UnsupportedPolicy (pytest: a skip, see
parametrize_policies).
"""

import inspect
import itertools
import os
import re
from dataclasses import dataclass, field

from .vm import VM


class UnsupportedPolicy(ValueError):
    pass


_VM_KNOBS = set(inspect.signature(VM.__init__).parameters) - {"self"}


@dataclass
class Policy:
    name: str
    vm: dict = field(default_factory=dict)  # tortuga.VM keyword arguments
    args: list = field(default_factory=list)  # the guest's command line

    def check(self):
        unknown = set(self.vm) - _VM_KNOBS
        if unknown:
            raise UnsupportedPolicy("policy %s: setting(s) %s not supported by this tortuga "
                                    "(tortuga.VM takes: %s)"
                                    % (self.name, ", ".join(sorted(unknown)), ", ".join(sorted(_VM_KNOBS))))
        return self

    def make_vm(self, **extra):
        self.check()
        return VM(**{**self.vm, **extra})


def _label(key, value):
    if isinstance(value, (list, tuple)):
        value = " ".join(map(str, value))
    text = "%s=%s" % (key, value)
    return re.sub(r"[^A-Za-z0-9=.,_-]", "_", text)[:40]


def policy_matrix(args=None, **axes):
    """The cross product of setting axes: policy_matrix(mem=["64M", "1G"],
    max_insns=[10**6]) gives two policies. args= is an axis of guest command
    lines (each a list of words)."""
    keys = sorted(axes)
    arg_axis = args if args is not None else [[]]
    out = []
    for combo in itertools.product(*(axes[k] for k in keys)):
        for i, a in enumerate(arg_axis):
            parts = [_label(k, v) for k, v in zip(keys, combo)]
            if args is not None:
                parts.append("args%d" % i)
            out.append(Policy(",".join(parts) or "default", dict(zip(keys, combo)), list(a)))
    return out


def parametrize_policies(policies, argname="policy"):
    """A pytest.mark.parametrize over policies (test ids are policy names);
    unsupported ones become skips that say which setting is missing."""
    import pytest
    params = []
    for p in policies:
        try:
            params.append(pytest.param(p.check(), id=p.name))
        except UnsupportedPolicy as e:
            params.append(pytest.param(p, id=p.name, marks=pytest.mark.skip(reason=str(e))))
    return pytest.mark.parametrize(argname, params)


@dataclass
class Run:
    policy: Policy
    result: object  # tortuga.Result
    trace: str  # path of the binary trace
    serial: str
    report: dict = None


def run_matrix(guest, policies, outdir, report=True, **vm_extra):
    """Run guest under each policy; traces go to outdir/<policy>.bin."""
    from .analysis import report as trace_report
    os.makedirs(outdir, exist_ok=True)
    runs = []
    for p in policies:
        with p.make_vm(**vm_extra) as vm:
            vm.load(guest, p.args)
            path = os.path.join(outdir, p.name + ".bin")
            vm.trace_to_file(path)
            res = vm.run()
            serial = vm.serial
        r = Run(p, res, path, serial)
        if report:
            r.report = trace_report(path)
        runs.append(r)
    return runs
