"""Both panels' text colours resolved through JupyterLab's own theme files (4 in .venv, 3.6 in the
compat environment): the single-pool panel's header, table headers, status line, FAILED/DELETED,
warning and refusal; the ``%pools`` panel's notes (why a row cannot be ticked: red; what deleting
a pool stops: orange), its muted text and its column headers, on a row at rest and under the
pointer; and the coloured buttons of both. Each reaches WCAG AA (4.5:1) in the light and the
dark theme. Needs JupyterLab installed, so it runs on the host, not in the 3.9 kernel root
(which holds a kernel, not a Lab); the browser test ``tests/browser/test_browser_panels_look.py``
measures every text of both panels from computed styles, this one only what the stylesheets
say, in a second."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelarts_nb.notebook.theme import PANEL_STYLE, POOLS_STYLE

# Material colours JupyterLab 3.6 defines in its JavaScript bundle, not in the theme CSS
# (JupyterLab 4 writes them as each variable's fallback); the palette is fixed.
_MATERIAL = {
    "--md-red-900": "#b71c1c", "--md-red-700": "#d32f2f", "--md-red-500": "#f44336",
    "--md-red-300": "#e57373", "--md-green-900": "#1b5e20", "--md-green-700": "#388e3c",
    "--md-green-500": "#4caf50", "--md-green-300": "#81c784", "--md-grey-900": "#212121",
    "--md-grey-800": "#424242", "--md-grey-700": "#616161", "--md-grey-200": "#eeeeee",
    "--md-orange-900": "#e65100", "--md-orange-700": "#f57c00", "--md-orange-500": "#ff9800",
    "--md-orange-300": "#ffb74d", "--md-cyan-900": "#006064", "--md-cyan-700": "#0097a7",
    "--md-cyan-500": "#00bcd4", "--md-cyan-300": "#4dd0e1",
}


def _theme_vars(theme: str) -> dict[str, str]:
    """The theme's variables, from the installed JupyterLab (4 in .venv, 3.6 in the compat)."""
    import jupyterlab

    css = (Path(jupyterlab.__file__).parent / "themes" / "@jupyterlab" / theme
           / "index.css").read_text(encoding="utf-8")
    return {**_MATERIAL, **dict(re.findall(r"(--[\w-]+):\s*([^;}]+)", css))}


def _resolve(value: str, variables: dict[str, str]) -> str:
    value = value.strip()
    found = re.fullmatch(r"var\((--[\w-]+)\s*(?:,\s*(.+))?\)", value)
    if not found:
        return value
    name, fallback = found.groups()
    if name in variables:
        return _resolve(variables[name], variables)
    assert fallback is not None, f"{name} is not defined and has no fallback"
    return _resolve(fallback, variables)


def _rgb(colour: str) -> tuple[float, float, float, float]:
    colour = colour.strip().lower()
    colour = {"white": "#fff", "black": "#000"}.get(colour, colour)
    if colour.startswith("#"):
        digits = colour[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0)
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _over(fg, bg):
    a = fg[3]
    return tuple(fg[i] * a + bg[i] * (1 - a) for i in range(3)) + (1.0,)


def _contrast(fg, bg) -> float:
    def lum(c):
        channels = [v / 255 for v in c[:3]]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    bg = _over(bg, (255, 255, 255, 1.0)) if bg[3] < 1 else bg
    fg = _over(fg, bg)
    high, low = sorted((lum(fg), lum(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


_DARK_LAB = 'body[data-jp-theme-light="false"] '


def _declared(sheet: str, element: str, prop: str, dark: bool) -> str | None:
    """What ``sheet`` gives ``element`` for ``prop`` in JupyterLab's light or dark theme: the
    last rule naming it (the dark rules come later and are more specific)."""
    value = None
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet[7:-8]):
        found = re.search(rf"(?:^|;){prop}:([^;]+)", body)
        if not found:
            continue
        for selector in (s.strip() for s in selectors.split(",")):
            if selector == element or (dark and selector == _DARK_LAB + element):
                value = found.group(1)
    return value


# (stylesheet, element, backgrounds): the backgrounds a text of the element sits on.
_PAGE = ("var(--jp-layout-color0)", "var(--jp-layout-color1)")
_HEAD = ("var(--jp-layout-color2)",)
_HOVERED = ("rgba(128,128,128,.12) over var(--jp-layout-color1)",)  # a row under the pointer
TEXTS = [
    (PANEL_STYLE, ".mnb-header", _PAGE),
    (PANEL_STYLE, ".mnb-panel table.mnb-table th", _HEAD),
    (PANEL_STYLE, ".mnb-status", _PAGE),
    (PANEL_STYLE, ".mnb-s-failed", _PAGE),
    (PANEL_STYLE, ".mnb-s-deleted", _PAGE),
    (PANEL_STYLE, ".mnb-consequences", _PAGE),
    (PANEL_STYLE, ".mnb-refused", _PAGE),
    (POOLS_STYLE, ".mnb-pools-panel", _PAGE),
    (POOLS_STYLE, ".mnb-pools-panel .mnb-why", _PAGE + _HOVERED),
    (POOLS_STYLE, ".mnb-pools-panel .mnb-work", _PAGE + _HOVERED),
    (POOLS_STYLE, ".mnb-pools-panel .mnb-muted", _PAGE),
]
# Buttons: their text on their own background (ipywidgets' stock one where ours keeps it).
_STOCK = {"info": "var(--jp-info-color1)", "warning": "var(--jp-warn-color1)",
          "danger": "var(--jp-error-color1)"}
BUTTONS = [(sheet, f"{scope} .jupyter-button.mod-{kind}", kind)
           for sheet, scope in ((PANEL_STYLE, ".mnb-panel"), (POOLS_STYLE, ".mnb-pools-panel"))
           for kind in ("info", "warning", "danger")]
THEMES = ["theme-light-extension", "theme-dark-extension"]


def _background(value: str, variables: dict[str, str]):
    top, _, under = value.partition(" over ")
    colour = _rgb(_resolve(top, variables))
    return _over(colour, _background(under, variables)) if under else colour


@pytest.mark.parametrize(("sheet", "element", "backgrounds"), TEXTS,
                         ids=[element for _, element, _ in TEXTS])
@pytest.mark.parametrize("theme", THEMES)
def test_text_reaches_wcag_aa_in_jupyterlab_light_and_dark(sheet, element, backgrounds, theme):
    """The colour each element gets, resolved through JupyterLab's own theme variables,
    against every background it is shown on: at least 4.5:1."""
    variables = _theme_vars(theme)
    declared = _declared(sheet, element, "color", "dark" in theme)
    assert declared is not None, f"no colour for {element}"
    fg = _rgb(_resolve(declared, variables))
    for background in backgrounds:
        ratio = _contrast(fg, _background(background, variables))
        assert ratio >= 4.5, f"{element} in {theme}: {ratio:.2f}:1 on {background}"


@pytest.mark.parametrize(("sheet", "button", "kind"), BUTTONS,
                         ids=[button for _, button, _ in BUTTONS])
@pytest.mark.parametrize("theme", THEMES)
def test_coloured_buttons_reach_wcag_aa_in_jupyterlab_light_and_dark(sheet, button, kind, theme):
    """Stop, Refresh, Back and Delete: their text on their background, at least 4.5:1 (the
    stock ipywidgets colours give 2.7:1 and 3.5:1 in the light theme)."""
    variables = _theme_vars(theme)
    dark = "dark" in theme
    text = _declared(sheet, button, "color", dark) or "var(--jp-ui-inverse-font-color1)"
    back = _declared(sheet, button, "background-color", dark) or _STOCK[kind]
    ratio = _contrast(_rgb(_resolve(text, variables)), _rgb(_resolve(back, variables)))
    assert ratio >= 4.5, f"{button} in {theme}: {ratio:.2f}:1 ({text} on {back})"
