"""Isolated, limited and fast execution of untrusted code.

The lowest layer of rlvr-envs (it knows nothing of LLMs or Gymnasium)::

    import sandbox

    box = sandbox.get_sandbox("auto")          # docker > bwrap > local, whichever runs here
    result = box.run_python("print(input()[::-1])", stdin="abc\\n",
                            limits=sandbox.Limits(wall_time_s=2))
    result.status, result.stdout               # (ExecStatus.OK, b'cba\\n')

Backends: ``local`` (rlimits, seccomp, process-group kills; the weakest), ``bwrap``
(bubblewrap namespaces) and ``docker`` (locked-down containers). All three keep a warm pool of
worker processes that fork once per job. ``remote`` sends jobs to SandboxFusion-compatible
``/run_code`` services (``python -m sandbox serve``) and ``ray`` to Ray actors holding pools.
Results are data only: a status from ``ExecStatus``, exit code or signal, capped stdout/stderr,
wall and CPU time.

Stateful sessions (``SessionPool(...).open()``: one interpreter kept alive between calls, in its
own worker) are in :mod:`sandbox.session`.
"""

from .base import BackendUnavailable, Job, Sandbox, SandboxError
from .bwrap import BwrapSandbox
from .docker_backend import DockerSandbox
from .limits import Limits
from .local import LocalSandbox
from .ray_backend import RaySandbox
from .registry import available_backends, close_shared, get_sandbox, resolve_backend
from .remote import RemoteSandbox
from .result import ExecResult, ExecStatus
from .session import CallResult, CallStatus, PythonSession, SessionError, SessionPool
from .worker_modules import ModuleMain, register_worker_module

__all__ = [
    "BackendUnavailable",
    "BwrapSandbox",
    "CallResult",
    "CallStatus",
    "DockerSandbox",
    "ExecResult",
    "ExecStatus",
    "Job",
    "Limits",
    "LocalSandbox",
    "ModuleMain",
    "PythonSession",
    "RaySandbox",
    "RemoteSandbox",
    "Sandbox",
    "SandboxError",
    "SessionError",
    "SessionPool",
    "available_backends",
    "close_shared",
    "get_sandbox",
    "register_worker_module",
    "resolve_backend",
]
