"""Writes the detection corpus: annotated agent runs in the event shapes real frameworks produce.

    python -m tests.corpus.build      # rewrites tests/corpus/<framework>/*.json

Each run is written the way its framework reports it (docs/events.md maps each one onto events):

- smolagents CodeAgent: a planning step, then per step the model's `Thought: … Code: ```py … ```<end_code>`
  response, the python_interpreter call and its `Execution logs:` output; failures as smolagents
  raises them (AgentExecutionError "Code execution failed at line … due to: …", AgentParsingError
  "Error in code parsing: … regex pattern … was not found", AgentMaxStepsError "Reached max steps.").
- smolagents ToolCallingAgent: responses with OpenAI-style `tool_calls`, tool calls and results by
  call id; AgentToolExecutionError "Error executing tool '…' with arguments {…}: …".
- Magentic-One group chat (the Who&When hand-crafted logs): one event per message, `name` = the
  role (`Orchestrator (thought)`, `Orchestrator (-> WebSurfer)`, `WebSurfer`, `Assistant`,
  `ComputerTerminal`, `FileSurfer`); the terminal's messages are tool results.
- AutoGen expert group chat (the Who&When algorithm-generated logs): experts and `Computer_terminal`
  (`exitcode: 1 (execution failed)\\nCode output: …`).
- LangGraph ReAct: AIMessage tool calls (`args`), ToolMessage results with `status: "error"` and
  ToolNode's `Error: …\\n Please fix your mistakes.`.
- browser-use: AgentOutput responses, navigations and indexed element actions with screenshots.

Two runs are kept by hand rather than built here: swe_agent/ (a SWE-agent trajectory) and
openai_functions/ (OpenAI Chat Completions tool calls with openai-python errors).

Annotations (`expected`): each mistake step with the labels that name it (the first is its
label), the step that made it (`cause_seq`), where it showed (`observed_seq`) and whether the
agent got past it; `near_miss`: labels the run resembles but must not get; `verdict` and
`critical_step` (the cause of the first unrecovered mistake). Clean runs have no mistakes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent
MODEL = "gpt-4o-2024-08-06"


class Run:
    """One annotated run under construction; every event helper returns the new event's seq."""

    def __init__(self, framework: str, name: str, description: str, tools: list[Any] | None = None,
                 start: bool = True) -> None:
        self.framework, self.name, self.description = framework, name, description
        self.events: list[dict[str, Any]] = []
        self.mistakes: list[dict[str, Any]] = []
        self.near_miss: list[str] = []
        self.outcome: str | None = None
        self._calls = 0
        if start:
            payload: dict[str, Any] = {"agent": {"name": framework}}
            if tools is not None:
                payload["tools"] = tools
            self.add("session.start", payload)

    def add(self, type_: str, payload: dict[str, Any], name: str | None = None, parent: int | None = None) -> int:
        event: dict[str, Any] = {"seq": len(self.events), "type": type_, "payload": payload}
        if name is not None:
            event["name"] = name
        if parent is not None:
            event["parent_seq"] = parent
        self.events.append(event)
        return event["seq"]

    def call_id(self) -> str:
        self._calls += 1
        return f"call_{self._calls:03d}"

    def llm(self, content: Any, name: str | None = None, **extra: Any) -> int:
        usage = {"input_tokens": 900 + 37 * len(self.events), "output_tokens": 60 + len(self.events)}
        return self.add("llm.response", {"model": MODEL, "usage": usage, "content": content, **extra}, name=name)

    def mistake(self, labels: list[str], cause: int, observed: int, recovered: bool = False) -> None:
        self.mistakes.append({"labels": labels, "cause_seq": cause, "observed_seq": observed, "recovered": recovered})

    def end(self, outcome: str, **payload: Any) -> int:
        self.outcome = outcome
        return self.add("session.end", {"outcome": outcome, **payload})

    def expected(self) -> dict[str, Any]:
        open_ = sorted((m for m in self.mistakes if not m["recovered"]), key=lambda m: m["observed_seq"])
        if self.outcome in ("failure", "error"):
            verdict = "failed"
        elif self.outcome == "success":
            verdict = "succeeded_with_errors" if open_ else "succeeded"
        else:
            verdict = "unknown"
        return {
            "mistakes": self.mistakes,
            "near_miss": sorted(set(self.near_miss)),
            "verdict": verdict,
            "critical_step": open_[0]["cause_seq"] if open_ else None,
        }

    def write(self) -> Path:
        path = ROOT / self.framework / f"{self.name}.json"
        path.parent.mkdir(exist_ok=True)
        document = {"framework": self.framework, "description": self.description, "events": self.events,
                    "expected": self.expected()}
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path


# -- smolagents ---------------------------------------------------------------------------------

SMOL_TOOLS = ["web_search", "visit_webpage", "final_answer", "python_interpreter"]
PARSE_ERROR = (
    "Error in code parsing:\nYour code snippet is invalid, because the regex pattern ```(?:py|python)?\\s*\\n(.*?)\\n```"
    " was not found in it.\nHere is your code snippet:\n{snippet}\nMake sure to include code with the correct pattern,"
    " for instance:\nThoughts: Your thoughts\nCode:\n```py\n# Your python code here\n```<end_code>\nMake sure to provide"
    " correct code blobs."
)


class CodeAgent(Run):
    def __init__(self, name: str, description: str, task: str) -> None:
        super().__init__("smolagents_code", name, description, tools=SMOL_TOOLS)
        self.add("llm.request", {"model": MODEL, "messages": [{"role": "user", "content": task}]})

    def plan(self, facts: str, steps: list[str]) -> int:
        plan = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
        return self.llm(f"## 1. Facts survey\n### 1.1. Facts given in the task\n{facts}\n\n## 2. Plan\n{plan}\n\n"
                        "<end_plan>")

    def step(self, thought: str, code: str, logs: str = "", last: str = "None", error: str | None = None
             ) -> tuple[int, int]:
        """(the model's response, the interpreter's result)."""
        decided = self.llm(f"Thought: {thought}\nCode:\n```py\n{code}\n```<end_code>")
        call_id = self.call_id()
        self.add("tool.call", {"tool": "python_interpreter", "arguments": {"code": code}, "call_id": call_id},
                 parent=decided)
        if error is not None:
            result = self.add("tool.result", {"tool": "python_interpreter", "call_id": call_id, "status": "error",
                                              "error": {"type": "AgentExecutionError", "message": error}})
        else:
            result = self.add("tool.result", {"tool": "python_interpreter", "call_id": call_id, "status": "ok",
                                              "output": f"Execution logs:\n{logs}\nLast output from code snippet:\n{last}"})
        return decided, result

    def unparsable(self, text: str) -> tuple[int, int]:
        decided = self.llm(text)
        complaint = self.add("error", {"type": "AgentParsingError", "message": PARSE_ERROR.format(snippet=text)},
                             parent=decided)
        return decided, complaint

    def final(self, answer: str) -> int:
        decided, _ = self.step("I have the answer.", f'final_answer("{answer}")', last=answer)
        return decided


class ToolAgent(Run):
    def __init__(self, name: str, description: str, task: str, tools: list[Any] | None = None) -> None:
        super().__init__("smolagents_toolcalling", name, description, tools=tools or SMOL_TOOLS[:3])
        self.add("llm.request", {"model": MODEL, "messages": [{"role": "user", "content": task}]})

    def use(self, tool: str, arguments: dict[str, Any], output: str | None = None, error: str | None = None,
            status: str = "ok") -> tuple[int, int]:
        call_id = self.call_id()
        decided = self.llm(None, tool_calls=[{"id": call_id, "type": "function",
                                              "function": {"name": tool, "arguments": arguments}}])
        call = self.add("tool.call", {"tool": tool, "arguments": arguments, "call_id": call_id}, parent=decided)
        if error is not None:
            seen = self.add("error", {"type": "AgentToolExecutionError", "message": error}, parent=call)
        else:
            seen = self.add("tool.result", {"tool": tool, "call_id": call_id, "status": status, "output": output})
        return decided, seen


# -- group chats ------------------------------------------------------------------------------


class MagenticOne(Run):
    """A Who&When hand-crafted style log: seq = the message's index in the history (no session.start)."""

    def __init__(self, name: str, description: str, task: str) -> None:
        super().__init__("magentic_one", name, description, start=False)
        self.add("llm.request", {"model": "task", "messages": [{"role": "user", "content": task}]}, name="human")

    def say(self, role: str, content: str) -> int:
        return self.llm(content, name=role, role=role)

    def plan(self, plan: str) -> int:
        return self.say("Orchestrator (thought)", f"Initial plan:\n\nWe are working to address the following user "
                        f"request.\n\nHere is the plan to follow as best as possible:\n\n{plan}")

    def ask(self, agent: str, instruction: str, progress: bool = True) -> int:
        """The progress ledger, then the instruction (returned)."""
        self.say("Orchestrator (thought)", "Updated Ledger:\n" + json.dumps({
            "is_request_satisfied": {"reason": "Not yet.", "answer": False},
            "is_in_loop": {"reason": "No repetition so far.", "answer": False},
            "is_progress_being_made": {"reason": "Gathering information." if progress else
                                       "The last answer did not contain the figure.", "answer": progress},
            "next_speaker": {"reason": f"{agent} is needed next.", "answer": agent},
            "instruction_or_question": {"reason": "Next step of the plan.", "answer": instruction},
        }, indent=2))
        return self.say(f"Orchestrator (-> {agent})", instruction)

    def surf(self, action: str, title: str, url: str, text: str) -> int:
        return self.say("WebSurfer", f"{action}\n\nHere is a screenshot of [{title}]({url}). The viewport shows 100% of"
                        f" the webpage, and is positioned at the top of the page.\nAutomatic OCR of the page screenshot"
                        f" has detected the following text:\n\n{text}")

    def code(self, language: str, source: str) -> int:
        return self.say("Assistant", f"Here is the script:\n\n```{language}\n{source}\n```")

    def terminal(self, exit_code: int, output: str) -> int:
        if exit_code == 0:
            text = f"The script ran, then exited with Success (POSIX exit code: 0)\nIts output was:\n{output}"
        else:
            text = f"The script ran, then exited with an error (POSIX exit code: {exit_code})\nIts output was:\n{output}"
        return self.add("tool.result", {"tool": "ComputerTerminal", "status": "ok", "output": text},
                        name="ComputerTerminal")

    def answer(self, answer: str) -> int:
        self.say("Orchestrator (thought)", "Request satisfied.")
        return self.say("Orchestrator (final answer)", f"FINAL ANSWER: {answer}")


class ExpertChat(Run):
    """A Who&When algorithm-generated style log: experts and a Computer_terminal."""

    def __init__(self, name: str, description: str, task: str, manager: str) -> None:
        super().__init__("autogen_experts", name, description, start=False)
        self.add("llm.request", {"model": "task", "messages": [{"role": "user", "content": (
            f"You are given: (1) a task and advice from your manager with a specific plan.\n## Task\n{task}")}]},
            name=manager)

    def say(self, expert: str, content: str) -> int:
        return self.llm(content, name=expert, role="assistant")

    def code(self, expert: str, intro: str, source: str) -> int:
        return self.say(expert, f"{intro}\n\n```python\n{source}\n```")

    def terminal(self, exit_code: int, output: str) -> int:
        state = "execution succeeded" if exit_code == 0 else "execution failed"
        return self.add("tool.result", {"tool": "Computer_terminal", "status": "ok",
                                        "output": f"exitcode: {exit_code} ({state})\nCode output: {output}"},
                        name="Computer_terminal")


# -- LangGraph, browser-use -------------------------------------------------------------------------

WEATHER_TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "search_flights", "parameters": {
        "type": "object", "properties": {"origin": {"type": "string"}, "destination": {"type": "string"},
                                         "date": {"type": "string"}}, "required": ["origin", "destination"]}}},
]


class ReactAgent(Run):
    def __init__(self, name: str, description: str, task: str) -> None:
        super().__init__("langgraph_react", name, description, tools=WEATHER_TOOLS)
        self.add("llm.request", {"model": MODEL, "messages": [{"role": "user", "content": task}]})

    def use(self, tool: str, args: dict[str, Any], output: str, status: str = "success") -> tuple[int, int]:
        call_id = self.call_id()
        decided = self.llm("", tool_calls=[{"name": tool, "args": args, "id": call_id, "type": "tool_call"}])
        self.add("tool.call", {"tool": tool, "arguments": args, "call_id": call_id}, parent=decided)
        payload: dict[str, Any] = {"tool": tool, "call_id": call_id, "output": output}
        if status == "error":
            payload["status"] = "error"
            payload["error"] = {"message": output}
        else:
            payload["status"] = "ok"
        return decided, self.add("tool.result", payload)


class BrowserUse(Run):
    def __init__(self, name: str, description: str, task: str) -> None:
        super().__init__("browser_use", name, description,
                         tools=["go_to_url", "click_element", "input_text", "scroll_down", "done"])
        self.add("llm.request", {"model": MODEL, "messages": [{"role": "user", "content": task}]})
        self.shot = 0

    def think(self, goal: str, action: dict[str, Any]) -> int:
        return self.llm(json.dumps({"current_state": {"evaluation_previous_goal": "Unknown", "memory": "",
                                                      "next_goal": goal}, "action": [action]}))

    def goto(self, url: str, status: int = 200, error: dict[str, Any] | None = None) -> tuple[int, int]:
        decided = self.think(f"Open {url}", {"go_to_url": {"url": url}})
        payload: dict[str, Any] = {"url": url}
        if error is None:
            payload["status_code"] = status
        else:
            payload["error"] = error
        return decided, self.add("browser.navigation", payload, parent=decided)

    def act(self, action: str, index: int, changes: bool = True, error: str | None = None) -> tuple[int, int]:
        decided = self.think(f"{action} element {index}", {action: {"index": index}})
        if changes:
            self.shot += 1
        payload: dict[str, Any] = {"action": action, "selector": f"index={index}", "status": "ok",
                                   "screenshot_digest": f"sha256:{self.shot:04x}"}
        if error is not None:
            payload["status"], payload["error"] = "error", {"message": error}
        return decided, self.add("browser.action", payload, parent=decided)

    def done(self, text: str, success: bool) -> int:
        return self.think("Finish", {"done": {"text": text, "success": success}})


# -- the runs ---------------------------------------------------------------------------------------

def smolagents_code_runs() -> list[Run]:
    runs = []

    r = CodeAgent("keyerror_fixed_next_step", "A KeyError in step 1 is fixed in step 2; correct answer.",
                  "How many studio albums did Mercedes Sosa publish between 2000 and 2009?")
    r.plan("- The artist is Mercedes Sosa.", ["Search the discography", "Count albums 2000-2009"])
    decided, failed = r.step("Read the album table.", 'albums = data["studio_albums"]\nprint(len(albums))',
                             error="Code execution failed at line 'albums = data[\"studio_albums\"]' due to: "
                                   "InterpreterError: Could not index {'albums': [...]} with 'studio_albums': "
                                   "KeyError: 'studio_albums'")
    r.step("Use the right key.", 'albums = [a for a in data["albums"] if 2000 <= a["year"] <= 2009]\nprint(len(albums))',
           logs="3")
    r.final("3")
    r.mistake(["code_execution_error", "tool_error"], decided, failed, recovered=True)
    r.near_miss += ["loop", "unexplained_failure"]
    r.end("success")
    runs.append(r)

    r = CodeAgent("zero_division_then_answers", "The ratio computation crashes; the agent answers anyway.",
                  "What is the ratio of penguins to seals on the island according to the 2021 census?")
    r.plan("- Census 2021.", ["Find counts", "Divide"])
    r.step("Search the census.", 'print(web_search(query="island census 2021 penguins seals"))',
           logs="## Search Results\n0. [Census 2021](https://stats.example.org/2021)\nPenguins: 1200, Seals: 0")
    decided, failed = r.step("Compute the ratio.", "ratio = 1200 / seals\nprint(ratio)",
                             error="Code execution failed at line 'ratio = 1200 / seals' due to: "
                                   "ZeroDivisionError: division by zero")
    r.final("1200")
    r.mistake(["code_execution_error", "tool_error"], decided, failed)
    r.end("success")
    runs.append(r)

    r = CodeAgent("parse_error_then_code", "The model answers in prose once; the complaint makes it write code.",
                  "Which element has atomic number 74?")
    r.plan("- Atomic number 74.", ["Look it up"])
    decided, complaint = r.unparsable("Thought: I know this one. The element with atomic number 74 is tungsten.")
    r.step("Check it.", 'print(web_search(query="element atomic number 74"))', logs="Tungsten (W), atomic number 74")
    r.final("Tungsten")
    r.mistake(["malformed_output"], decided, complaint, recovered=True)
    r.end("success")
    runs.append(r)

    r = CodeAgent("parse_errors_until_max_steps", "The model never writes a code block; max steps is reached.",
                  "Give the IATA code of the busiest airport in Bolivia.")
    r.plan("- Bolivia.", ["Search airports", "Answer"])
    for text in ("Thought: The busiest airport is El Alto.", "Thought: It should be VVI, Viru Viru.",
                 "Thought: Answer: VVI"):
        decided, complaint = r.unparsable(text)
        r.mistake(["malformed_output"], decided, complaint)
    limit = r.add("error", {"type": "AgentMaxStepsError", "message": "Reached max steps."})
    r.mistake(["step_limit"], decided, limit)
    r.llm("VVI")
    r.end("success")
    runs.append(r)

    r = CodeAgent("forbidden_page_then_guess", "The source page answers 403; the agent guesses from memory.",
                  "What was the closing price of ACME on 2023-03-01 according to its investor page?")
    r.plan("- ACME investor page.", ["Open the page", "Read the price"])
    decided, seen = r.step("Open the investor page.", 'print(visit_webpage(url="https://ir.acme.example/prices"))',
                           logs="Error fetching the webpage: 403 Client Error: Forbidden for url: "
                                "https://ir.acme.example/prices")
    r.final("41.20")
    r.mistake(["tool_error", "auth_error"], decided, seen)
    r.end("success")
    runs.append(r)

    r = CodeAgent("missing_page_then_search", "A guessed URL is 404; a web search finds the right page.",
                  "Who directed the 1954 film 'Sabrina'?")
    r.plan("- Film from 1954.", ["Open the Wikipedia page"])
    decided, seen = r.step("Open the page.", 'print(visit_webpage(url="https://en.wikipedia.org/wiki/Sabrina_1954"))',
                           logs="Error fetching the webpage: 404 Client Error: Not Found for url: "
                                "https://en.wikipedia.org/wiki/Sabrina_1954")
    r.step("Search instead.", 'print(web_search(query="Sabrina 1954 film director"))',
           logs="## Search Results\n0. [Sabrina (1954 film)](https://en.wikipedia.org/wiki/Sabrina_(1954_film))\n"
                "Directed by Billy Wilder")
    r.final("Billy Wilder")
    r.mistake(["not_found", "tool_error"], decided, seen, recovered=True)
    r.end("success")
    runs.append(r)

    r = CodeAgent("clean_with_error_words", "Clean run whose pages talk about 404s, 500s, rate limits and tracebacks.",
                  "List the HTTP status codes the httpx guide mentions first.")
    r.plan("- The httpx guide.", ["Search", "Read", "Answer"])
    r.step("Search the guide.", 'print(web_search(query="httpx guide status codes"))',
           logs="## Search Results\n0. [HTTP 404 explained](https://example.org/404)\n1. [500 Internal Server Error: "
                "causes](https://example.org/500)\n2. [API rate limits and 429 Too Many Requests](https://example.org/rl)")
    r.step("Read the guide with a timeout.", 'page = visit_webpage(url="https://www.python-httpx.org/quickstart/")\n'
           'print(page[:400])', logs="# QuickStart\nhttpx raises on timeout=5 if the server is slow. Read the "
                                     "Traceback section for details. Status codes: 200, 404, 500.")
    r.final("200, 404, 500")
    r.near_miss += ["not_found", "server_error", "rate_limited", "code_execution_error", "timeout", "tool_error",
                    "context_overflow", "malformed_output"]
    r.end("success")
    runs.append(r)

    r = CodeAgent("search_ratelimited_twice", "DuckDuckGo rate-limits two searches; the agent answers unsourced.",
                  "What is the population of Tromsø municipality in 2023?")
    r.plan("- Tromsø.", ["Search", "Answer"])
    first = None
    for query in ("Tromsø population 2023", "Tromsø municipality population"):
        decided, failed = r.step("Search.", f'print(web_search(query="{query}"))',
                                 error=f"Code execution failed at line 'print(web_search(query=\"{query}\"))' due to: "
                                       "DuckDuckGoSearchException: https://lite.duckduckgo.com/lite/ 202 Ratelimit")
        first = first or (decided, failed)
        r.mistake(["rate_limited", "code_execution_error", "tool_error"], decided, failed)
    r.final("77,000")
    r.end("success")
    runs.append(r)

    r = CodeAgent("read_timeout_then_answer", "A data download times out and is never retried.",
                  "How many rows does the city's 2022 tree inventory CSV have?")
    r.plan("- CSV on data.city.example.", ["Download", "Count"])
    decided, failed = r.step("Download it.", 'import requests\nrows = requests.get("https://data.city.example/trees.csv", '
                             'timeout=5).text.count("\\n")', error="Code execution failed at line 'rows = requests.get("
                             "...)' due to: ReadTimeout: HTTPSConnectionPool(host='data.city.example', port=443): Read "
                             "timed out. (read timeout=5)")
    r.final("about 40000")
    r.mistake(["timeout", "code_execution_error", "tool_error"], decided, failed)
    r.end("success")
    runs.append(r)

    r = CodeAgent("context_window_exceeded", "Pasting a whole book into memory overflows the context window.",
                  "Count the occurrences of 'whale' in Moby Dick.")
    r.plan("- Project Gutenberg text.", ["Download", "Count"])
    r.step("Download the text.", 'text = visit_webpage(url="https://www.gutenberg.org/files/2701/2701-0.txt")\n'
           'print(text)', logs="Call me Ishmael. " * 40)
    failed = r.add("llm.response", {"model": MODEL, "usage": {}, "error": {
        "type": "ContextWindowExceededError", "code": "context_length_exceeded",
        "message": "litellm.ContextWindowExceededError: This model's maximum context length is 128000 tokens. "
                   "However, your messages resulted in 301544 tokens."}})
    r.mistake(["context_overflow", "llm_error"], failed, failed)
    r.near_miss += ["unexplained_failure"]
    r.end("error", error={"type": "AgentGenerationError", "message": "Error in generating model output"})
    runs.append(r)

    r = CodeAgent("wrong_year_in_plan", "Every step runs; the plan looked up the wrong year, so the answer is wrong.",
                  "Which country won the most gold medals at the 2016 Summer Olympics?")
    plan = r.plan("- Summer Olympics.", ["Search the 2012 medal table", "Read the leader"])
    r.step("Search the medal table.", 'print(web_search(query="2012 Summer Olympics medal table"))',
           logs="United States 46 gold, China 38 gold")
    r.final("United States")
    r.mistake(["unexplained_failure"], plan, len(r.events) - 1)  # seen at the last step, caused by the plan
    r.near_miss += ["tool_error", "code_execution_error"]
    r.end("failure", reason="wrong answer")
    runs.append(r)

    r = CodeAgent("service_unavailable_then_mirror", "A 503 from the main site; a mirror works.",
                  "What license does the 'requests' library use?")
    r.plan("- PyPI metadata.", ["Open PyPI", "Read the license"])
    decided, seen = r.step("Open PyPI.", 'print(visit_webpage(url="https://pypi.org/project/requests/"))',
                           logs="Error fetching the webpage: 503 Server Error: Service Unavailable for url: "
                                "https://pypi.org/project/requests/")
    r.step("Try the GitHub page.", 'print(visit_webpage(url="https://github.com/psf/requests"))',
           logs="# psf/requests\nLicense: Apache-2.0")
    r.final("Apache-2.0")
    r.mistake(["server_error", "tool_error"], decided, seen, recovered=True)
    r.end("success")
    runs.append(r)

    r = CodeAgent("closing_tag_missing", "Newer smolagents: the <code> block is never closed.",
                  "What is 17 * 23?")
    decided = r.llm("Thought: multiply.\n<code>\nprint(17 * 23)\n")
    complaint = r.add("error", {"type": "AgentParsingError", "message": (
        "Error in code parsing:\nYour code snippet is invalid, because the regex pattern <code>(.*?)</code> was not "
        "found in it.\nHere is your code snippet:\nThought: multiply.\n<code>\nprint(17 * 23)\nMake sure to provide "
        "correct code blobs.")}, parent=decided)
    r.step("Close the tag this time.", "print(17 * 23)", logs="391")
    r.final("391")
    r.mistake(["malformed_output"], decided, complaint, recovered=True)
    r.end("success")
    runs.append(r)

    r = CodeAgent("same_page_read_three_times", "The agent reads the same page three times with the same result.",
                  "What is the second sentence of the Zen of Python?")
    first_call = None
    for _ in range(3):
        decided, _seen = r.step("Read the PEP.", 'print(visit_webpage(url="https://peps.python.org/pep-0020/"))',
                                logs="Beautiful is better than ugly.")
        first_call = first_call or decided
    r.final("Explicit is better than implicit.")
    r.mistake(["loop"], first_call, first_call + 1)
    r.end("failure")
    runs.append(r)

    r = CodeAgent("empty_answer_then_stop", "The model returns nothing and the run stops.",
                  "Name the capital of Burkina Faso.")
    r.plan("- Burkina Faso.", ["Answer"])
    empty = r.llm("")
    r.mistake(["empty_or_refused_response"], empty, empty)
    r.end("failure")
    runs.append(r)

    r = CodeAgent("clean_long_answer", "Clean run whose answer talks about steps, context windows and parsing.",
                  "Summarise how the agent loop handles its budget.")
    r.plan("- The agent docs.", ["Read", "Summarise"])
    r.step("Read the docs.", 'print(visit_webpage(url="https://huggingface.co/docs/smolagents/conceptual_guides"))',
           logs="Parsed 20 sections. The maximum number of steps is configurable; the context window is 128k tokens.")
    r.llm("I'm sorry for the long answer; here it is: the loop stops at max_steps.", finish_reason="length")
    r.final("It stops after max_steps and summarises.")
    r.near_miss += ["step_limit", "context_overflow", "malformed_output", "empty_or_refused_response", "llm_error",
                    "timeout"]
    r.end("success")
    runs.append(r)
    return runs


def smolagents_toolcalling_runs() -> list[Run]:
    runs = []
    r = ToolAgent("unknown_tool_then_right_one", "The model calls a tool it was not given, then the right one.",
                  "Find the height of the Eiffel Tower.")
    decided, seen = r.use("google_search", {"q": "Eiffel Tower height"},
                          error="Unknown tool google_search, should be instead one of ['web_search', 'visit_webpage', "
                                "'final_answer'].")
    r.mistake(["malformed_tool_call"], decided, decided, recovered=True)
    r.mistake(["tool_error"], decided, seen)
    r.use("web_search", {"query": "Eiffel Tower height"}, output="The tower is 330 metres tall.")
    r.use("final_answer", {"answer": "330 m"}, output="330 m")
    r.end("success")
    runs.append(r)

    r = ToolAgent("bad_url_fixed", "visit_webpage without a scheme fails; the agent adds https.",
                  "What is the first heading of example.com?")
    decided, seen = r.use("visit_webpage", {"url": "example.com"},
                          error="Error executing tool 'visit_webpage' with arguments {'url': 'example.com'}: "
                                "MissingSchema: Invalid URL 'example.com': No scheme supplied.")
    r.use("visit_webpage", {"url": "https://example.com"}, output="# Example Domain\nThis domain is for use in examples.")
    r.use("final_answer", {"answer": "Example Domain"}, output="Example Domain")
    r.mistake(["tool_error"], decided, seen, recovered=True)
    r.end("success")
    runs.append(r)

    r = ToolAgent("search_ratelimited_answers_anyway", "The only search is rate limited; the answer is made up.",
                  "Who won the 2023 Tour de France?")
    decided, seen = r.use("web_search", {"query": "2023 Tour de France winner"},
                          error="Error executing tool 'web_search' with arguments {'query': '2023 Tour de France "
                                "winner'}: DuckDuckGoSearchException: https://html.duckduckgo.com/html 202 Ratelimit")
    r.use("final_answer", {"answer": "Tadej Pogačar"}, output="Tadej Pogačar")
    r.mistake(["rate_limited", "tool_error"], decided, seen)
    r.end("success")
    runs.append(r)

    r = ToolAgent("clean_research", "Clean run; the page has legal boilerplate about unauthorised use.",
                  "What year was the Rosetta Stone discovered?")
    r.use("web_search", {"query": "Rosetta Stone discovered year"},
          output="## Search Results\n0. [Rosetta Stone](https://www.britishmuseum.org/rosetta)\nDiscovered in 1799.")
    r.use("visit_webpage", {"url": "https://www.britishmuseum.org/rosetta"},
          output="# The Rosetta Stone\nFound in 1799 near Rashid.\n\nUnauthorized reproduction is forbidden. The server "
                 "error log and rate limits are described in our terms.")
    r.use("final_answer", {"answer": "1799"}, output="1799")
    r.add("assertion", {"passed": True, "expected": "1799", "actual": "1799"}, name="exact_match")
    r.near_miss += ["assertion_failed", "tool_error", "auth_error", "server_error", "rate_limited", "malformed_tool_call", "loop",
                    "step_limit", "llm_error"]
    r.end("success")
    runs.append(r)

    r = ToolAgent("same_search_four_times", "The same query returns nothing four times; then a guess.",
                  "What is the name of the cat in the 1998 game 'Zork Nemesis'?")
    first = None
    for _ in range(4):
        decided, _seen = r.use("web_search", {"query": "Zork Nemesis cat name"},
                               output="No results found! Try a less restrictive/shorter query.")
        first = first or decided
    r.use("final_answer", {"answer": "Mr. Whiskers"}, output="Mr. Whiskers")
    r.mistake(["loop"], first, first + 1)
    r.end("success")
    runs.append(r)

    r = ToolAgent("refuses_task", "The model refuses a harmless task.", "Translate 'good morning' to Finnish.")
    refused = r.llm("I'm sorry, but I can't help with that request.")
    r.mistake(["empty_or_refused_response"], refused, refused)
    r.end("failure")
    runs.append(r)

    r = ToolAgent("empty_then_tool_call", "One empty response, then the model calls a tool.",
                  "What is the boiling point of ethanol?")
    empty = r.llm("")
    r.use("web_search", {"query": "ethanol boiling point"}, output="78.37 °C")
    r.use("final_answer", {"answer": "78.37 °C"}, output="78.37 °C")
    r.mistake(["empty_or_refused_response"], empty, empty, recovered=True)
    r.end("success")
    runs.append(r)

    r = ToolAgent("generation_context_overflow", "Model generation fails: the context window is exceeded.",
                  "Summarise these ten reports.")
    r.use("visit_webpage", {"url": "https://reports.example.org/all"}, output="Report 1 ... " * 30)
    failed = r.add("llm.response", {"model": MODEL, "usage": {}, "error": {
        "type": "BadRequestError", "code": "context_length_exceeded",
        "message": "Error code: 400 - This model's maximum context length is 128000 tokens."}})
    r.mistake(["context_overflow", "llm_error"], failed, failed)
    r.end("error")
    runs.append(r)

    r = ToolAgent("max_steps_reached", "The agent keeps visiting different pages until max steps.",
                  "Find the email address of the Ljubljana tourist office.")
    for page in ("contact", "about", "visit", "info"):
        r.use("visit_webpage", {"url": f"https://www.visitljubljana.example/{page}"}, output=f"# {page.title()}\nNo email.")
    last_decision = len(r.events) - 3
    limit = r.add("error", {"type": "AgentMaxStepsError", "message": "Reached max steps."})
    r.mistake(["step_limit"], last_decision, limit)
    r.llm("The email address could not be found.")
    r.end("success")
    runs.append(r)

    r = ToolAgent("truncated_json_arguments", "The arguments string is cut off mid-JSON.", "Weather in Paris?")
    call_id = r.call_id()
    decided = r.llm(None, tool_calls=[{"id": call_id, "type": "function",
                                       "function": {"name": "web_search", "arguments": '{"query": "weather in Paris"'}}])
    r.mistake(["malformed_tool_call"], decided, decided)
    seen = r.add("error", {"type": "AgentToolCallError", "message": "Invalid JSON in tool call arguments: Expecting ',' "
                           "delimiter: line 1 column 29 (char 28)"}, parent=decided)
    r.mistake(["malformed_output"], decided, seen)
    r.end("failure")
    runs.append(r)

    r = ToolAgent("clean_date_parsing", "Clean run: a tool says it could not parse a date and assumed one.",
                  "What day of the week was 1 January 2000?")
    r.use("web_search", {"query": "1 January 2000 weekday"},
          output="Could not parse the date format, assuming ISO. 2000-01-01 was a Saturday.")
    r.use("final_answer", {"answer": "Saturday"}, output="Saturday")
    r.near_miss += ["malformed_output", "not_found", "tool_error", "empty_or_refused_response"]
    r.end("success")
    runs.append(r)
    return runs


def magentic_one_runs() -> list[Run]:
    runs = []
    r = MagenticOne("bot_check_twice", "The web surfer hits a Cloudflare check twice; the orchestrator guesses.",
                    "How many stars does the 'fastapi' repository have on GitHub today?")
    r.plan("- WebSurfer opens the repository page and reads the star count.")
    r.ask("WebSurfer", "Please open https://github.com/fastapi/fastapi and read the star count.")
    first = r.surf("I typed 'https://github.com/fastapi/fastapi' into the browser address bar.", "Just a moment...",
                   "https://github.com/fastapi/fastapi", "Verify you are human by completing the action below.")
    r.ask("WebSurfer", "Please reload the page and read the star count.")
    r.surf("I reloaded the page.", "Just a moment...", "https://github.com/fastapi/fastapi",
           "Verify you are human by completing the action below.")
    r.mistake(["navigation_error"], first, first)
    r.answer("80,000")
    r.near_miss += ["unexplained_failure"]
    r.end("failure")
    runs.append(r)

    r = MagenticOne("access_denied_then_search", "A news site denies access; a Bing search finds the fact.",
                    "In which year did the Hubble Space Telescope launch?")
    r.plan("- WebSurfer reads NASA's page.")
    r.ask("WebSurfer", "Open the Hubble page on nasa.gov and find the launch year.")
    denied = r.surf("I clicked 'Hubble'.", "Access Denied", "https://www.nasa.gov/hubble",
                    "You don't have permission to access this resource on this server.")
    r.ask("WebSurfer", "Search Bing for 'Hubble launch year' instead.")
    r.surf("I typed 'Hubble launch year' into the Bing search bar.", "Hubble launch year - Search",
           "https://www.bing.com/search?q=Hubble+launch+year", "Hubble Space Telescope launched April 24, 1990.")
    r.mistake(["navigation_error", "auth_error"], denied, denied, recovered=True)
    r.answer("1990")
    r.end("success")
    runs.append(r)

    r = MagenticOne("script_reads_missing_file", "The coder's script opens a file that is not there.",
                    "What is the average of the 'score' column in the attached scores.csv?")
    r.plan("- Assistant writes a pandas script; ComputerTerminal runs it.")
    r.ask("Assistant", "Write a Python script that prints the mean of the score column of scores.csv.")
    coder = r.code("python", "import pandas as pd\nprint(pd.read_csv('/workspace/score.csv')['score'].mean())")
    r.ask("ComputerTerminal", "Run the script.")
    ran = r.terminal(1, "Traceback (most recent call last):\n  File \"/workspace/tmp_code.py\", line 2, in <module>\n"
                        "FileNotFoundError: [Errno 2] No such file or directory: '/workspace/score.csv'")
    r.mistake(["code_execution_error", "not_found"], coder, ran)
    r.answer("72.5")
    r.near_miss += ["unexplained_failure", "auth_error"]
    r.end("failure")
    runs.append(r)

    r = MagenticOne("script_fixed_on_retry", "The first script has a typo; the fixed one runs.",
                    "What is 2 to the power of 100, in full?")
    r.plan("- Assistant computes it in Python.")
    r.ask("Assistant", "Write a script that prints 2**100.")
    coder = r.code("python", "print(pow(2, 100)")
    r.ask("ComputerTerminal", "Run the script.")
    ran = r.terminal(1, "  File \"/workspace/tmp_code.py\", line 1\n    print(pow(2, 100)\n         ^\n"
                        "SyntaxError: '(' was never closed")
    r.ask("Assistant", "Fix the syntax error.")
    r.code("python", "print(pow(2, 100))")
    r.ask("ComputerTerminal", "Run the script again.")
    r.terminal(0, "1267650600228229401496703205376")
    r.mistake(["code_execution_error"], coder, ran, recovered=True)
    r.answer("1267650600228229401496703205376")
    r.end("success")
    runs.append(r)

    r = MagenticOne("orchestrator_sends_wrong_url", "The orchestrator dictates a wrong URL; the page is a 404.",
                    "What is the title of PEP 8?")
    r.plan("- WebSurfer opens PEP 8.")
    wrong = r.ask("WebSurfer", "Open https://peps.python.org/pep-8000/ and read the title.")
    page = r.surf("I typed 'https://peps.python.org/pep-8000/' into the browser address bar.", "404 Not Found",
                  "https://peps.python.org/pep-8000/", "Page not found. The requested URL was not found.")
    # The annotator blames the instruction (its URL), not the surfer who followed it: a known blind spot.
    r.mistake(["not_found", "navigation_error"], wrong, page)
    r.answer("Style Guide for Python Code")
    r.end("failure")
    runs.append(r)

    r = MagenticOne("filesurfer_missing_document", "The file surfer opens a document link that is gone.",
                    "What does section 2 of the attached policy say about refunds?")
    r.plan("- FileSurfer opens the policy document.")
    r.ask("FileSurfer", "Open the policy document and read section 2.")
    opened = r.say("FileSurfer", "Address: https://docs.shop.example/policy.pdf\nTitle: 404 Not Found\nViewport "
                   "position: Showing page 1 of 1.\n=======================\nThe document you requested was not found.")
    r.mistake(["not_found", "navigation_error"], opened, opened)
    r.answer("Refunds within 30 days")
    r.end("failure")
    runs.append(r)

    r = MagenticOne("clean_with_warnings", "Clean run; the orchestrator's plan warns about access-denied pages.",
                    "What is the boiling point of water at sea level in Fahrenheit?")
    r.plan("- WebSurfer searches. If a page says Access Denied or 404 Not Found, try another source.")
    r.ask("WebSurfer", "Search for the boiling point of water in Fahrenheit. Avoid pages with a captcha.")
    r.surf("I typed 'boiling point of water fahrenheit' into the Bing search bar.", "boiling point of water - Search",
           "https://www.bing.com/search?q=boiling+point", "Water boils at 212 °F at sea level. " + "Related: " * 60
           + "How to solve a captcha; 404 error pages explained.")
    r.ask("Assistant", "Confirm by converting 100 °C to Fahrenheit.")
    r.code("python", "print(100 * 9 / 5 + 32)")
    r.ask("ComputerTerminal", "Run it.")
    r.terminal(0, "212.0\nerror rate: 0")
    r.answer("212")
    r.near_miss += ["navigation_error", "auth_error", "not_found", "code_execution_error", "tool_error",
                    "unexplained_failure"]
    r.end("success")
    runs.append(r)

    r = MagenticOne("web_surfing_timeout_retried", "The surfer's click times out; the retry works.",
                    "What is the opening paragraph of the Python tutorial?")
    r.plan("- WebSurfer opens docs.python.org.")
    r.ask("WebSurfer", "Open https://docs.python.org/3/tutorial/ and read the first paragraph.")
    failed = r.say("WebSurfer", "Web surfing error:\n\nTraceback (most recent call last):\n  File \"/app/"
                   "multimodal_web_surfer.py\", line 238, in _generate_reply\n    await self._page.goto(url)\n"
                   "playwright._impl._errors.TimeoutError: Timeout 30000ms exceeded.")
    r.ask("WebSurfer", "Please try again.")
    r.surf("I typed 'https://docs.python.org/3/tutorial/' into the browser address bar.", "The Python Tutorial",
           "https://docs.python.org/3/tutorial/", "Python is an easy to learn, powerful programming language.")
    r.mistake(["navigation_error", "timeout"], failed, failed, recovered=True)
    r.answer("Python is an easy to learn, powerful programming language.")
    r.end("success")
    runs.append(r)

    r = MagenticOne("no_progress_then_replan", "The orchestrator's ledger says no progress twice, then replans.",
                    "What was the GDP of Malta in 2019 in USD according to the World Bank?")
    r.plan("- WebSurfer searches the World Bank site.")
    r.ask("WebSurfer", "Search the World Bank for Malta GDP 2019.")
    judged = r.surf("I typed 'Malta GDP 2019' into the search bar.", "Malta - Data", "https://data.worldbank.org/"
                    "country/malta", "Malta: population, CO2 emissions, life expectancy.")
    stuck = r.ask("WebSurfer", "Open the GDP indicator page for Malta.", progress=False) - 1
    r.mistake(["stalled"], judged, stuck)
    again = r.surf("I clicked 'Indicators'.", "Indicators - Malta", "https://data.worldbank.org/country/malta/"
                   "indicators", "Browse by topic: Health, Education, Environment.")
    r.ask("WebSurfer", "Scroll to the economy section.", progress=False)
    replan = r.say("Orchestrator (thought)", "Stalled.... Replanning...")
    r.mistake(["stalled"], again, replan)
    r.answer("15 billion")
    r.end("failure")
    runs.append(r)

    r = MagenticOne("misread_page_no_error", "No error anywhere: the surfer misreads the table; the answer is wrong.",
                    "How many moons does Neptune have according to NASA?")
    r.plan("- WebSurfer reads NASA's Neptune page.")
    r.ask("WebSurfer", "Open NASA's Neptune facts page and read the number of moons.")
    misread = r.surf("I clicked 'Neptune Facts'.", "Neptune Facts - NASA Science", "https://science.nasa.gov/neptune/facts",
                     "Neptune has 16 known moons. Uranus has 28.")
    # Nothing failed: our fallback names the plan, the annotator names the surfer's misreading.
    r.answer("28")
    r.mistake(["unexplained_failure"], misread, len(r.events) - 1)
    r.end("failure")
    runs.append(r)
    return runs


def autogen_expert_runs() -> list[Run]:
    runs = []
    r = ExpertChat("name_error_fixed", "A NameError is fixed by the same expert on the next turn.",
                   "Compute the sum of the first 50 primes.", "Math_Expert")
    coder = r.code("Math_Expert", "Let's compute it.", "print(sum(primes[:50]))")
    ran = r.terminal(1, "Traceback (most recent call last):\n  File \"\", line 1, in <module>\n"
                        "NameError: name 'primes' is not defined")
    r.code("Math_Expert", "I forgot to define primes.", "from sympy import prime\nprint(sum(prime(i) for i in range(1, 51)))")
    r.terminal(0, "5117")
    r.say("Verification_Expert", "5117 is correct. TERMINATE")
    r.mistake(["code_execution_error"], coder, ran, recovered=True)
    r.end("success")
    runs.append(r)

    r = ExpertChat("module_missing_answer_guessed", "The PDF library is missing; the verifier answers from memory.",
                   "How many pages does the attached report.pdf have?", "DataAnalysis_Expert")
    coder = r.code("DataAnalysis_Expert", "Read the PDF.", "import pdfplumber\nprint(len(pdfplumber.open('report.pdf').pages))")
    ran = r.terminal(1, "Traceback (most recent call last):\n  File \"\", line 1, in <module>\n"
                        "ModuleNotFoundError: No module named 'pdfplumber'")
    r.say("Verification_Expert", "Reports like this usually have 12 pages. The answer is 12. TERMINATE")
    r.mistake(["code_execution_error"], coder, ran)
    r.near_miss += ["not_found", "unexplained_failure"]
    r.end("failure")
    runs.append(r)

    r = ExpertChat("unknown_language_block", "A code block without a language tag; resent as python.",
                   "Reverse the string 'agentdeck'.", "Python_Expert")
    coder = r.say("Python_Expert", "```\nprint('agentdeck'[::-1])\n```")
    ran = r.terminal(1, "unknown language unknown")
    r.code("Python_Expert", "With the language tag:", "print('agentdeck'[::-1])")
    r.terminal(0, "kcedtnega")
    r.say("Verification_Expert", "Correct. TERMINATE")
    r.mistake(["code_execution_error"], coder, ran, recovered=True)
    r.end("success")
    runs.append(r)

    r = ExpertChat("clean_with_traceback_word", "Clean run; the output mentions tracebacks and a server in prose.",
                   "How many vowels are in 'traceback'?", "Python_Expert")
    r.code("Python_Expert", "Count them.", "print(sum(c in 'aeiou' for c in 'traceback'))")
    r.terminal(0, "3\nNote: a Traceback is printed only when the server raises.")
    r.say("Verification_Expert", "I'm sorry for the delay. The count 3 is verified. TERMINATE")
    r.near_miss += ["code_execution_error", "server_error", "empty_or_refused_response", "unexplained_failure",
                    "step_limit"]
    r.end("success")
    runs.append(r)

    r = ExpertChat("wrong_formula_no_error", "The first expert uses the wrong formula; everything runs.",
                   "What is the area of a circle of radius 3, to two decimals?", "Geometry_Expert")
    wrong = r.code("Geometry_Expert", "Area is 2*pi*r.", "import math\nprint(round(2 * math.pi * 3, 2))")
    r.terminal(0, "18.85")
    r.say("Verification_Expert", "18.85 matches. TERMINATE")
    r.mistake(["unexplained_failure"], wrong, len(r.events) - 1)
    r.end("failure")
    runs.append(r)

    r = ExpertChat("script_times_out", "The scraping script exceeds the executor's timeout.",
                   "Count the links on the city's open data portal.", "WebScraping_Expert")
    coder = r.code("WebScraping_Expert", "Scrape it.", "import requests, re\nhtml = requests.get('https://data.city.example').text\n"
                   "print(len(re.findall('<a ', html)))")
    ran = r.terminal(124, "Timeout")
    r.say("Verification_Expert", "We could not count them; I estimate 250. TERMINATE")
    r.mistake(["timeout", "code_execution_error"], coder, ran)
    r.end("failure")
    runs.append(r)

    r = ExpertChat("http_error_inside_output", "The script succeeds but prints the API's 503 page.",
                   "Fetch today's exchange rate EUR→USD from the rates API.", "Finance_Expert")
    coder = r.code("Finance_Expert", "Call the API.", "import requests\nprint(requests.get('https://rates.example/eur').text)")
    ran = r.terminal(0, "503 Service Unavailable")
    r.say("Verification_Expert", "The rate is about 1.08. TERMINATE")
    r.mistake(["server_error", "tool_error", "navigation_error"], coder, ran)
    r.end("success")
    runs.append(r)
    return runs


def langgraph_runs() -> list[Run]:
    runs = []
    r = ReactAgent("city_not_found_then_fixed", "ToolNode reports an unknown city; the model corrects it.",
                   "What's the weather in Atlantis, Greece?")
    decided, seen = r.use("get_weather", {"city": "Atlantis"}, "Error: ValueError('City not found: Atlantis')\n "
                          "Please fix your mistakes.", status="error")
    r.use("get_weather", {"city": "Santorini"}, "Sunny, 24 °C")
    r.llm("It is sunny and 24 °C on Santorini.")
    r.mistake(["tool_error", "not_found"], decided, seen, recovered=True)
    r.end("success")
    runs.append(r)

    r = ReactAgent("missing_required_argument", "The model omits the destination; it then gives up.",
                   "Find me a flight from SFO tomorrow.")
    decided, seen = r.use("search_flights", {"origin": "SFO"}, "Error: 1 validation error for search_flights\n"
                          "destination\n  Field required [type=missing, input_value={'origin': 'SFO'}, input_type=dict]\n"
                          " Please fix your mistakes.", status="error")
    r.mistake(["malformed_tool_call"], decided, decided)
    r.mistake(["tool_error"], decided, seen)
    r.llm("I couldn't search flights right now.")
    r.end("success")
    runs.append(r)

    r = ReactAgent("error_text_with_ok_status", "The tool message lost its error status; the content is ToolNode's.",
                   "Weather in Oslo?")
    decided, seen = r.use("get_weather", {"city": "Oslo"}, "Error: ConnectionError('weather backend unreachable')\n "
                          "Please fix your mistakes.")
    r.llm("Oslo is probably cold today.")
    r.mistake(["tool_error"], decided, seen)
    r.end("success")
    runs.append(r)

    r = ReactAgent("weather_api_unauthorized", "The weather API key is rejected.", "Weather in Lima?")
    decided, seen = r.use("get_weather", {"city": "Lima"}, "Error: HTTPError('401 Client Error: Unauthorized for url: "
                          "https://api.weather.example/v1/current?city=Lima')\n Please fix your mistakes.", status="error")
    r.llm("I cannot reach the weather service.")
    r.mistake(["auth_error", "tool_error"], decided, seen)
    r.end("failure")
    runs.append(r)

    r = ReactAgent("server_500_retried", "A 500 from the weather API; the retry works.", "Weather in Quito?")
    decided, seen = r.use("get_weather", {"city": "Quito"}, "Error: HTTPError('500 Server Error: Internal Server Error "
                          "for url: https://api.weather.example/v1/current?city=Quito')\n Please fix your mistakes.",
                          status="error")
    r.use("get_weather", {"city": "Quito"}, "Cloudy, 15 °C")
    r.llm("Cloudy and 15 °C in Quito.")
    r.mistake(["server_error", "tool_error"], decided, seen, recovered=True)
    r.end("success")
    runs.append(r)

    r = ReactAgent("clean_weather_talk", "Clean run; answers mention limits, errors and tokens in prose.",
                   "Weather in Reykjavik, and can I fly to Oslo?")
    r.use("get_weather", {"city": "Reykjavik"}, "Windy, 4 °C. Rainfall rate below the limit; no such thing as bad "
          "weather.")
    r.use("search_flights", {"origin": "KEF", "destination": "OSL"}, "2 flights found. Timeout policy: none.")
    r.llm("Windy and 4 °C. Two flights go to Oslo; the error margin on forecasts is small, and a context window of "
          "128k tokens was plenty.")
    r.near_miss += ["malformed_tool_call", "empty_or_refused_response", "tool_error", "rate_limited", "not_found",
                    "timeout", "context_overflow", "llm_error"]
    r.end("success")
    runs.append(r)

    r = ReactAgent("model_rate_limited_then_ok", "The model call is rate limited once; the retry answers.",
                   "Weather in Nairobi?")
    limited = r.add("llm.response", {"model": MODEL, "usage": {}, "error": {
        "type": "RateLimitError", "status": 429,
        "message": "Error code: 429 - Rate limit reached for gpt-4o in organization org-x on tokens per min."}})
    r.use("get_weather", {"city": "Nairobi"}, "Warm, 26 °C")
    r.llm("Warm, 26 °C.")
    r.mistake(["rate_limited", "llm_error"], limited, limited, recovered=True)
    r.end("success")
    runs.append(r)

    r = ReactAgent("model_server_error", "The provider answers 500 and the graph stops.", "Weather in Hanoi?")
    failed = r.add("llm.response", {"model": MODEL, "usage": {}, "error": {
        "type": "InternalServerError", "status": 500, "message": "Error code: 500 - The server had an error."}})
    r.mistake(["server_error", "llm_error"], failed, failed)
    r.end("error")
    runs.append(r)

    r = ReactAgent("answer_fails_check", "The final answer fails the evaluation check.", "Capital of Australia?")
    answer = r.llm("The capital of Australia is Sydney.")
    checked = r.add("assertion", {"passed": False, "expected": "Canberra", "actual": "Sydney",
                                  "message": "final answer matches the reference"}, name="exact_match")
    r.mistake(["assertion_failed"], answer, checked)
    r.end("success")
    runs.append(r)

    r = ReactAgent("check_passes_on_retry", "The first answer fails its check, the retried one passes.",
                   "Capital of Canada?")
    answer = r.llm("Toronto.")
    checked = r.add("assertion", {"passed": False, "expected": "Ottawa", "actual": "Toronto"}, name="exact_match")
    r.llm("Ottawa.")
    r.add("assertion", {"passed": True, "expected": "Ottawa", "actual": "Ottawa"}, name="exact_match")
    r.mistake(["assertion_failed"], answer, checked, recovered=True)
    r.end("success")
    runs.append(r)

    r = ReactAgent("check_passes", "Clean run with a passing check.", "Capital of Japan?")
    r.llm("Tokyo.")
    r.add("assertion", {"passed": True, "expected": "Tokyo", "actual": "Tokyo"}, name="exact_match")
    r.near_miss += ["assertion_failed", "unexplained_failure", "empty_or_refused_response"]
    r.end("success")
    runs.append(r)

    r = ReactAgent("prompt_too_long", "The conversation outgrows the context window.", "Summarise our chat so far.")
    failed = r.add("llm.response", {"model": MODEL, "usage": {}, "error": {
        "type": "BadRequestError", "status": 400, "code": "context_length_exceeded",
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                   "130567 tokens. Please reduce the length of the messages."}})
    r.mistake(["context_overflow", "llm_error"], failed, failed)
    r.end("error")
    runs.append(r)
    return runs


def browser_use_runs() -> list[Run]:
    runs = []
    r = BrowserUse("element_missing_then_stuck", "A product 404 is handled; a missing element then stalls the page.",
                   "Find the price of the blue widget on shop.example.com")
    r.goto("https://shop.example.com")
    r.act("click_element", 12)
    decided, missing = r.goto("https://shop.example.com/p/blue-widget-999", status=404)
    r.mistake(["not_found", "navigation_error"], decided, missing, recovered=True)
    r.goto("https://shop.example.com/search?q=blue+widget")
    r.act("click_element", 7)
    decided, failed = r.act("click_element", 31, error="Element with index 31 does not exist - retry or use "
                                                         "alternative actions")
    r.mistake(["navigation_error"], decided, failed)
    stuck = None
    for action in ("scroll_down", "click_element", "scroll_down"):
        decided2, seen = r.act(action, 14, changes=False)
        stuck = stuck or (decided2, seen)
    r.mistake(["stalled"], stuck[0], stuck[1])
    r.done("Could not find the price", success=False)
    r.end("failure", reason="task not completed")
    runs.append(r)

    r = BrowserUse("typo_domain_fixed", "A misspelt domain does not resolve; the agent fixes it.",
                   "Open the docs of browser-use.")
    decided, failed = r.goto("https://docs.browser-usee.com", error={
        "type": "net::ERR_NAME_NOT_RESOLVED", "message": "Page.goto: net::ERR_NAME_NOT_RESOLVED at "
                                                         "https://docs.browser-usee.com/"})
    r.goto("https://docs.browser-use.com")
    r.done("Opened the docs", success=True)
    r.mistake(["navigation_error"], decided, failed, recovered=True)
    r.near_miss += ["stalled", "loop"]
    r.end("success")
    runs.append(r)

    r = BrowserUse("blocked_403", "The site answers 403 to the automated browser.", "Read the top story on news.example.")
    decided, failed = r.goto("https://news.example/top", status=403)
    r.done("The site blocked me", success=False)
    r.mistake(["navigation_error", "auth_error"], decided, failed)
    r.near_miss += ["unexplained_failure"]
    r.end("failure")
    runs.append(r)

    r = BrowserUse("navigation_timeout", "The page never finishes loading.", "Check the status page.")
    decided, failed = r.goto("https://status.slow.example", error={
        "message": "Page.goto: Timeout 30000ms exceeded.\nCall log:\n  - navigating to \"https://status.slow.example/\""})
    r.done("The status page did not load", success=False)
    r.mistake(["navigation_error", "timeout"], decided, failed)
    r.end("failure")
    runs.append(r)

    r = BrowserUse("clicks_same_button", "The agent clicks the same dead button three times.", "Subscribe to the newsletter.")
    r.goto("https://blog.example")
    r.act("click_element", 3)
    first = None
    for _ in range(3):
        decided, seen = r.act("click_element", 9, changes=False)
        first = first or (decided, seen)
    r.mistake(["loop", "stalled"], first[0], first[1])
    r.done("Could not subscribe", success=False)
    r.end("failure")
    runs.append(r)

    r = BrowserUse("clean_with_redirect", "Clean run: a 301 redirect, two unchanged scrolls, a login page title.",
                   "Find the opening hours of the library.")
    r.goto("http://library.example", status=301)
    r.goto("https://library.example/hours")
    r.act("scroll_down", 1, changes=False)
    r.act("scroll_down", 2, changes=False)
    r.act("click_element", 4)
    r.act("click_element", 5)
    r.add("assertion", {"passed": True, "expected": "9-17", "actual": "9-17"}, name="hours")
    r.done("Open 9-17", success=True)
    r.near_miss += ["navigation_error", "stalled", "loop", "auth_error", "assertion_failed", "malformed_tool_call"]
    r.end("success")
    runs.append(r)

    r = BrowserUse("scrolls_forever", "Scrolling a page that no longer changes, until the step budget ends.",
                   "Find the last comment on the thread.")
    r.goto("https://forum.example/t/42")
    r.act("scroll_down", 1)
    first = None
    for index in range(2, 7):
        decided, seen = r.act("scroll_down", index, changes=False)
        first = first or (decided, seen)
    r.mistake(["stalled"], first[0], first[1])
    limit = r.add("error", {"message": "Failed to complete task in maximum steps"})
    r.mistake(["step_limit"], len(r.events) - 3, limit)
    r.end("failure")
    runs.append(r)

    r = BrowserUse("price_check_fails", "An end-to-end check finds the wrong price in the agent's answer.",
                   "What does the red widget cost?")
    r.goto("https://shop.example.com/p/red-widget")
    answer = r.done("The red widget costs $12", success=True)
    checked = r.add("assertion", {"passed": False, "expected": "$15", "actual": "$12"}, name="price")
    r.mistake(["assertion_failed"], answer, checked)
    r.end("success")
    runs.append(r)

    r = BrowserUse("clean_form_fill", "Clean run: every keystroke changes the page.", "Fill in the contact form.")
    r.goto("https://forms.example/contact")
    for index in (2, 3, 4):
        r.act("input_text", index)
    r.act("click_element", 5)
    r.done("Form sent", success=True)
    r.near_miss += ["stalled", "loop", "navigation_error"]
    r.end("success")
    runs.append(r)
    return runs


ALL_RUNS = (smolagents_code_runs, smolagents_toolcalling_runs, magentic_one_runs, autogen_expert_runs,
            langgraph_runs, browser_use_runs)


def main() -> None:
    runs = [run for build in ALL_RUNS for run in build()]
    for framework in {run.framework for run in runs}:  # swe_agent/ and openai_functions/ are written by hand
        for old in (ROOT / framework).glob("*.json"):
            old.unlink()
    written = [run.write() for run in runs]
    print(f"wrote {len(written)} runs under {ROOT}")


if __name__ == "__main__":
    main()
