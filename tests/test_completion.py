"""Tab completion of %pool_delete and %pools, asked the way a Jupyter kernel asks
(``shell.Completer.completions`` and ``shell.complete``), against the sandbox over real HTTP.

Each check looks at what the user would see: the line after accepting a completion, what was
sent to the server, how long the prompt was held, what was printed. Runs in .venv (IPython 9,
the v2 matcher) and .venv-compat (IPython 7.34, the magic-argument matcher).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import threading
import time
import unicodedata

import pytest
from conftest import clear_cloud_env, our_threads, until
from IPython.core import completer as ipc
from IPython.core.completer import provisionalcompleter

from modelarts_nb.notebook.completion import completer_of, register
from modelarts_nb.notebook.completion_words import parse_line
from modelarts_nb.sandbox import Fault

V2 = hasattr(ipc, "context_matcher")  # IPython 8.6+: the matcher replaces whole words


@pytest.fixture(autouse=True)
def fresh_completer(shell):
    """Each test starts as a fresh kernel would: an empty cache (sandboxes reuse ports and
    project ids, so a cached listing of one could otherwise answer for the next)."""
    register(shell)
    yield completer_of(shell)
    until(lambda: not [t for t in our_threads() if t.name == "modelarts-nb-completion"],
          what="the completion thread to end")


def completions(shell, text):
    with provisionalcompleter():
        return list(shell.Completer.completions(text, len(text)))


def lines(shell, text):
    """Every line the user can get by accepting one completion."""
    return [text[: c.start] + c.text + text[c.end:] for c in completions(shell, text)]


def ours(shell, text):
    return [text[: c.start] + c.text + text[c.end:] for c in completions(shell, text)
            if "modelarts_nb" in c._origin]


def pool_id(sb, name):
    (found,) = sb.display_names()[name]
    return found


def add_pool(sb, display, *, tags=None, source="pool-01"):
    body = copy.deepcopy(sb.pool_json(pool_id(sb, source)))
    meta = body["metadata"]
    meta["name"] = f"added-{len(sb.pool_ids()):02d}-{'a' * 30}"
    meta["labels"]["os.modelarts/name"] = display
    meta["annotations"].pop("os.modelarts/tms.tags", None)
    if tags is not None:
        meta["annotations"]["os.modelarts/tms.tags"] = json.dumps(
            [{"key": k, "value": v} for k, v in tags.items()])
    return sb.add_pool(body)


# -- pools --------------------------------------------------------------------------------------


def test_display_names_and_ids_complete_and_nothing_else(shell, env_sandbox):
    train = pool_id(env_sandbox, "train-gpu")
    got = lines(shell, "%pool_delete tr")
    assert got == ["%pool_delete train-gpu", f"%pool_delete {train}"]  # no Jedi keywords
    assert set(lines(shell, "%pool_delete " + train[:12])) == {f"%pool_delete {train}"}
    everything = lines(shell, "%pool_delete ")
    assert "%pool_delete infer-cpu" in everything and len(everything) == 2 * len(
        env_sandbox.pool_ids()) - 2  # team-shared: two ids, no name
    assert env_sandbox.count("GET") == 1


def test_a_name_two_pools_share_completes_to_their_ids(shell, env_sandbox):
    ids = env_sandbox.display_names()["team-shared"]
    assert sorted(lines(shell, "%pool_delete team-sh")) == sorted(
        f"%pool_delete {i}" for i in ids)


def test_works_in_a_cell_after_other_lines_and_as_an_assignment(shell, env_sandbox):
    assert "x = 1\n%pool_delete infer-cpu" in lines(shell, "x = 1\n%pool_delete inf")
    assert "r = %pools --name infer-cpu" in lines(shell, "r = %pools --name inf")
    assert env_sandbox.count("GET") == 1  # both magics share the one listing


def test_a_real_kernel_answers_a_complete_request(env_sandbox):
    """What JupyterLab sends on TAB, to a kernel of this venv (ipykernel 7 or 6)."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", env=dict(os.environ))
    try:
        client.execute_interactive("%load_ext modelarts_nb", timeout=30)
        got = {}
        for code in ("%pool_delete infer", "%pools --tag course="):
            client.complete(code, len(code))
            reply = client.get_shell_msg(timeout=30)["content"]
            got[code] = [code[: reply["cursor_start"]] + m + code[reply["cursor_end"]:]
                         for m in reply["matches"]]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert got["%pool_delete infer"][0] == "%pool_delete infer-cpu"
    assert got["%pools --tag course="] == ["%pools --tag course=ml101"]
    assert env_sandbox.count("DELETE") == 0


@pytest.mark.filterwarnings("ignore:`Completer.complete` is pending deprecation")
def test_the_old_complete_api_a_kernel_without_jedi_uses(shell, env_sandbox):
    text, matches = shell.complete("", "%pool_delete infer", len("%pool_delete infer"))
    line = "%pool_delete infer"
    assert [line[: len(line) - len(text)] + m for m in matches][:1] == [
        "%pool_delete infer-cpu"]


def test_a_completed_name_with_a_space_or_quote_is_read_back_as_that_pool(
        shell, env_sandbox, capsys):
    spaced = add_pool(env_sandbox, "night class")
    quoted = add_pool(env_sandbox, "o'brien")
    assert lines(shell, "%pool_delete 'nig") == ["%pool_delete 'night class'"]
    assert lines(shell, '%pool_delete "o') == ['%pool_delete "o\'brien"']
    for line, expected in (("%pool_delete 'night class'", spaced),
                           ('%pool_delete "o\'brien"', quoted)):
        result = shell.run_cell(line + " --no-widgets")
        out = capsys.readouterr().out
        assert result.success and expected in out  # the magic read the very pool offered
    assert env_sandbox.count("DELETE") == 0


def test_hostile_names_are_skipped_never_break_the_line(shell, env_sandbox):
    hostile = ["evil\nline", "x" * 2000, "$HOME", "{__import__('os')}", "tab\there",
               "both'\"quotes", "zero\u200bwidth", "para\u2029graph", "back\\slash"]
    ids = [add_pool(env_sandbox, name) for name in hostile]
    add_pool(env_sandbox, "训练池")
    got = ours(shell, "%pool_delete ")
    offered = [line[len("%pool_delete "):] for line in got]
    assert "训练池" in offered and set(ids) <= set(offered)  # the hostile pools by id
    for word in offered:
        assert word.strip("'\"") not in hostile and not any(h in word for h in hostile[2:4])
        assert len(word) <= 130 and "\n" not in word and "\\" not in word
        assert not any(unicodedata.category(ch)[0] == "C" for ch in word)


# -- options ------------------------------------------------------------------------------------


def test_option_names_come_from_the_parser(shell):
    assert lines(shell, "%pools --ta") == ["%pools --tag"]
    assert "%pools --keep-tag" in lines(shell, "%pools --ke")
    assert "%pools --all-workspaces" in lines(shell, "%pools --all")
    # an option given already is not offered again, unless it repeats
    assert ours(shell, "%pools --delete --del") == []
    assert lines(shell, "%pools --tag a=b --ta") == ["%pools --tag a=b --tag"]
    assert lines(shell, "%pool_delete train-gpu --y") == ["%pool_delete train-gpu --yes"]
    assert sorted(lines(shell, "%pools --status c")) == [
        "%pools --status created", "%pools --status creating"]


def test_an_option_the_parser_gains_completes_without_a_change():
    parser = argparse.ArgumentParser(prog="pools", add_help=False)
    parser.add_argument("--zebra-stripes", choices=["wide", "thin"])
    want = parse_line("%pools --zeb", lambda magic: parser)
    assert want is not None and want.options == ("--zebra-stripes",)
    want = parse_line("%pools --zebra-stripes w", lambda magic: parser)
    assert want is not None and want.kind == "choice" and want.options == ("wide", "thin")


def test_options_need_no_credentials_and_send_nothing(shell, monkeypatch, tmp_path):
    clear_cloud_env(monkeypatch, tmp_path)
    assert lines(shell, "%pools --older") == ["%pools --older-than"]


# -- tags ---------------------------------------------------------------------------------------


def test_tag_keys_then_values(shell, env_sandbox):
    add_pool(env_sandbox, "lab-a", tags={"course": "cv202", "team": "ops"})
    assert lines(shell, "%pools --tag co") == ["%pools --tag course="]
    assert sorted(lines(shell, "%pools --tag course=")) == [
        "%pools --tag course=cv202", "%pools --tag course=ml101"]
    assert lines(shell, "%pools --keep-tag=tea") == ["%pools --keep-tag=team="]
    assert lines(shell, "%pools --delete --keep-tag team=o") == [
        "%pools --delete --keep-tag team=ops"]


def test_tags_come_from_the_pools_when_there_is_no_tag_api(shell, env_sandbox):
    add_pool(env_sandbox, "lab-b", tags={"term": "2026-spring"})
    env_sandbox.inject(Fault(method="GET", status=404))  # the tag API is not there (yet)
    assert lines(shell, "%pools --tag term=") == ["%pools --tag term=2026-spring"]
    paths = [r.path.split("/")[-1] for r in env_sandbox.requests]
    assert paths == ["tags", "pools"]
    assert "%pool_delete lab-b" in lines(shell, "%pool_delete lab")  # that list is reused
    assert env_sandbox.count("GET") == 2


def test_hostile_tags_are_skipped_or_quoted(shell, env_sandbox):
    add_pool(env_sandbox, "lab-c", tags={"room": "lab 4", "evil": "a\nb", "long": "v" * 2000,
                                         "a=b": "c", "cost center": "x1", "dollar": "$HOME"})
    assert lines(shell, "%pools --tag 'room=") == ["%pools --tag 'room=lab 4'"]
    assert lines(shell, "%pools --tag 'cos") == ["%pools --tag 'cost center=x1'"]
    assert sorted(lines(shell, "%pools --tag co")) == [
        "%pools --tag 'cost center=x1'", "%pools --tag course="]
    if V2:  # IPython 8.6+ also replaces what precedes its token ("room=")
        assert lines(shell, "%pools --tag room=") == ["%pools --tag 'room=lab 4'"]
    else:  # IPython 7 replaces only its token (after "="): the quote must be typed first
        assert ours(shell, "%pools --tag room=") == []
    for key in ("long=", "a=", "dollar="):
        assert ours(shell, f"%pools --tag {key}") == []
    # a line break in a value is a space once it arrived (responses.read_json cleans it)
    assert lines(shell, "%pools --tag 'evil=") == ["%pools --tag 'evil=a b'"]


# -- cache, budget, failures --------------------------------------------------------------------


def test_a_second_tab_within_30_s_sends_no_request(shell, env_sandbox, fresh_completer):
    assert fresh_completer.ttl == 30.0
    for _ in range(3):
        assert lines(shell, "%pool_delete infer")[:1] == ["%pool_delete infer-cpu"]
    assert env_sandbox.count("GET") == 1
    fresh_completer.ttl = 0.2  # as if 30 s had passed
    time.sleep(0.3)
    lines(shell, "%pool_delete infer")
    assert env_sandbox.count("GET") == 2


def test_a_slow_server_never_holds_the_prompt_over_the_budget(shell, env_sandbox,
                                                            fresh_completer):
    env_sandbox.inject(Fault(method="GET", list_only=True, delay=3.0))
    started = time.monotonic()
    fragment, words = fresh_completer.suggest("%pool_delete infer")
    held = time.monotonic() - started
    assert words == [] and 0.9 <= held < 1.5, held
    assert ours(shell, "%pool_delete infer") == []  # still late: answered at once, empty
    until(lambda: env_sandbox.count("GET") == 1 and not our_threads(), timeout=10)
    assert lines(shell, "%pool_delete infer")[:1] == ["%pool_delete infer-cpu"]  # filled in
    assert env_sandbox.count("GET") == 1


def test_a_late_refresh_answers_from_the_expired_cache(shell, env_sandbox, fresh_completer):
    lines(shell, "%pool_delete infer")
    fresh_completer.ttl = 0.2
    time.sleep(0.3)
    env_sandbox.inject(Fault(method="GET", list_only=True, delay=3.0))
    started = time.monotonic()
    assert lines(shell, "%pool_delete infer")[:1] == ["%pool_delete infer-cpu"]
    assert time.monotonic() - started < 2.5  # the budget, plus IPython's own work


def test_no_credentials_no_request_and_nothing(shell, monkeypatch, tmp_path, env_sandbox,
                                               fresh_completer):
    for name in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "MODELARTS_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert os.environ["MODELARTS_ENDPOINT"] == env_sandbox.endpoint  # only the keys are gone
    for text in ("%pool_delete tr", "%pools --tag co", "%pools --name p"):
        assert ours(shell, text) == []
        assert fresh_completer.suggest(text) == ("", [])
    assert env_sandbox.count() == 0


@pytest.mark.parametrize("fault", [
    Fault(method="GET", status=401, times=5),
    Fault(method="GET", status=500, times=5),
    Fault(method="GET", malformed=True, times=5),
    Fault(method="GET", html=True, status=502, times=5),
    Fault(method="GET", status=200, body=b"<html>not json</html>", times=5),
    Fault(method="GET", status=200, body={"items": "not a list"}, times=5),
    Fault(method="GET", drop="before", times=5),
], ids=["401", "500", "truncated", "html-502", "html-200", "items-not-a-list", "dropped"])
def test_a_failing_server_gives_nothing_prints_nothing_and_is_not_asked_again(
        shell, env_sandbox, capfd, fault):
    env_sandbox.inject(fault)
    assert ours(shell, "%pool_delete tr") == []
    until(lambda: not our_threads(), timeout=10)
    assert env_sandbox.count() == 1  # no retry: a TAB is no reason to insist
    assert ours(shell, "%pool_delete tr") == []
    assert env_sandbox.count() == 1  # the failure is remembered: a 401 is not repeated
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_ctrl_c_while_waiting_returns_nothing_at_once(env_sandbox, fresh_completer):
    env_sandbox.inject(Fault(method="GET", list_only=True, delay=3.0))
    fresh_completer.budget = 5.0  # Ctrl-C, not the budget, must end the wait
    main = threading.main_thread().ident
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        assert fresh_completer.suggest("%pool_delete tr") == ("", [])
    finally:
        timer.join()
    assert time.monotonic() - started < 2.0


def test_the_lines_project_is_used_like_the_magic_uses_it(shell, env_sandbox, monkeypatch):
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "0" * 32)  # the sandbox refuses it (403)
    assert ours(shell, "%pool_delete inf") == []
    line = f"%pool_delete --project-id {env_sandbox.project_id} inf"
    assert lines(shell, line)[0] == line + "er-cpu"
    # an expansion only the cell can make: no guess, no request
    before = env_sandbox.count()
    assert ours(shell, "%pool_delete --project-id $project inf") == []
    assert env_sandbox.count() == before


def test_an_endpoint_on_the_line_gets_no_request_on_tab(shell, env_sandbox, monkeypatch,
                                                        sandboxes):
    """A pasted line naming another endpoint must not send the user's credentials there by a
    mere TAB (the cell, when run, does what the line says)."""
    elsewhere = sandboxes()
    assert ours(shell, f"%pool_delete --endpoint {elsewhere.endpoint} inf") == []
    assert ours(shell, f"%pools --endpoint={elsewhere.endpoint} --name inf") == []
    assert elsewhere.count() == 0 and env_sandbox.count() == 0
    same = f"%pool_delete --endpoint {env_sandbox.endpoint} inf"
    assert lines(shell, same)[0] == same + "er-cpu"  # the endpoint the settings name anyway


def test_no_secret_in_the_completer(shell, env_sandbox, fresh_completer):
    lines(shell, "%pool_delete tr")
    lines(shell, "%pools --tag co")
    state = repr(fresh_completer) + repr(vars(fresh_completer))
    for secret in (env_sandbox.ak, env_sandbox.sk, env_sandbox.token):
        assert secret not in state


def test_lines_that_are_not_ours_are_left_alone(shell, env_sandbox):
    for text in ("prin", 's = "%pools --tag co', "%pool", "# %pool_delete tr"):
        assert ours(shell, text) == []
    assert env_sandbox.count() == 0


def test_unload_removes_completion_and_load_brings_it_back(shell, env_sandbox):
    shell.run_line_magic("unload_ext", "modelarts_nb")
    try:
        assert ours(shell, "%pool_delete tr") == [] and env_sandbox.count() == 0
    finally:
        shell.run_line_magic("load_ext", "modelarts_nb")
    assert "%pool_delete train-gpu" in lines(shell, "%pool_delete tr")
    ipc = shell.Completer
    registered = [m for m in ipc.custom_matchers + getattr(ipc, "magic_arg_matchers", [])
                  if "modelarts_nb" in getattr(m, "__qualname__", "")]
    assert len(registered) == 1  # one, however often it was loaded
