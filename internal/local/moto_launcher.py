"""Start moto's server with repeated Step Functions executions working.

moto 5.2.1's StartExecution deep-copies the state machine, and the state
machine refers to its backend and its executions, which hold thread locks.
Every start after the first execution therefore fails with HTTP 500
("cannot pickle '_thread.RLock' object"). This launcher gives StateMachine a
__deepcopy__ that copies every other attribute but shares `backend` and
`executions`, then runs moto's own server entry point with the given
arguments.

moto's server answers requests on several threads, and its DynamoDB
backend evaluates a condition and applies the write in separate steps, so two
racing conditional writes can both succeed. DynamoDB makes each conditional
write atomic; holding one lock around every DynamoDB request gives moto the
same guarantee, which the ledger's lock and idempotency keys rely on.
"""

import copy
import sys
import threading

from moto.server import main
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.models import StateMachine

_SHARED = ("backend", "executions")


def _deepcopy(self, memo):
    clone = self.__class__.__new__(self.__class__)
    memo[id(self)] = clone
    for key, value in self.__dict__.items():
        setattr(clone, key, value if key in _SHARED else copy.deepcopy(value, memo))
    return clone


StateMachine.__deepcopy__ = _deepcopy

_dynamodb_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _serialised_call_action(self):
    with _dynamodb_lock:
        return _call_action(self)


DynamoHandler.call_action = _serialised_call_action

if __name__ == "__main__":
    main(sys.argv[1:])
