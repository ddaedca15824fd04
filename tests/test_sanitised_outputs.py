"""One sanitiser at the edge: a server that echoes the caller's credentials and terminal escape
sequences in every field reaches no output with either.

The sandbox plays the hostile server (``Service.rewrite``): every answer carries, wherever a
pool field holds the marker ``ECHO``, the AK and security token the request was signed with and
a run of escapes (CSI colour, an OSC 8 hyperlink, CR, LF, a bidi override, a zero-width space,
C1 CSI, BEL, DEL, a line separator) — in display names, flavors, node pools, types, phases,
status messages, tags (the tag API's and the tag annotation's JSON-in-JSON), workload names, and
in a pool id of the list; error answers carry them in their code, message, request id and
``X-Request-Id`` / ``Content-Type`` headers. Every output path is then read whole: the lines
both magics print, the DataFrames they return, both panels' widget state as a notebook saves it
and their static copies, the receipts file, ``%pools --history``, and the errors under every
``%xmode``. None may hold a credential, any 8-character run of one, or a character a terminal
or a notebook acts on.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets
import string
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from conftest import clear_cloud_env, make_client, put_in_env, until

from modelarts_nb import ApiError, PoolsClient
from modelarts_nb.deletion import receipts
from modelarts_nb.gateway import signer
from modelarts_nb.sandbox import Fault

MARK = "ECHO"
TAGS = "os.modelarts/tms.tags"
ODD_ID = "pool-77-" + "a7" * 16  # listed under a hostile id: the client must refuse to use it
STAND_IN = Path(__file__).parent / "fixtures" / "notebook_session"
_WINDOW = 8
_ALLOWED = {"\n", "\t"}  # our own multi-line outputs; a server's line break never survives


def payload(ak: str, token: str) -> str:
    """What a hostile server puts where a pool field held ``ECHO``: the request's credentials
    first (so no view's cap hides them), then escapes a terminal or a notebook would act on."""
    return (f"{ak} {token} \x1b[31mRED\x1b[0m \x1b]8;;http://x\x07LINK\x1b]8;;\x07 \rCR\nLF "
            f"\u202eRLO \u2066ISO\u2069 ZW\u200bSP \x9b2J \x07BEL\x7f \u2028LS")


class Echo:
    """``Service.rewrite``: the credentials of each request echoed into its answer; every AK
    and security token seen is kept, so renewed ones are checked too."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, body: dict, headers: dict) -> dict:
        parsed = signer.parse_authorization(headers.get("authorization", ""))
        ak, token = (parsed[0] if parsed else ""), headers.get("x-security-token", "")
        self.seen |= {ak, token} - {""}
        text = payload(ak, token)
        for item in body.get("items", []) if isinstance(body.get("items"), list) else []:
            meta = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(meta, dict) and meta.get("name") == ODD_ID:
                meta["name"] = f"pool-77-{text}"
        if "error_msg" in body:
            body["error_msg"] = f"{body['error_msg']} {text}"
            body["request_id"] = text
        return _echoed(body, text)


def _echoed(value, text: str):
    """``value`` with ``ECHO`` replaced by ``text`` in every string, keys too; inside a string
    that is JSON itself (the tag annotation) as JSON escapes, which only decode later."""
    if isinstance(value, dict):
        return {_echoed(k, text): _echoed(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_echoed(v, text) for v in value]
    if isinstance(value, str) and MARK in value:
        inner = value.startswith(("[", "{"))
        return value.replace(MARK, json.dumps(text)[1:-1] if inner else text)
    return value


def plant(sb) -> dict[str, str]:
    """Put ``ECHO`` in every field of the class pools; add one more, listed under a hostile id
    and in a hostile phase, and a workload with a hostile name; display name → id."""
    ids = {}
    for name, (pool_id, *_) in sorted(sb.display_names().items()):
        if name.startswith("pool-0"):
            body, tags = _hostile(sb.pool_json(pool_id), name), sb.pool_tags(pool_id)
            annotated = TAGS in body["metadata"]["annotations"]
            ids[name] = sb.add_pool(body, annotate=annotated)
            if not annotated:  # its tags come from the tag API alone
                sb.tag_pool(pool_id, {**tags, "note": MARK, MARK: "x"}, annotate=False)
    odd = _hostile(sb.pool_json(ids["pool-06"]), "pool-77")
    odd["metadata"]["name"] = ODD_ID
    odd["status"]["phase"] = MARK
    sb.add_pool(odd)
    sb.add_workload(ids["pool-03"], job=MARK)
    return ids


def _hostile(body: dict, name: str) -> dict:
    body = copy.deepcopy(body)
    meta, spec, status = body["metadata"], body["spec"], body["status"]
    meta["labels"]["os.modelarts/name"] = f"{name} {MARK}"
    if TAGS in meta["annotations"]:
        tags = json.loads(meta["annotations"][TAGS])
        meta["annotations"][TAGS] = json.dumps(
            [*tags, {"key": "note", "value": MARK}, {"key": MARK, "value": "x"}])
    spec["type"] = MARK
    status["message"] = MARK
    for line in [*spec["resources"], *status["resources"]["available"]]:
        line["flavor"], line["nodePool"] = MARK, MARK
    return body


@pytest.fixture
def hostile(monkeypatch, tmp_path, sandboxes):
    """A sandbox in the environment (temporary AK/SK: a security token is sent) that echoes."""
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(60))
    sb = put_in_env(monkeypatch, tmp_path, sandboxes(
        pools=6, delete_seconds=0.4, unique_keys=True, security_token=token))
    echo = Echo()
    sb.service.rewrite = echo
    sb.ids = plant(sb)
    sb.echo = echo
    return sb


# -- what is checked ---------------------------------------------------------------------------


def strings(value) -> Iterator[str]:
    """Every string in a nested structure (keys too)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, (list, tuple)):
            stack += list(item)


def problems(texts: dict[str, str], credentials: Iterable[str]) -> list[str]:
    """What must not be there: any 8-character run of a credential, any character a terminal
    or a notebook would act on (controls, bidi and zero-width format characters, separators)."""
    windows = {s[i:i + _WINDOW] for s in credentials for i in range(len(s) - _WINDOW + 1)}
    found = []
    for where, text in texts.items():
        for i in range(len(text) - _WINDOW + 1):
            if text[i:i + _WINDOW] in windows:
                found.append(f"{where}: credential …{text[max(0, i - 30):i + 40]!r}")
                break
        odd = {c for c in text if c not in _ALLOWED
               and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")}
        if odd:
            at = min(text.index(c) for c in odd)
            found.append(f"{where}: {sorted(odd)} …{text[max(0, at - 30):at + 30]!r}")
    return found


def assert_clean(texts: dict[str, str], sb) -> None:
    credentials = {sb.ak, sb.sk, sb.security_token, *sb.echo.seen} - {None}
    found = problems(texts, credentials)
    assert not found, "\n".join(found)


def run(shell, capsys, line: str):
    result = shell.run_cell(line)
    out = capsys.readouterr()
    return result, out.out + out.err


def frame_texts(frame) -> str:
    """A DataFrame as a notebook shows it and as code reads it: repr, HTML, every cell."""
    cells = [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy().ravel()]
    return "\n".join([frame.to_string(), frame.to_html(), *cells])


def widget_texts(panel) -> str:
    """Every string of the panel's widget state as a notebook saves it, and of its static
    copy (what shows without a kernel)."""
    from ipywidgets.embed import dependency_state, embed_data

    # the panel's own models (as a notebook saves it): not those other tests left open
    state = embed_data(views=[panel], state=dependency_state([panel]))["manager_state"]
    return "\n".join([*strings(state), *strings(panel.mimebundle())])


def receipts_texts() -> str:
    """Every string of the receipts file, decoded (JSON escapes would hide an ESC), and the
    raw text."""
    raw = receipts.location().read_text(encoding="utf-8")
    decoded = [s for line in raw.splitlines() if line.strip() for s in strings(json.loads(line))]
    return "\n".join([raw, *decoded])


def echoed(text: str) -> bool:
    """The echo arrived (the test is not vacuous): its words are there, its credentials not."""
    return "RED" in text and "***" in text


@pytest.fixture(autouse=True)
def _plain_colours(shell):
    """IPython's own colours are ANSI escapes too: off, so any escape seen came from the server."""
    before = shell.colors
    shell.run_line_magic("colors", "nocolor")
    yield
    shell.run_line_magic("colors", before)


# -- %pools --------------------------------------------------------------------------------------


def test_pools_table_lines_and_dataframes_show_no_echoed_credential_or_escape(
        hostile, shell, capsys):
    """``%pools --no-widgets``, its dry run, its unattended run and ``--history``: every column
    (id, display name, phase, type, flavors, tags, decision), every printed line, the
    DataFrames and the receipts."""
    sb, texts = hostile, {}
    result, texts["table"] = run(shell, capsys, "t = %pools --no-widgets\nt")
    assert result.success, texts["table"]
    frame = shell.user_ns["t"]
    texts["table frame"] = frame_texts(frame)
    for column in ("id", "display name", "phase", "type", "flavors", "note"):
        assert any("RED" in str(cell) for cell in frame[column]), column  # echoed there
    result, texts["refused"] = run(shell, capsys, "%pools --tag course=ml101 --delete")
    assert not result.success and "invalid pool id" in texts["refused"]  # refused, by name
    ours = "--tag course=ml101 --name 'pool-0*' --delete"  # without the hostile id
    _, texts["dry run"] = run(shell, capsys, f"%pools {ours}")
    result, texts["unattended"] = run(
        shell, capsys, f"%pools {ours} --yes --force --interval 0.1")
    assert result.success, texts["unattended"]
    assert sb.count(method="DELETE") == 6, texts["unattended"]
    result, texts["history"] = run(shell, capsys, "h = %pools --history")
    texts["history frame"] = frame_texts(shell.user_ns["h"])
    texts["receipts"] = receipts_texts()
    assert_clean(texts, sb)
    assert echoed(texts["table"]) and echoed(texts["unattended"]) and echoed(texts["receipts"])


def test_pools_panel_and_its_saved_state_show_no_echoed_credential_or_escape(
        hostile, shell, capsys):
    """The ``%pools`` panel: its rows, search, confirmation, the batch's statuses — in the
    widget state a notebook saves and in its static copy."""
    sb, texts = hostile, {}
    result, texts["cell"] = run(shell, capsys, "p = %pools --tag course=ml101 --interval 0.1")
    panel = shell.user_ns["p"]
    try:
        panel.build_rows()
        texts["listed"] = widget_texts(panel)
        for name in ("pool-01", "pool-02"):
            panel.checks[sb.ids[name]].value = True
        panel.typed.value = "delete 2 pools"
        texts["confirming"] = widget_texts(panel)
        panel.delete_button.click()
        until(lambda: panel.run is not None, what="the checks, then the run")
        panel.run.join(10)
        until(lambda: panel.back_button in panel.children, what="the end shown")
        texts["deleted"] = widget_texts(panel)
    finally:
        panel.close()
    assert sb.count(method="DELETE") == 2
    texts["receipts"] = receipts_texts()
    assert_clean(texts, sb)
    assert echoed(texts["listed"]) and echoed(texts["deleted"])


# -- %pool_delete --------------------------------------------------------------------------------


def test_pool_delete_text_yes_and_panels_show_no_echoed_credential_or_escape(
        hostile, shell, capsys):
    """``%pool_delete`` in text (what it carries, the line to confirm), with ``--yes`` (each
    step, the outcome), and as a panel, read-only and with ``--yes`` (widget state, static
    copy); the receipts of both deletions."""
    sb, texts, panels = hostile, {}, []
    try:
        _, texts["text"] = run(shell, capsys, f"%pool_delete {sb.ids['pool-03']} --no-widgets")
        result, texts["yes text"] = run(
            shell, capsys, f"%pool_delete {sb.ids['pool-01']} --yes --no-widgets --interval 0.1")
        assert result.success, texts["yes text"]
        _, texts["panel cell"] = run(shell, capsys, f"p = %pool_delete {sb.ids['pool-03']}")
        panels.append(shell.user_ns["p"])
        assert panels[-1].flow.impact_checked.wait(10)
        texts["panel"] = widget_texts(panels[-1])
        result, texts["yes panel cell"] = run(
            shell, capsys, f"q = %pool_delete {sb.ids['pool-02']} --yes --interval 0.1")
        assert result.success, texts["yes panel cell"]
        panels.append(shell.user_ns["q"])
        texts["yes panel"] = widget_texts(panels[-1])
    finally:
        for panel in panels:
            panel.close()
    texts["receipts"] = receipts_texts()
    assert sb.count(method="DELETE") == 2
    assert_clean(texts, sb)
    assert echoed(texts["text"])
    assert echoed(texts["yes text"]) and echoed(texts["panel"]) and echoed(texts["yes panel"])


# -- errors --------------------------------------------------------------------------------------


def hostile_errors(sb) -> None:
    """Error answers whose every field — and the headers errors quote — hold the credentials
    and escapes: a GET refused, a DELETE refused, a list that is not JSON."""
    text = payload(sb.ak, sb.security_token)
    body = {"error_code": f"Model{text}", "error_msg": text, "request_id": text}
    request_id = {"X-Request-Id": f"{sb.ak}\u00c2\u009b2J"}  # UTF-8 of U+009B, C1 CSI
    sb.inject(Fault(method="GET", pool=sb.ids["pool-04"], status=403, body=body,
                    headers=request_id, times=99))
    sb.inject(Fault(method="DELETE", pool=sb.ids["pool-05"], status=400, body=body,
                    headers=request_id, times=99))
    sb.inject(Fault(method="GET", list_only=True, status=400, html=True, times=99,
                    headers={**request_id, "Content-Type": f"x/{sb.ak}"}))


@pytest.mark.parametrize("xmode", ["Plain", "Context", "Verbose", "Minimal"])
def test_errors_show_no_echoed_credential_or_escape_under_any_xmode(
        hostile, shell, capsys, xmode):
    """Both magics, text and panel, failing on those answers (and with --debug's traceback):
    one clean line whatever ``%xmode`` says."""
    sb, texts = hostile, {}
    hostile_errors(sb)
    lines = {
        "refused read": f"%pool_delete {sb.ids['pool-04']} --no-widgets",
        "refused read, debug": f"%pool_delete {sb.ids['pool-04']} --no-widgets --debug",
        "refused read, panel": f"%pool_delete {sb.ids['pool-04']}",
        "refused delete": f"%pool_delete {sb.ids['pool-05']} --yes --no-widgets",
        "refused delete, panel": f"%pool_delete {sb.ids['pool-05']} --yes",
        "list not JSON": "%pools --no-widgets",
        "list not JSON, panel": "%pools",
    }
    run(shell, capsys, f"%xmode {xmode}")
    try:
        for what, line in lines.items():
            result, texts[what] = run(shell, capsys, line)
            assert not result.success, f"{what}: {texts[what]}"
    finally:
        run(shell, capsys, "%xmode Context")
    assert_clean(texts, sb)
    assert "***" in texts["refused read"] and "***" in texts["list not JSON"]


# -- renewed credentials -------------------------------------------------------------------------


@pytest.fixture
def renewing(monkeypatch, tmp_path, sandboxes):
    """Only a notebook session's temporary credentials, renewed every second, and a server that
    echoes whichever the request carried."""
    clear_cloud_env(monkeypatch, tmp_path)
    monkeypatch.syspath_prepend(str(STAND_IN))
    for name in ("modelarts", "modelarts.session"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    sb = sandboxes(pools=6, delete_seconds=2.0)
    monkeypatch.setenv("MODELARTS_ENDPOINT", sb.endpoint)
    sb.issue_session_credentials(lifetime=1.0)
    sb.echo = Echo()
    sb.service.rewrite = sb.echo
    sb.ids = plant(sb)
    return sb


def test_a_security_token_renewed_mid_watch_and_echoed_is_masked_in_yes_output(
        renewing, shell, capsys):
    """The watch renews the session's keys as they expire; the server echoes the new ones.
    ``--yes`` in text, as a panel, and ``%pools --delete --yes`` mask them all."""
    sb, texts, panels = renewing, {}, []
    try:
        result, texts["yes text"] = run(
            shell, capsys, f"%pool_delete {sb.ids['pool-01']} --yes --no-widgets --interval 0.2")
        assert result.success, texts["yes text"]
        result, texts["yes panel cell"] = run(
            shell, capsys, f"q = %pool_delete {sb.ids['pool-02']} --yes --interval 0.2")
        panels.append(shell.user_ns["q"])
        texts["yes panel"] = widget_texts(panels[-1])
        result, texts["pools yes"] = run(shell, capsys, "%pools --tag student=s03 --name "
                                         "'pool-0*' --delete --yes --interval 0.2")
        assert result.success, texts["pools yes"]
    finally:
        for panel in panels:
            panel.close()
    texts["receipts"] = receipts_texts()
    tokens = {t for t in sb.echo.seen if t.startswith("gQpj")}
    assert len(tokens) >= 3, "the keys were not renewed during the watches"
    assert [r.status for r in sb.requests].count(401) >= 2
    assert_clean(texts, sb)
    assert echoed(texts["yes text"]) and echoed(texts["pools yes"])


# -- the receipts' own path ----------------------------------------------------------------------


def test_a_credential_in_the_receipts_path_is_masked_in_the_warning_and_history(
        hostile, shell, capsys, monkeypatch, tmp_path):
    """A person may name the receipts file after a key (or keep it where one is in the path):
    the warning that it cannot be written and ``%pools --history`` never print it."""
    sb, texts = hostile, {}
    blocker = tmp_path / f"keys-{sb.ak}-{sb.security_token}"
    blocker.write_text("")  # a file: the receipts path below it cannot be written
    monkeypatch.setenv(receipts.ENV, str(blocker / "receipts.jsonl"))
    result, texts["yes"] = run(
        shell, capsys, f"%pool_delete {sb.ids['pool-01']} --yes --no-widgets --interval 0.1")
    assert result.success and "could not write a deletion receipt" in texts["yes"]
    _, texts["history"] = run(shell, capsys, "%pools --history")
    monkeypatch.setenv(receipts.ENV, str(tmp_path / f"{sb.ak}.jsonl"))
    _, texts["history, none yet"] = run(shell, capsys, "%pools --history --pool x")
    assert_clean(texts, sb)
    assert all("keys-***" in text or "/***.jsonl" in text for text in texts.values()), texts


# -- the edge itself -----------------------------------------------------------------------------


def read_back(value) -> str:
    """Every string a model holds (a dataclass's fields, the raw body it keeps), one per line."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return "\n".join(strings(value))


def test_what_a_client_reads_is_clean_before_any_view_sees_it(hostile):
    """The design, not one output: pools (the tag annotation's JSON inside included), tags,
    work, and the fields of errors — body and headers — leave the client already clean."""
    sb, texts = hostile, {}
    with make_client(sb) as client:
        texts["list"] = "\n".join(read_back(pool) for pool in client.list_pools())
        texts["pool"] = read_back(client.get_pool(sb.ids["pool-03"]))
        texts["tags"] = read_back(client.pool_tags(sb.ids["pool-02"]))
        texts["all tags"] = read_back(client.list_pool_tags())
        texts["work"] = read_back(client.list_workloads(sb.ids["pool-03"]))
        hostile_errors(sb)
        for what, call in (("read refused", lambda: client.get_pool(sb.ids["pool-04"])),
                           ("list not JSON", client.list_pools)):
            with pytest.raises(ApiError) as info:
                call()
            texts[what] = read_back([info.value.error_code, info.value.error_msg,
                                     info.value.request_id, *info.value.args])
    assert_clean(texts, sb)
    assert all(echoed(text) for what, text in texts.items() if what != "list not JSON")


def test_a_renewed_token_echoed_is_masked_in_what_the_client_reads(renewing):
    """Keys renewed after a 401 are masked in the very answer that echoes them."""
    sb = renewing
    with PoolsClient.from_env() as client:
        before = client.get_pool(sb.ids["pool-01"])
        sb.expire(sb.session_credentials())
        after = client.get_pool(sb.ids["pool-01"])  # renewed, then echoed
    assert len({t for t in sb.echo.seen if t.startswith("gQpj")}) == 2
    assert_clean({"before": read_back(before), "after": read_back(after)}, sb)
    assert echoed(read_back(after))


# -- the sanitiser -------------------------------------------------------------------------------


def test_clean_removes_escapes_whole_controls_and_every_known_credential():
    from modelarts_nb.gateway.text import clean, remember_secrets

    key = "CLEANTESTKEY" + secrets.token_hex(12)
    remember_secrets(key)
    text = clean(f"a{key[:10]}\x1b[1;31mb\x1b]8;;http://x\x07c\x1b]0;title\x1b\\d\x9b2Je\r\n"
                 f"f\u202eg\u200bh\x00i\x7fj\u2028k\ud800l {key} m")
    assert text == "a***bcde  fgh i j k\ufffdl *** m"
    assert clean(text) == text  # once is enough
    assert clean("plain text, 2 × 3 = 6 €") == "plain text, 2 × 3 = 6 €"
    cut = clean("x" * 5000, 100)
    assert len(cut) == 100 and cut.endswith("…")
    assert clean("\x1b]" + "x" * 100_000, 50) == "x" * 49 + "…"  # unterminated: ESC ] goes


def test_clean_json_cleans_keys_values_and_json_inside_strings_at_any_depth():
    from modelarts_nb.gateway.text import clean_json

    deep: list = []
    inner = deep
    for _ in range(50_000):  # deeper than any recursion limit
        inner.append([])
        inner = inner[0]
    inner.append("\x1b[31mbottom")
    cleaned = clean_json({"k\n": deep, "tags": json.dumps([{"key": "\x1b[2J", "value": "v"}]),
                          "n": 1.5, "kept": "[1,2]"})
    assert cleaned["tags"] == '[{"key": "", "value": "v"}]' and cleaned["kept"] == "[1,2]"
    assert "k " in cleaned and cleaned["n"] == 1.5
    inner = cleaned["k "]
    while inner and isinstance(inner[0], list):
        inner = inner[0]
    assert inner == ["bottom"]
