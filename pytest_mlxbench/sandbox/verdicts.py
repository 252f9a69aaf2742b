"""From what the zygote saw (exits, signals, timeouts, output, the cgroup's OOM kills) and what
the judge decided, to one :class:`SandboxResult`. Nothing the candidate writes counts here
except through the judge's values; in process, through the nonce proof."""

from __future__ import annotations

from pytest_mlxbench.sandbox.spec import Limits, SandboxError, SandboxResult

_EXIT_FAILED, _EXIT_RESOURCE, _EXIT_SETUP = 1, 3, 125
_RESOURCE_SIGNALS = {"SIGXCPU": "CPU time limit", "SIGXFSZ": "file size limit"}


def judged_result(reply: dict, judged: dict | None, limits: Limits) -> SandboxResult:
    common = _common(reply, isolation="judge")
    stop_verdict = _stopped(reply)
    if stop_verdict is not None:
        return SandboxResult(stop_verdict[0], detail=stop_verdict[1], **common, **_judge_fields(judged))
    if judged is None:
        judge = reply.get("judge") or {}
        last = (reply.get("judge_stderr_tail") or "").strip().splitlines()[-1:] or ["no output"]
        raise SandboxError(f"the sandbox judge ended without a verdict (exit {judge.get('exit_code')}, "
                           f"signal {judge.get('signal')}): {last[0]}")
    verdict, detail = judged["verdict"], judged["detail"]
    oom = reply.get("oom_kills") or 0
    if verdict != "passed" and oom:
        verdict, detail = "killed", f"memory limit: the cgroup killed {oom} process(es) ({detail})"
    elif verdict == "died":
        status = reply["candidate"]
        verdict, detail = _death(status, limits) if status["exited_before"] else ("error", detail)
    return SandboxResult(verdict, detail=detail, **common, **_judge_fields(judged))


def in_process_result(reply: dict, limits: Limits) -> SandboxResult:
    common = _common(reply, isolation="in_process")
    stop_verdict = _stopped(reply)
    if stop_verdict is not None:
        return SandboxResult(stop_verdict[0], detail=stop_verdict[1], **common)
    status = reply["candidate"]
    code, signal_name = status["exit_code"], status["signal"]
    summary = reply.get("failure_summary") or ""
    if reply.get("oom_kills"):
        verdict, detail = "killed", f"memory limit: the cgroup killed {reply['oom_kills']} process(es)"
    elif signal_name is not None:
        verdict, detail = _death(status, limits)
    elif code == 0:
        verdict, detail = (("passed", "all checks passed") if reply.get("proof_ok") else
                           ("error", "exited with status 0 before the checks completed (no pass proof)"))
    elif code == _EXIT_FAILED:
        verdict, detail = "failed", summary or "AssertionError"
    elif code == _EXIT_RESOURCE:
        verdict, detail = "killed", f"resource limit: {summary or 'MemoryError'}"
    elif code == _EXIT_SETUP:
        verdict, detail = "error", "sandbox could not set up the candidate process"
    else:
        verdict, detail = "error", summary or f"exit status {code}"
    return SandboxResult(verdict, detail=detail, **common)


def _common(reply: dict, isolation: str) -> dict:
    status = reply.get("candidate") or {}
    ended_itself = status.get("exited_before", False)
    return {
        "duration_s": reply["duration_s"],
        "stdout_tail": reply["stdout_tail"],
        "stderr_tail": reply["stderr_tail"],
        "judge_stderr_tail": reply.get("judge_stderr_tail", ""),
        "exit_code": status.get("exit_code") if ended_itself else None,
        "signal_name": status.get("signal") if ended_itself else None,
        "isolation": isolation,
        "peak_memory_bytes": reply.get("peak_memory_bytes"),
    }


def _judge_fields(judged: dict | None) -> dict:
    if judged is None:
        return {}
    return {"failing_line": judged.get("failing_line"), "outputs": tuple(judged.get("outputs") or ()),
            "calls": judged.get("calls", 0), "needs_in_process": bool(judged.get("needs_in_process"))}


def _stopped(reply: dict) -> tuple[str, str] | None:
    if reply["stop"] == "timeout":
        return "timeout", "wall-clock timeout: killed"
    if reply["stop"] == "output":
        return "killed", "output limit exceeded: killed"
    return None


def _death(status: dict, limits: Limits) -> tuple[str, str]:
    """Why the candidate's process ended on its own (during a call, or in process)."""
    signal_name, code = status.get("signal"), status.get("exit_code")
    if signal_name in _RESOURCE_SIGNALS:
        return "killed", f"{_RESOURCE_SIGNALS[signal_name]}: killed by {signal_name}"
    if signal_name == "SIGKILL":
        if status.get("cpu_s", 0) >= limits.cpu_seconds:
            return "killed", "CPU time limit: killed by SIGKILL"
        return "killed", "killed by SIGKILL (resource limit)"
    if signal_name is not None:
        return "error", f"died from {signal_name}"
    if code == _EXIT_RESOURCE:
        return "killed", "resource limit (MemoryError or a full disk)"
    if code == 0:
        return "error", "exited with status 0 before the checks completed"
    return "error", f"the candidate's process exited with status {code} during a call"
