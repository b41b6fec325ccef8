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

moto's SendTaskFailure handler passes the error on and drops the cause, so
a Catch clause's result has no Cause where AWS gives the one sent. The
handler below passes both, as its backend already accepts.

StopExecution stops an execution at once on AWS, whatever its state waits
for, and the execution ends ABORTED. moto's engine marks the program
stopped but lets a task waiting for its task token wait on until the token
comes or the task times out, and the error that ends the wait then replaces
the stop and fails the execution. The stop below also wakes the
execution's waiting tasks, and a stopped program keeps its stop, so it
ends ABORTED at once.
"""

import copy
import sys
import threading

from moto.server import main
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.responses import StepFunctionResponse

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


def _send_task_failure(self) -> ActionResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


StepFunctionResponse.send_task_failure = _send_task_failure

_set_stop = Environment.set_stop


def _set_stop_waking_waits(self, stop_date, cause, error):
    _set_stop(self, stop_date=stop_date, cause=cause, error=error)
    for endpoint in list(self.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


Environment.set_stop = _set_stop_waking_waits


def _unless_stopped(end):
    def keep_stop(self, *args, **kwargs):
        if isinstance(self._program_state, ProgramStopped):
            return
        end(self, *args, **kwargs)

    return keep_stop


Environment.set_error = _unless_stopped(Environment.set_error)
Environment.set_timed_out = _unless_stopped(Environment.set_timed_out)

if __name__ == "__main__":
    main(sys.argv[1:])
