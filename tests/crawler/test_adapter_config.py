"""Adapter config is refused when it loads, with the file and the field: bad CSS/XPath in ``fields`` and
``follow``, v2 and bad-checksum onions, trailing-dot onions on a clearnet site, non-UTF-8 files. A bad
file never hides the other adapters from ``sokhund sites``; an adapter can be given by path."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.adapters import AdapterError, load_adapter, load_adapter_file
from tor.onion import onion_from_pubkey

ONION = onion_from_pubkey(bytes(range(32)))
BAD_CHECKSUM = ONION[:50] + ("a" if ONION[50] != "a" else "b") + ONION[51:]


def _adapter(tmp: Path, name: str = "cfg", base: str = "http://127.0.0.1:1", network: str = "clearnet",
             fields: str = '{css: "h1::text"}', follow: str = '{css: "a::attr(href)"}', extra: str = "") -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(f"""name: {name}
kind: market
network: {network}
base_url: {base}
{extra}
pages:
  listing:
    url_pattern: "^/l/"
    item: listing
    fields:
      title: {fields}
    follow:
      - {follow}
""", encoding="utf-8")
    return path


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"fields": '{css: "h1[[::text"}'}, "pages.listing.fields.title.css", "bad CSS selector"),
    ({"fields": '{xpath: "//h1[@class="}'}, "pages.listing.fields.title.xpath", "bad XPath"),
    ({"follow": '{css: "a..next::attr(href)"}'}, "pages.listing.follow.0.css", "bad CSS selector"),
    ({"follow": '{xpath: "//a[@rel=next/@href"}'}, "pages.listing.follow.0.xpath", "bad XPath"),
])
def test_bad_selectors_are_refused_at_load(tmp_path: Path, kwargs: dict[str, str], field: str, message: str) -> None:
    path = _adapter(tmp_path, **kwargs)
    with pytest.raises(AdapterError) as err:
        load_adapter_file(path)
    text = str(err.value)
    assert str(path) in text and f"field '{field}'" in text and message in text, text


@pytest.mark.parametrize(("base", "message"), [
    ("http://silkroad7rn2puhj.onion", "v2 onion address"),
    (f"http://{BAD_CHECKSUM}", "bad checksum"),
])
def test_v2_and_bad_checksum_onions_are_refused_at_load(tmp_path: Path, base: str, message: str) -> None:
    path = _adapter(tmp_path, base=base, network="tor")
    with pytest.raises(AdapterError, match=message) as err:
        load_adapter_file(path)
    assert str(path) in str(err.value)
    mirror = _adapter(tmp_path, name="mirrored", base=f"http://{ONION}", network="tor", extra=f"mirrors: [{base}]")
    with pytest.raises(AdapterError, match=message):
        load_adapter_file(mirror)


def test_trailing_dot_onion_is_an_onion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _adapter(tmp_path, base=f"http://{ONION}./")
    with pytest.raises(AdapterError, match="onion address: network must be 'tor'"):
        load_adapter_file(path)
    tor = load_adapter_file(_adapter(tmp_path, name="dotted", base=f"http://{ONION}./", network="tor"))
    from crawler.scope import SiteScope

    scope = SiteScope.of(tor)
    assert scope.contains(f"http://{ONION}/x") and scope.contains(f"http://{ONION.upper()}./y")
    # a clearnet adapter whose URL is overridden with a trailing-dot onion is still routed through Tor
    from crawler.worker import site_settings

    clear = load_adapter_file(_adapter(tmp_path, name="clear"))
    monkeypatch.setenv("SOKHUND_SITE_CLEAR_URL", f"http://{ONION}./")
    settings = site_settings(clear, "r1", {})
    assert settings["DOWNLOAD_HANDLERS"]["http"] == "tor.scrapy_routing.TorDownloadHandler"


def test_non_utf8_adapter_is_refused_with_its_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: latin\nkind: market\nbase_url: http://127.0.0.1:1\n# S\xe4ljare\npages: {}\n"
                     .encode("latin-1"))
    with pytest.raises(AdapterError, match=r"latin.yaml: not UTF-8"):
        load_adapter_file(path)


def test_sites_lists_the_good_adapters_beside_a_bad_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import crawler.adapters
    from crawler.cli import cmd_sites

    good = _adapter(tmp_path, name="good")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: latin\nkind: market\nbase_url: http://127.0.0.1:1 # S\xe4ljare\npages: {}\n")
    selectors = _adapter(tmp_path, name="selectors", fields='{css: "h1[["}')
    paths = {"good": good, "latin": latin, "selectors": selectors}
    monkeypatch.setattr(crawler.adapters, "adapter_paths", lambda directory=None: paths)
    assert cmd_sites(None) == 1  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    assert out.startswith("good ") and str(latin) in err and str(selectors) in err


def test_adapter_given_by_path(tmp_path: Path, sokhund_home: Path) -> None:
    path = _adapter(tmp_path, name="bypath")
    assert load_adapter(str(path)).name == "bypath"
    from crawler.runner import unfinished_run

    assert unfinished_run(str(path)) is None  # the jobs folder is looked up by the adapter's name


def test_sites_marks_the_reference_adapters_that_are_never_crawled(capsys: pytest.CaptureFixture[str]) -> None:
    """dream and empire are real 2019 pages with placeholder onions: `sokhund sites` says so, instead of
    listing them like crawlable markets that `sokhund crawl dream` then refuses."""
    from crawler.cli import cmd_sites

    assert cmd_sites(None) == 0  # type: ignore[arg-type]
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "reference" in lines["dream"] and "never crawled" in lines["dream"] and "reference" in lines["empire"]
    assert "reference" not in lines["flugsvamp"]
