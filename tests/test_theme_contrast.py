"""The single-pool panel's colours resolved through JupyterLab's own theme files (4 in .venv,
3.6 in the compat environment): header, table headers, status line, FAILED/DELETED, warning and
refusal reach WCAG AA (4.5:1) in the light and the dark theme. Needs JupyterLab installed, so it
runs on the host, not in the 3.9 kernel root (which holds a kernel, not a Lab); the browser test
``tests/browser/test_browser_themes.py`` measures the same from computed styles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelarts_nb.render import PANEL_STYLE

# Material colours JupyterLab 3.6 defines in its JavaScript bundle, not in the theme CSS
# (JupyterLab 4 writes them as each variable's fallback); the palette is fixed.
_MATERIAL = {
    "--md-red-900": "#b71c1c", "--md-red-700": "#d32f2f", "--md-red-500": "#f44336",
    "--md-red-300": "#e57373", "--md-green-900": "#1b5e20", "--md-green-700": "#388e3c",
    "--md-green-500": "#4caf50", "--md-green-300": "#81c784", "--md-grey-900": "#212121",
    "--md-grey-800": "#424242", "--md-grey-700": "#616161", "--md-grey-200": "#eeeeee",
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
    if colour == "white":
        colour = "#fff"
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


def _rule(element: str, dark: bool) -> str:
    """The colour PANEL_STYLE gives ``element`` in JupyterLab's light or dark theme: the last
    rule naming it (the dark rules come later and are more specific)."""
    colour = None
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", PANEL_STYLE[7:-8]):
        found = re.search(r"(?:^|;)color:([^;]+)", body)
        if not found:
            continue
        for selector in (s.strip() for s in selectors.split(",")):
            if selector == element or (dark and selector == _DARK_LAB + element):
                colour = found.group(1)
    assert colour is not None, element
    return colour


@pytest.mark.parametrize("element", [".mnb-header", ".mnb-table th", ".mnb-status",
                                     ".mnb-s-failed", ".mnb-s-deleted", ".mnb-consequences",
                                     ".mnb-refused"])
@pytest.mark.parametrize("theme", ["theme-light-extension", "theme-dark-extension"])
def test_text_reaches_wcag_aa_in_jupyterlab_light_and_dark(element, theme):
    """The colour each element gets, resolved through JupyterLab's own theme variables,
    against both layout colours of the theme (the notebook and the cell) and the table header's
    own background: at least 4.5:1."""
    variables = _theme_vars(theme)
    dark = "dark" in theme
    fg = _rgb(_resolve(_rule(element, dark), variables))
    backgrounds = [_resolve("var(--jp-layout-color0)", variables),
                   _resolve("var(--jp-layout-color1)", variables)]
    if element == ".mnb-table th":
        backgrounds = [_resolve("var(--jp-layout-color2)", variables)]
    for background in backgrounds:
        ratio = _contrast(fg, _rgb(background))
        assert ratio >= 4.5, f"{element} in {theme}: {ratio:.2f}:1 on {background}"
