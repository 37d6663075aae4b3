"""Hostile strings as sellers could write them, and a structural check that a page served none of them
as markup: no script element, no event-handler attribute, no link or source off this server."""

from __future__ import annotations

from lxml import html as lxml_html

SCRIPT = "<script>document.documentElement.dataset.pwned='script'</script>"
IMG = "\"><img src=x onerror=\"document.documentElement.dataset.pwned='img'\">"
JS_LINK = "javascript:document.documentElement.dataset.pwned='link'"
SVG = "<svg onload=\"document.documentElement.dataset.pwned='svg'\"></svg>"
RLO = "\u202egpj.exe"  # shows as "exe.jpg" if the override is honoured
LONG_WORD = "A" * 5000
PAYLOADS = (SCRIPT, IMG, JS_LINK, SVG)


def hostile(label: str) -> str:
    """One field's hostile value: every payload plus the label to find it by."""
    return f"{label} {RLO} {SCRIPT} {IMG} {SVG} {LONG_WORD}"


def assert_inert(page: str, own_scripts: tuple[str, ...] = ()) -> None:
    """The served HTML has no active content of its own making except ``own_scripts`` (static files)."""
    tree = lxml_html.fromstring(page)
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag == "script":
            assert element.get("src") in own_scripts and not (element.text or "").strip(), lxml_html.tostring(element)
        assert element.tag not in ("iframe", "object", "embed", "svg") or element.get("class") in ("archived", "chart"), element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            if name in ("href", "src", "action", "formaction", "data"):
                assert value.startswith(("/", "#", "?")) or value == "", (element.tag, name, value)
    assert "\u202e" not in page  # shown as the visible text \u202e instead
