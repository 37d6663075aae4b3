"""NordBazaar: international English market. USD + XMR, table listings, definition lists, offset paging.

URLs: ``/``, ``/market?cat=<nb_id>&offset=N``, ``/vendors?offset=N``, ``/item?id=<hex>``, ``/u/<slug>``,
``/u/<slug>/reviews?page=N``, ``/auth`` (GET form, POST captcha), ``/auth/captcha.svg``.
"""

from __future__ import annotations

import re

from testbed import catalog, rates
from testbed.entities import SITE_NB, Listing, Vendor
from testbed.web import Response, esc, html_response, not_found, pages, query_int, query_str
from testbed.world import World

PER_PAGE = 30
REVIEWS_PER_PAGE = 25
SITE = SITE_NB


def frame(world: World, title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>NordBazaar | {esc(title)}</title></head><body class=\"nb\">\n"
        "<div id=\"bar\"><b>NordBazaar</b> &middot; <a href=\"/\">Home</a> &middot; <a href=\"/vendors\">Vendors</a>"
        f" <span id=\"clock\" title=\"market time\">{world.today} UTC</span></div>\n"
        f"<div id=\"content\">\n{body}\n</div>\n"
        f"<div id=\"foot\"><small>NordBazaar &copy; 2026 &middot; market date {world.today}</small></div>\n"
        "</body></html>\n"
    )


def country(code: str) -> str:
    return catalog.text("en")["countries"].get(code, code)


def usd(amount: float) -> str:
    return f"USD {amount:,.2f}"


def xmr(world: World, amount_usd: float) -> str:
    return f"{rates.convert(amount_usd, 'USD', 'XMR', world.today):.4f} XMR"


def offset_pager(base: str, offset: int, total: int, per_page: int) -> str:
    sep = "&" if "?" in base else "?"
    shown = f"Showing {offset + 1}&ndash;{min(total, offset + per_page)} of {total}" if total else "Nothing here"
    parts = [f"<span class=\"count\">{shown}</span>"]
    if offset > 0:
        parts.append(f"<a rel=\"prev\" href=\"{base}{sep}offset={max(0, offset - per_page)}\">&larr; previous</a>")
    if offset + per_page < total:
        parts.append(f"<a rel=\"next\" href=\"{base}{sep}offset={offset + per_page}\">next &rarr;</a>")
    return "<div class=\"pager\">" + " | ".join(parts) + "</div>"


def offer_row(world: World, lst: Listing) -> str:
    vendor = world.vendors[(SITE, lst.vendor_id)]
    return (
        f"<tr class=\"offer\" data-offer=\"{lst.listing_id}\"><td class=\"t\"><a href=\"/item?id={lst.listing_id}\">"
        f"{esc(lst.title)}</a></td><td class=\"v\"><a href=\"/u/{vendor.vendor_id}\">{esc(vendor.name)}</a></td>"
        f"<td class=\"from\">{lst.ships_from}</td><td class=\"usd\">{usd(lst.price)}</td>"
        f"<td class=\"xmr\">{xmr(world, lst.price)}</td><td class=\"sold\">sold {lst.sold}</td></tr>"
    )


def offers_table(world: World, items: list[Listing]) -> str:
    return (
        "<table class=\"listings\"><thead><tr><th>Offer</th><th>Vendor</th><th>From</th><th>Price</th>"
        f"<th>XMR</th><th>Sales</th></tr></thead><tbody>{''.join(offer_row(world, x) for x in items)}</tbody></table>"
    )


def cat_key(nb_id: int) -> str | None:
    for key, cls in catalog.classes().items():
        if cls["nb_id"] == nb_id:
            return key
    return None


def home(world: World) -> str:
    rows = "".join(
        f"<li><a href=\"/market?cat={cls['nb_id']}\">{esc(cls['en'])}</a> "
        f"<small>({len(world.active_listings(SITE, key))})</small></li>"
        for key, cls in catalog.classes().items()
    )
    body = (f"<h2>Browse</h2><ul id=\"cats\">{rows}</ul>"
            "<p>All prices in USD; pay in Monero (XMR). Escrow on every order.</p>")
    return frame(world, "Home", body)


def market(world: World, cat: int, offset: int) -> Response:
    key = cat_key(cat)
    if key is None:
        return not_found("Unknown category")
    items = world.active_listings(SITE, key)
    if offset and offset >= len(items):
        return not_found("Offset out of range")
    name = catalog.classes()[key]["en"]
    body = (f"<h2 class=\"cat-title\">{esc(name)}</h2>" + offers_table(world, items[offset : offset + PER_PAGE])
            + offset_pager(f"/market?cat={cat}", offset, len(items), PER_PAGE))
    return html_response(frame(world, name, body))


def vendors(world: World, offset: int) -> Response:
    active = world.active_vendors(SITE)
    rows = "".join(
        f"<tr><td class=\"vn\"><a href=\"/u/{v.vendor_id}\">{esc(v.name)}</a></td><td>{esc(country(v.ships_from))}</td></tr>"
        for v in active[offset : offset + 50]
    )
    body = (f"<h2>Vendors</h2><table class=\"vendors\"><tbody>{rows}</tbody></table>"
            + offset_pager("/vendors", offset, len(active), 50))
    return html_response(frame(world, "Vendors", body))


def item(world: World, listing_id: str) -> Response:
    lst = world.listings.get((SITE, listing_id))
    if lst is None or not lst.active(world.day):
        return not_found("This offer no longer exists")
    vendor = world.vendors[(SITE, lst.vendor_id)]
    cls = catalog.classes()[lst.sclass]
    fbs = world.listing_feedback(SITE, listing_id)
    score = f"{sum(f.rating for f in fbs) / len(fbs):.2f}" if fbs else "n/a"
    dests = "".join(f"<span class=\"dest\">{esc(d)}</span>" for d in lst.ships_to)
    options = "".join(f"<option>{esc(label)} (+${price:.2f})</option>" for label, price in lst.shipping)
    body = (
        f"<article class=\"offer\" id=\"offer-{lst.listing_id}\"><header><h2 class=\"offer-title\">{esc(lst.title)}</h2>"
        f"<p class=\"byline\">by <a class=\"vendor\" href=\"/u/{vendor.vendor_id}\">{esc(vendor.name)}</a> in "
        f"<a class=\"cat\" href=\"/market?cat={cls['nb_id']}\">{esc(cls['en'])}</a></p></header>"
        "<dl class=\"offer-meta\">"
        f"<dt>Offer #</dt><dd class=\"oid\">{lst.listing_id}</dd>"
        f"<dt>Price</dt><dd class=\"price\">{usd(lst.price)}</dd>"
        f"<dt>Price in XMR</dt><dd class=\"price-xmr\">{xmr(world, lst.price)}</dd>"
        f"<dt>Amount</dt><dd class=\"amount\">{esc(lst.qty_text)}</dd>"
        f"<dt>In stock</dt><dd class=\"stock\">{lst.stock}</dd>"
        f"<dt>Sold</dt><dd class=\"sold\">sold {lst.sold} since {world.date_of(lst.first_day)}</dd>"
        f"<dt>Ships from</dt><dd class=\"origin\">{esc(country(lst.ships_from))}</dd>"
        f"<dt>Ships to</dt><dd class=\"destinations\">{dests}</dd>"
        f"<dt>Reviews</dt><dd class=\"reviews\"><a href=\"/u/{vendor.vendor_id}/reviews\"><span class=\"n\">{len(fbs)}"
        f"</span> reviews</a> &middot; score <span class=\"score\">{score}</span></dd>"
        "</dl>"
        f"<section class=\"shipping\"><h3>Shipping options</h3><select name=\"ship\">{options}</select></section>"
        f"<section class=\"details\"><h3>Details</h3><div class=\"offer-body\">{esc(lst.description)}</div></section>"
        "</article>"
    )
    return html_response(frame(world, lst.title, body))


def level(sales: int) -> str:
    levels = catalog.text("en")["levels"]
    return levels[min(len(levels) - 1, sales // 200)]


def profile(world: World, vendor: Vendor) -> Response:
    sales, avg = world.vendor_stats(SITE, vendor.vendor_id)
    ident = world.identities[vendor.identity_id]
    contact = "".join(f"<li class=\"c\">{esc(c)}</li>" for c in vendor.contacts)
    body = (
        f"<div class=\"vendor-card\" data-vendor=\"{vendor.vendor_id}\"><h1 class=\"vendor-name\">{esc(vendor.name)}</h1>"
        "<dl class=\"vendor-stats\">"
        f"<dt>Member since</dt><dd class=\"since\">{vendor.joined_date}</dd>"
        f"<dt>Level</dt><dd class=\"level\">{level(sales)}</dd>"
        f"<dt>Sales</dt><dd class=\"sales\">{sales}</dd>"
        f"<dt>Rating</dt><dd class=\"rating\">{f'{avg:.2f}' if avg else 'n/a'}</dd>"
        f"<dt>Location</dt><dd class=\"loc\">{esc(country(vendor.ships_from))}</dd>"
        "</dl>"
        f"<div class=\"about\">{esc(vendor.profile)}</div>"
        + (f"<ul class=\"contact\">{contact}</ul>" if contact else "")
        + f"<details class=\"pgp\"><summary>PGP public key</summary><textarea class=\"pgp-key\" readonly rows=\"20\">"
        f"{esc(ident.armored or '')}</textarea></details>"
        f"<p><a class=\"all-reviews\" href=\"/u/{vendor.vendor_id}/reviews\">All reviews</a></p>"
        f"<h3>Offers</h3>{offers_table(world, world.active_listings(SITE, vendor_id=vendor.vendor_id))}</div>"
    )
    return html_response(frame(world, vendor.name, body))


def reviews(world: World, vendor: Vendor, page: int) -> Response:
    fbs = world.vendor_feedback(SITE, vendor.vendor_id)
    total = pages(len(fbs), REVIEWS_PER_PAGE)
    if page > total:
        return not_found("No such page")
    items = []
    for fb in fbs[(page - 1) * REVIEWS_PER_PAGE : page * REVIEWS_PER_PAGE]:
        lst = world.listings[(SITE, fb.listing_id)]
        items.append(
            f"<li class=\"review\" id=\"r{fb.feedback_id}\"><span class=\"when\">{world.date_of(fb.day)}</span> "
            f"<span class=\"stars\">{fb.rating}</span>/5 on <a class=\"on\" href=\"/item?id={fb.listing_id}\">"
            f"{esc(lst.title)}</a> &mdash; <q class=\"comment\">{esc(fb.text)}</q> <em class=\"buyer\">{esc(fb.buyer)}</em></li>"
        )
    base = f"/u/{vendor.vendor_id}/reviews"
    nums = " ".join(page_link(base, n, page) for n in range(1, total + 1))
    body = (f"<h2>Reviews for <a class=\"vendor\" href=\"/u/{vendor.vendor_id}\">{esc(vendor.name)}</a></h2>"
            f"<ol class=\"reviews\">{''.join(items)}</ol><div class=\"pages\">Page: {nums}</div>")
    return html_response(frame(world, f"Reviews of {vendor.name}", body))


def page_link(base: str, n: int, page: int) -> str:
    if n == page:
        return f"<b>{n}</b>"
    rel = ' rel="next"' if n == page + 1 else ""
    return f'<a href="{base}?page={n}"{rel}>{n}</a>'


def render(world: World, path: str, query: str) -> Response:
    if path == "/":
        return html_response(home(world))
    if path == "/market":
        return market(world, query_int(query, "cat", -1), query_int(query, "offset", 0))
    if path == "/vendors":
        return vendors(world, query_int(query, "offset", 0))
    if path == "/item":
        return item(world, query_str(query, "id") or "")
    if m := re.fullmatch(r"/u/([a-z0-9]+)(/reviews)?", path):
        vendor = world.vendors.get((SITE, m.group(1)))
        if vendor is None or not vendor.active(world.day):
            return not_found("No such vendor")
        return reviews(world, vendor, query_int(query, "page", 1) or 1) if m.group(2) else profile(world, vendor)
    return not_found()


def wall(kind: str, today: str, delay: float) -> str:
    head = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    if kind == "ddos":
        return (head + f"<meta http-equiv=\"refresh\" content=\"{delay:g}\"><title>Checking your browser</title></head>"
                "<body><div id=\"queue\"><h2>Checking your browser before accessing NordBazaar</h2>"
                "<p>DDoS protection is active. You are in the queue and will be redirected automatically.</p>"
                "</div></body></html>\n")
    if kind == "login":
        return (head + "<title>NordBazaar | Sign in</title></head><body><div id=\"auth\"><h2>Sign in</h2>"
                "<form id=\"signin\" method=\"post\" action=\"/auth\"><input name=\"user\" placeholder=\"username\">"
                "<input name=\"pass\" type=\"password\" placeholder=\"password\">"
                "<img id=\"captcha-img\" src=\"/auth/captcha.svg\" alt=\"captcha\">"
                "<input name=\"captcha\" placeholder=\"Enter the captcha\"><button>Sign in</button></form>"
                f"<small>{today}</small></div></body></html>\n")
    if kind == "rate_limit":
        return (head + "<title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1>"
                "<p>Slow down. You are being rate limited.</p></body></html>\n")
    return (head + "<title>Banned</title></head><body><h1>You have been banned</h1>"
            "<p>Your session was temporarily banned for abusive behaviour.</p></body></html>\n")
