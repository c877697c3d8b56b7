"""code_execution_error: tracebacks and non-zero exit codes in tool output."""

from __future__ import annotations

from detector_events import Session

PY_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/run.py", line 3, in <module>\n'
    "    total = prices['price']\n"
    "KeyError: 'price'\n"
)


def test_python_traceback_in_ok_output_is_reported_with_its_exception_type() -> None:
    s = Session()
    s.call("python", {"code": "total = prices['price']"})
    crashed = s.ok("python", PY_TRACE, exit_code=1)
    s.end("failure")
    label = s.labels()["code_execution_error"]
    assert label["critical_seq"] == crashed
    assert label["confidence"] == 0.95
    assert label["signature"]["error_type"] == "KeyError"
    assert label["signature"]["message"] == "KeyError: 'price'"


def test_smolagents_code_execution_failure_is_a_traceback() -> None:
    s = Session()
    s.call("python_interpreter", {"code": "x = foo()"})
    s.fail(
        "python_interpreter",
        message="Code execution failed at line 'x = foo()' due to: InterpreterError: Forbidden function evaluation: 'foo'",
    )
    s.end("failure")
    assert s.labels()["code_execution_error"]["signature"]["error_type"] == "InterpreterError"


def test_javascript_stack_trace_is_recognised() -> None:
    s = Session()
    s.call("node")
    s.ok(
        "node",
        {
            "stderr": "TypeError: Cannot read properties of undefined (reading 'map')\n    at main (/app/index.js:4:17)\n"
        },
        exit_code=1,
    )
    s.end("failure")
    assert s.labels()["code_execution_error"]["signature"]["error_type"] == "TypeError"


def test_non_zero_exit_code_alone_is_weak_evidence() -> None:
    s = Session()
    s.call("bash", {"command": "make build"})
    s.ok("bash", "make: *** [build] Error 2", exit_code=2)
    s.end("failure")
    label = s.labels()["code_execution_error"]
    assert label["confidence"] == 0.6
    assert label["evidence"]["facts"]["exit_code"] == 2


def test_clean_rerun_of_the_same_tool_recovers() -> None:
    s = Session()
    s.call("python")
    s.ok("python", PY_TRACE, exit_code=1)
    s.call("python")
    s.ok("python", "42\n", exit_code=0)
    s.end("failure", reason="wrong answer")
    assert "code_execution_error" not in s.labels()


def test_clean_run_of_another_tool_does_not_recover() -> None:
    s = Session()
    s.call("python")
    crashed = s.ok("python", PY_TRACE, exit_code=1)
    s.tool("bash", {"command": "ls"}, output="data.csv")
    s.end("failure")
    assert s.labels()["code_execution_error"]["critical_seq"] == crashed


def test_the_word_traceback_in_prose_with_exit_code_zero_is_not_a_crash() -> None:
    s = Session()
    s.call("bash")
    s.ok("bash", "All good, no traceback was produced. Exception handling works.", exit_code=0)
    s.end("failure", reason="wrong answer")
    assert "code_execution_error" not in s.labels()


def test_module_not_found_is_code_execution_not_not_found() -> None:
    s = Session()
    s.call("python")
    s.ok("python", "Traceback (most recent call last):\nModuleNotFoundError: No module named 'pandas'", exit_code=1)
    s.end("failure")
    labels = s.labels()
    assert labels["code_execution_error"]["signature"]["error_type"] == "ModuleNotFoundError"
    assert "not_found" not in labels
