"""What runs inside the sandbox: one bootstrap, three roles (docs/sandbox.md).

  program  holds the candidate's definitions and answers calls: each request and each result
           is one line of plain data (svdistill/grade/plaindata.py), nothing else crosses;
  tests    runs the benchmark's tests with `candidate` a proxy that forwards each call to the
           program process; the assertions compare plain builtin values only, and the tests'
           source is never in the candidate's process;
  stdio    runs a program as __main__ on one test case's stdin (the grader compares stdout).

The grader sends the role's payload as JSON on a control pipe and reads on a private pipe: the
bootstrap writes "ready" there once its limits are set and before any candidate code runs, and
(tests role) the verdict at the end. The program and stdio roles close that pipe before running
the candidate, so nothing the candidate does can forge a ready line: without one the sandbox
failed, with one whatever happens next is the program's doing.

Its source, with plaindata.py's in front, is run with `python -I -c`; it imports only the
standard library, because svdistill is not visible inside the sandbox.
"""

import builtins
import json
import os
import resource
import sys
import traceback

if __name__ != "__main__":  # imported by tools; in the sandbox plaindata's source comes first
    from svdistill.grade.plaindata import NotPlainData, dumps, loads

MAX_LINE = 32 * 1024 * 1024  # the largest request or result, in bytes


def set_limits(cfg):
    mb = 1 << 20
    limits = [(resource.RLIMIT_CPU, cfg["cpu_s"]), (resource.RLIMIT_AS, cfg["memory_mb"] * mb),
              (resource.RLIMIT_FSIZE, cfg["fsize_mb"] * mb), (resource.RLIMIT_CORE, 0)]
    if cfg.get("nproc"):  # only without a pids cgroup: it counts every process of the uid
        limits.append((resource.RLIMIT_NPROC, cfg["nproc"]))
    for which, value in limits:
        resource.setrlimit(which, (value, value))
    if cfg.get("uid") is not None and os.getuid() != cfg["uid"]:
        raise RuntimeError(f"running as uid {os.getuid()}, not {cfg['uid']}")


def send(fd, text):
    data = (text + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


class Channel:
    """Lines of plain data over a pair of pipes."""

    def __init__(self, read_fd, write_fd):
        self.inp = os.fdopen(read_fd, "rb", buffering=1 << 16)
        self.out = write_fd

    def get(self):
        line = self.inp.readline(MAX_LINE + 1)
        if not line:
            raise EOFError
        if len(line) > MAX_LINE:
            raise NotPlainData(f"a message over {MAX_LINE >> 20} MB")
        return loads(line.decode("utf-8", "replace"))

    def put(self, value):
        send(self.out, dumps(value))


# --- program role ------------------------------------------------------------------------------


def _exported(glb):
    """The candidate's names the tests may use: plain values, callables, stdlib modules."""
    out = {"values": {}, "callables": [], "modules": {}}
    for name, value in list(glb.items()):
        if name.startswith("__"):
            continue
        if type(value) is type(sys):
            if value.__name__.partition(".")[0] in sys.stdlib_module_names:
                out["modules"][name] = value.__name__
        elif callable(value):
            out["callables"].append(name)
        else:
            try:
                dumps(value)
            except Exception:  # noqa: BLE001 - not plain data: the tests cannot use it
                continue
            out["values"][name] = value
    return out


def serve_program(cfg, channel):
    source = cfg["program"]
    glb = {"__name__": "__main__", "__file__": "main.py", "__builtins__": builtins}
    import linecache

    linecache.cache["main.py"] = (len(source), None, source.splitlines(True), "main.py")
    try:
        exec(compile(source, "main.py", "exec"), glb)
    except BaseException as e:  # noqa: BLE001 - SystemExit too: it ended before the tests
        traceback.print_exc()
        channel.put({"load_error": f"{type(e).__name__}: {e}"[:500]})
        return 1
    sys.stdout.flush()
    channel.put(_exported(glb))
    while True:
        try:
            call = channel.get()
        except EOFError:
            return 0
        try:
            result = glb[call["call"]](*call["args"], **call["kwargs"])
        except BaseException as e:  # noqa: BLE001 - reported to the tests as raised
            channel.put({"raised": type(e).__name__, "message": str(e)[:500]})
            continue
        try:
            channel.put({"ok": result})
        except Exception as e:  # noqa: BLE001
            channel.put({"error": f"{call['call']} returned a {type(result).__name__}, which is "
                                  f"not plain data ({str(e)[:200]})"})


# --- tests role --------------------------------------------------------------------------------


class ProgramFault(BaseException):
    """The program process died or broke the protocol. A BaseException, so a test's
    `except Exception` cannot swallow it; it is also recorded in FAULTS in case a bare
    `except:` does."""


class HarnessError(BaseException):
    """The tests passed something that is not plain data: the benchmark, not the program."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one."""


FAULTS = []


def _fault(cls, text):
    FAULTS.append((cls, text))
    return cls(text)


class Candidate:
    """Stands for one of the candidate's functions; every call goes to the program process."""

    def __init__(self, channel, name):
        self._channel, self._name = channel, name

    def __repr__(self):
        return f"<candidate {self._name}>"

    def __call__(self, *args, **kwargs):
        try:
            request = dumps({"call": self._name, "args": list(args), "kwargs": kwargs})
        except NotPlainData as e:
            raise _fault(HarnessError, f"the tests call {self._name} with {e}") from None
        try:
            send(self._channel.out, request)
            reply = self._channel.get()
        except (EOFError, BrokenPipeError):
            raise _fault(ProgramFault, "the program's process ended during a call") from None
        except NotPlainData as e:
            raise _fault(ProgramFault, f"{self._name} answered with {e}") from None
        if type(reply) is dict and "ok" in reply:
            return reply["ok"]
        if type(reply) is dict and type(reply.get("raised")) is str:
            cls = getattr(builtins, reply["raised"], None)
            message = str(reply.get("message", ""))
            exc = None
            if isinstance(cls, type) and issubclass(cls, Exception):
                try:
                    exc = cls(message)
                except Exception:  # noqa: BLE001 - an exception class that needs more arguments
                    pass
            raise exc or CandidateError(f"{reply['raised']}: {message}")
        text = reply.get("error") if type(reply) is dict else None
        raise _fault(ProgramFault, str(text or f"{self._name} answered with a malformed reply"))


def _where(exc):
    """The tests' line (or the context's) where `exc` surfaced."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename in ("tests.py", "context.py")]
    return f" ({frames[-1].filename} line {frames[-1].lineno})" if frames else ""


def run_tests(cfg, channel):
    try:
        names = channel.get()
    except EOFError:
        return {"failed": "the program's process ended before it could be tested"}
    except NotPlainData as e:
        return {"failed": f"the program announced itself with {e}"}
    if type(names) is not dict:
        return {"failed": "the program announced itself with a malformed message"}
    if "load_error" in names:
        return {"failed": f"the program failed: {names['load_error']}"}
    glb = {"__name__": "__main__", "__builtins__": builtins}
    entry = cfg.get("entry_point")
    try:
        # The benchmark's own context (the prompt's imports and helpers) is trusted: in the
        # HumanEval layout the tests check answers with its helpers, never the candidate's.
        exec(compile(cfg.get("context") or "", "context.py", "exec"), glb)
        if entry:
            if entry not in names.get("callables", []):
                return {"failed": f"the program defines no function {entry}"}
            candidate = Candidate(channel, entry)
            if not hasattr(builtins, entry):
                glb[entry] = candidate
        else:
            import importlib

            for name, module in names.get("modules", {}).items():
                if module.partition(".")[0] in sys.stdlib_module_names:
                    glb.setdefault(name, importlib.import_module(module))
            # A name of a builtin is never taken from the candidate: a program defining its own
            # `len` or `abs` would otherwise answer the tests' own checks.
            exported = {**names.get("values", {}),
                        **{n: Candidate(channel, n) for n in names.get("callables", [])}}
            for name, value in exported.items():
                if type(name) is str and not name.startswith("__") and not hasattr(builtins, name):
                    glb[name] = value
        exec(compile(cfg["tests"], "tests.py", "exec"), glb)
        if entry:
            glb["check"](candidate)
    except HarnessError as e:
        return {"harness": str(e)}
    except BaseException as e:  # noqa: BLE001 - any failure of a test is the program's
        if FAULTS:
            return {"failed": FAULTS[0][1]}
        return {"failed": f"{type(e).__name__}: {str(e)[:300]}{_where(e)}".strip()}
    if FAULTS:  # a test swallowed the fault with a bare except
        cls, text = FAULTS[0]
        return {"harness": text} if cls is HarnessError else {"failed": text}
    return {"passed": True}


# --- stdio role --------------------------------------------------------------------------------


def run_stdio(cfg):
    source = cfg["program"]
    sys.argv = ["main.py"]
    glb = {"__name__": "__main__", "__file__": "main.py", "__builtins__": builtins}
    exec(compile(source, "main.py", "exec"), glb)
    return 0


def main():
    fds = json.loads(sys.argv[1])
    with os.fdopen(fds["control"], "rb") as f:
        cfg = json.loads(f.read())
    set_limits(cfg)
    sys.set_int_max_str_digits(0)
    role = cfg["role"]
    if role == "tests":
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<pid>/mem for others
    send(fds["ready"], "ready")
    if role != "tests":  # the candidate runs next: it must not be able to write here
        os.close(fds["ready"])
    if role == "stdio":
        return run_stdio(cfg)
    sys.stdin = open(os.devnull)
    if role == "program":
        return serve_program(cfg, Channel(fds["requests"], fds["replies"]))
    verdict = run_tests(cfg, Channel(fds["replies"], fds["requests"]))
    sys.stdout.flush()
    send(fds["ready"], json.dumps(verdict))
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
