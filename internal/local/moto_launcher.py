"""Start moto's server with repeated Step Functions executions working.

moto 5.2.1's StartExecution deep-copies the state machine, and the state
machine refers to its backend and its executions, which hold thread locks.
Every start after the first execution therefore fails with HTTP 500
("cannot pickle '_thread.RLock' object"). This launcher gives StateMachine a
__deepcopy__ that copies every other attribute but shares `backend` and
`executions`, then runs moto's own server entry point with the given
arguments.
"""

import copy
import sys

from moto.server import main
from moto.stepfunctions.models import StateMachine

_SHARED = ("backend", "executions")


def _deepcopy(self, memo):
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, value if key in _SHARED else copy.deepcopy(value, memo))
    return clone


StateMachine.__deepcopy__ = _deepcopy

if __name__ == "__main__":
    main(sys.argv[1:])
