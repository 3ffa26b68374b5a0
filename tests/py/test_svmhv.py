"""guests/svmhv (an AMD SVM L1 hypervisor) where there is no SVM.

svmhv runs for real only on the kvm backend with --nested on an AMD host
(tests/kvm/kvm_trace_nested.sh); tortuga's own nested virtualization is VMX
only. Everywhere else it must stop before touching EFER.SVME (which #GPs
without SVM, AMD APM Vol. 2 15.4), say why, and exit with its own value 2.
"""

import pytest


@pytest.mark.parametrize("nested", [False, True])
def test_no_svm_says_why(cli, guest, nested):
    r = cli("run", "--backend", "emu", *(["--nested"] if nested else []), guest("svmhv"), "--", "n=5")
    # CPUID Fn8000_0001_ECX.SVM (APM Vol. 3 E.4.2) is 0 in tortuga's models.
    assert "svmhv: no SVM: CPUID Fn8000_0001_ECX.SVM is 0" in r.stdout
    assert "running L2" not in r.stdout
    assert r.returncode == (2 << 1) | 1
