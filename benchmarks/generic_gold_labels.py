"""Write tests/data/generic_pages_gold.json: the expected fields of every real page in ../shared/data, for
benchmarks/generic_eval.py (the zero-config extractor must get them without any of these rules).

    SOKHUND_SHARED_DATA=/work/shared/data .venv/bin/python benchmarks/generic_gold_labels.py

The labels are read with one hand-written selector set per market (what an adapter would say), after
looking at each page, and checked against the independent scraper's expectations where they exist
(msc-darkweb-2019/assertions.json: Dream titles, seller, prices and origins; Empire prices, origins and
the titles and sellers of two search pages, which are taken from there directly). Dream listing_2's
upstream price is wrong (see that folder's README): the page's own price is the label. Fields a page
does not show are null, and a prediction must then be null too.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from parsel import Selector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("SOKHUND_SHARED_DATA") or ROOT.parent / "shared" / "data")
OUT = ROOT / "tests" / "data" / "generic_pages_gold.json"


def _t(sel: Any) -> str:
    return re.sub(r"\s+", " ", " ".join(sel.xpath(".//text()").getall() if sel is not None else [])).strip()


def _money(text: str) -> list[Any] | None:
    from extractors.normalise import find_prices

    found = find_prices(text.replace("฿", "BTC "))
    return [found[0].amount, found[0].currency] if found else None


def _sel(path: str) -> Selector:
    return Selector(text=Path(path).read_text(encoding="utf-8", errors="replace"))


def _after_label(s: Selector, label: str, tag: str = "*") -> str | None:
    node = s.xpath(f"//{tag}[normalize-space(text())='{label}']/following-sibling::*[1]")
    if not node:
        node = s.xpath(f"//{tag}[normalize-space(text())='{label}']/parent::*/following-sibling::*[1]")
    text = _t(node[0]) if node else ""
    return text or None


def hansa() -> list[dict[str, Any]]:
    out = []
    for f in sorted(glob.glob(str(SHARED / "hansa-html-2017" / "*_listing_?????_.htm"))):
        s = _sel(f)
        title = _t(s.css("h2")[0])
        price = _money(_t(s.xpath("//h2/following::strong[starts-with(normalize-space(.),'USD')][1]")[0]))
        vendor = _t(s.xpath("//td[normalize-space(.)='Vendor']/following-sibling::td//a[starts-with(@href,'/vendor/')]")[0])
        origin = _after_label(s, "Ships From", "td")
        out.append({"market": "hansa", "page": f, "page_type": "listing", "rows": [
            {"title": title, "price": price, "vendor": vendor, "ships_from": origin}]})
    for f in sorted(glob.glob(str(SHARED / "hansa-html-2017" / "*_vendor_*"))):
        out.append({"market": "hansa", "page": f, "page_type": "not_listing", "rows": []})
    return out


def dream(assertions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in sorted(glob.glob(str(SHARED / "msc-darkweb-2019" / "dream" / "html_files" / "listings" / "*.html"))):
        s = _sel(f)
        row = {"title": _t(s.css("div.title")[0]),
               "price": _money(_after_label(s, "Price", "label") or ""),
               "vendor": _t(s.css("a[href*='contactMember?member=']")[0]),
               "ships_from": _after_label(s, "Ships from", "label")}
        rel = str(Path(f).relative_to(SHARED / "msc-darkweb-2019"))
        for a in assertions:
            if a["fixture_path"] != rel:
                continue
            if a["field_expr"] == "title":
                assert row["title"] == a["expected"], (row, a)
            if a["field_expr"] == "seller_name":
                assert row["vendor"] == a["expected"], (row, a)
            if a["field_expr"] == "price_and_currency" and not rel.endswith("listing_2.html"):
                assert row["price"] == a["expected"], (row, a)
            if a["field_expr"] == "origin_country":
                assert row["ships_from"] == a["expected"], (row, a)
        out.append({"market": "dream", "page": f, "page_type": "listing", "rows": [row]})
    for sub in ("anti_ddos", "login_page", "item_not_found", "sellers"):
        for f in sorted(glob.glob(str(SHARED / "msc-darkweb-2019" / "dream" / "html_files" / sub / "*"))):
            out.append({"market": "dream", "page": f, "page_type": "not_listing", "rows": []})
    return out


def empire(assertions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    base = SHARED / "msc-darkweb-2019" / "empire" / "html_files"
    for f in sorted(glob.glob(str(base / "listings" / "*"))):
        s = _sel(f)
        sold = s.xpath("//p[contains(normalize-space(.),'Sold by')]")[0]
        title = _t(sold.xpath("preceding::h2[1]")[0])
        vendor = _t(sold.xpath(".//a[contains(@href,'/u/')]")[0])
        price = _money(_t(s.xpath("//b[normalize-space(.)='Purchase price:']/following-sibling::span[1]")[0]))
        origin = _t(s.xpath("//b[normalize-space(.)='Origin Country']/parent::*/following-sibling::td[1]")[0]) or None
        row = {"title": title, "price": price, "vendor": vendor, "ships_from": origin}
        rel = str(Path(f).relative_to(SHARED / "msc-darkweb-2019"))
        for a in assertions:
            if a["fixture_path"] == rel and a["field_expr"] == "price":
                assert price and price[0] == a["expected"], (row, a)
            if a["fixture_path"] == rel and a["field_expr"] == "origin_country":
                assert origin == a["expected"], (row, a)
        out.append({"market": "empire", "page": f, "page_type": "listing", "rows": [row]})
    for a in assertions:
        if a["market"] == "empire" and a["field_expr"].startswith("(product_page_urls"):
            urls, _, titles, sellers, _, _ = a["expected"]
            rows = [{"url": u, "title": t, "vendor": v, "unlabelled": ["price", "ships_from"]}
                    for u, t, v in zip(urls, titles, sellers, strict=True)]
            out.append({"market": "empire", "page": str(SHARED / "msc-darkweb-2019" / a["fixture_path"]),
                        "page_type": "category", "rows": rows})
    for sub in ("login_page", "meta_refresh", "users", "pgp", "feedback", "custom_server_errors"):
        for f in sorted(glob.glob(str(base / sub / "*"))):
            out.append({"market": "empire", "page": f, "page_type": "not_listing", "rows": []})
    return out


def wethenorth() -> list[dict[str, Any]]:
    out = []
    scout = SHARED / "dark-market-scout-2024"
    for f in [scout / "resources" / "we-the-north" / "00cd9778db84b447adf998998c795bc4.html",
              scout / "crawler" / "captcha" / "training-data" / "non_captcha" / "we-the-north1.html"]:
        s = _sel(str(f))
        sold = s.xpath("//p[contains(normalize-space(.),'Sold by')]")[0]
        row = {"title": _t(sold.xpath("preceding::h2[1]")[0]),
               "vendor": _t(sold.xpath(".//a[contains(@href,'login=')]")[0]),
               "price": _money(_t(s.xpath("//b[normalize-space(.)='Purchase price:']/following-sibling::span[1]")[0])),
               "ships_from": None}  # "Origin Country" is printed without a value on this page
        out.append({"market": "wethenorth", "page": str(f), "page_type": "listing", "rows": [row]})
    for f in sorted(glob.glob(str(scout / "crawler" / "captcha" / "training-data" / "captcha" / "*"))):
        name = Path(f).name.lower()
        market = next((m for m in ("kerberos", "nexus", "torzon") if m in name), "wethenorth")
        out.append({"market": market, "page": f, "page_type": "not_listing", "rows": []})
    return out


def nexus() -> list[dict[str, Any]]:
    out = []
    folder = SHARED / "dark-market-scout-2024" / "crawler" / "captcha" / "training-data" / "non_captcha"
    s = _sel(str(folder / "nexus1.html"))
    out.append({"market": "nexus", "page": str(folder / "nexus1.html"), "page_type": "listing", "rows": [{
        "title": _t(s.css("h1.title-font")[0]),
        "price": _money(_t(s.xpath("//dt[normalize-space(.)='Unit Price']/parent::*")[0]).replace("Unit Price", "")),
        "vendor": _t(s.xpath("//p[contains(.,'Last activity')]/preceding::h1[1]")[0]),
        "ships_from": None}]})
    for f in sorted(folder.glob("nexus[2-9].html")):
        s = _sel(str(f))
        rows = []
        seen = set()
        for a in s.xpath("//a[contains(@href,'/product/')][normalize-space(.)!='']"):
            href = a.attrib["href"]
            if href in seen:
                continue
            seen.add(href)
            card = a.xpath("ancestor::div[contains(@class,'border-2')][1]")[0]
            text = _t(card)
            src = re.search(r"Source (.+?) Ship to", text)
            price = re.search(r"([\d.,]+) (USD|EUR|GBP|CAD|BTC|XMR) /", text)
            rows.append({"url": href, "title": _t(a), "vendor": _t(card.xpath(".//a[contains(@href,'/@')]")[0]),
                         "price": [float(price.group(1).replace(",", "")), price.group(2)] if price else None,
                         "ships_from": src.group(1) if src else None})
        out.append({"market": "nexus", "page": str(f), "page_type": "category" if rows else "not_listing", "rows": rows})
    for f in sorted(folder.glob("*Some*")):
        out.append({"market": "nexus", "page": str(f), "page_type": "not_listing", "rows": []})
    return out


def digital_thrift_shop() -> list[dict[str, Any]]:
    out = []
    folder = SHARED / "dark-market-scout-2024" / "resources" / "digital-thrift-shop"
    urls: dict[str, str] = {}
    for entry in json.loads((folder / "digital-thrift-shop.json").read_text(encoding="utf-8")).values():
        urls.update(entry.get("children") or {})
    for f in sorted(folder.glob("*.html")):
        url = urls.get(f.stem, "")
        s = _sel(str(f))
        if "/product/" in url:
            price_el = s.css("div.summary p.price, div.summary .price")
            out.append({"market": "digital-thrift-shop", "page": str(f), "url": url, "page_type": "listing", "rows": [{
                "title": _t(s.css("h1.product_title")[0]),
                "price": _money(_t(price_el[0]).replace("$", "USD")) if price_el else None,
                "vendor": None, "ships_from": None}]})
        elif "/product-category/" in url or url.rstrip("/").endswith(("/new", "/best-selling")):
            rows = []
            for li in s.css("li.product"):
                link = li.css("a.woocommerce-LoopProduct-link")
                if not link:
                    continue
                price = li.css(".price")
                rows.append({"url": link[0].attrib["href"], "title": _t(li.css(".woocommerce-loop-product__title")[0]),
                             "price": _money(_t(price[0]).replace("$", "USD")) if price else None,
                             "vendor": None, "ships_from": None})
            out.append({"market": "digital-thrift-shop", "page": str(f), "url": url,
                        "page_type": "category" if rows else "not_listing", "rows": rows})
        else:
            out.append({"market": "digital-thrift-shop", "page": str(f), "url": url, "page_type": "not_listing", "rows": []})
    return out


def main() -> None:
    assertions = json.loads((SHARED / "msc-darkweb-2019" / "assertions.json").read_text(encoding="utf-8"))["rows"]
    pages = hansa() + dream(assertions) + empire(assertions) + wethenorth() + nexus() + digital_thrift_shop()
    for p in pages:
        p["page"] = str(Path(p["page"]).relative_to(SHARED))
        for r in p["rows"]:
            r.setdefault("price", None)
            r.setdefault("ships_from", None)
    OUT.write_text(json.dumps({"_comment": __doc__.split("\n\n")[2].replace("\n", " "), "pages": pages},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{OUT}: {len(pages)} pages, {sum(len(p['rows']) for p in pages)} rows")


if __name__ == "__main__":
    main()
