"""The executor covers every action a plan can make: a new Action type without its method
would fail only when a plan first asks for it."""

from __future__ import annotations

import inspect

from sd_operator.model import actions
from sd_operator.model.actions import Action
from sd_operator.reconcile.execute import EXECUTORS, OPERATION_TYPES, Executor


def _concrete_actions() -> set[type[Action]]:
    # Every Action subclass model/actions.py defines: enumerated, so the list cannot drift.
    return {
        obj
        for _, obj in inspect.getmembers(actions, inspect.isclass)
        if issubclass(obj, Action) and obj is not Action
    }


def test_the_enumeration_finds_the_actions() -> None:
    assert {actions.CreateService, actions.UpdateEcsService} <= _concrete_actions()


def test_every_action_type_has_an_executor_method() -> None:
    assert set(EXECUTORS) == _concrete_actions()


def test_each_executor_method_is_the_executors_own_and_takes_its_action_type() -> None:
    for kind, method in EXECUTORS.items():
        assert getattr(Executor, method.__name__) is method
        assert inspect.signature(method).parameters["action"].annotation == kind.__name__


def test_exactly_the_asynchronous_actions_name_a_cloud_map_operation_type() -> None:
    assert set(OPERATION_TYPES) == {a for a in _concrete_actions() if a.asynchronous}
