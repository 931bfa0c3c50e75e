"""One Reconciler per AWS account the operator acts in: its own credentials' (role None) and each
role a DiscoveryGrant names (spec.aws). Each has its own adapters (assuming the role), its own
account view and, through the clients, its own API budget: a throttled or broken account holds
up only its own resources (docs/tenancy.md, "Many AWS accounts")."""

from __future__ import annotations

import threading

from sd_operator.model.grants import Role
from sd_operator.reconcile.reconciler import Reconciler


class Accounts:
    """`accounts(role)`: the Reconciler acting through `role` (`own` for None), made from
    `own` on first use (Reconciler.for_role) and kept."""

    def __init__(self, own: Reconciler) -> None:
        self.own = own
        self._lock = threading.Lock()
        self._made: dict[Role, Reconciler] = {}

    def __call__(self, role: Role | None) -> Reconciler:
        if role is None:
            return self.own
        with self._lock:
            found = self._made.get(role)
            if found is None:
                found = self._made[role] = self.own.for_role(role)
            return found
