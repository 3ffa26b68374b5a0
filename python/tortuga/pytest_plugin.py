"""pytest fixtures for tortuga experiments. Enable with
`pytest_plugins = ["tortuga.pytest_plugin"]` in a conftest.py, or import the
fixtures into a test module.

    from tortuga.experiment import policy_matrix, parametrize_policies

    @parametrize_policies(policy_matrix(mem=["64M", "256M"]))
    def test_exits(tortuga_vm, policy, tmp_path):
        vm = tortuga_vm(policy)            # closed after the test
        vm.load(guest_path, policy.args)
        ...
"""

import pytest

from .experiment import Policy
from .vm import VM


@pytest.fixture
def tortuga_vm():
    """A factory: tortuga_vm(policy=None, **settings) -> tortuga.VM, closed
    when the test ends."""
    made = []

    def make(policy=None, **settings):
        vm = policy.make_vm(**settings) if isinstance(policy, Policy) else VM(**settings)
        made.append(vm)
        return vm

    yield make
    for vm in made:
        vm.close()
