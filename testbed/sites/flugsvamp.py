"""Flugsvamp-like Swedish market: Swedish UI, SEK with BTC equivalent, card/table markup.

URLs: ``/``, ``/kategori/<klass>?sida=N``, ``/saljare?sida=N``, ``/saljare/<slug>``,
``/saljare/<slug>/omdomen?sida=N``, ``/annons/<id>``, ``/login`` (GET form, POST captcha), ``/captcha.svg``.
"""

from __future__ import annotations

import re

from testbed import catalog, rates
from testbed.entities import SITE_SV, Listing, Vendor
from testbed.web import Response, esc, html_response, not_found, pages, query_int, sek, sv_decimal
from testbed.world import World

PER_PAGE = 24
FEEDBACK_PER_PAGE = 20
SITE = SITE_SV


def frame(world: World, title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} – Flugsvamp</title></head><body>\n"
        "<header class=\"topp\"><a class=\"logga\" href=\"/\">Flugsvamp</a> "
        "<nav class=\"meny\"><a href=\"/\">Start</a> <a href=\"/saljare\">Säljare</a></nav>"
        f"<span class=\"serverdatum\">Datum: {world.today}</span></header>\n"
        f"<main>\n{body}\n</main>\n"
        f"<footer class=\"fot\">Flugsvamp – svensk marknadsplats. Serverdatum {world.today}. "
        "Betala alltid via escrow.</footer>\n</body></html>\n"
    )


def country(code: str) -> str:
    return catalog.text("sv")["countries_sv"].get(code, code)


def pager(base: str, page: int, total_pages: int) -> str:
    parts = [f"<span class=\"sida-info\">Sida {page} av {total_pages}</span>"]
    if page > 1:
        parts.insert(0, f"<a class=\"foregaende\" href=\"{base}?sida={page - 1}\">« Föregående</a>")
    if page < total_pages:
        parts.append(f"<a class=\"nasta\" href=\"{base}?sida={page + 1}\">Nästa »</a>")
    return "<nav class=\"sidor\">" + " ".join(parts) + "</nav>"


def btc(world: World, amount_sek: float) -> str:
    return sv_decimal(rates.convert(amount_sek, "SEK", "BTC", world.today), 6) + " BTC"


def listing_card(world: World, lst: Listing) -> str:
    vendor = world.vendors[(SITE, lst.vendor_id)]
    return (
        f"<div class=\"annons-kort\" data-id=\"{lst.listing_id}\">"
        f"<a class=\"annons-lank\" href=\"/annons/{lst.listing_id}\">{esc(lst.title)}</a> "
        f"<span class=\"pris\">{sek(lst.price)}</span> <span class=\"mangd\">{esc(lst.qty_text)}</span> "
        f"<span class=\"av\">av <a class=\"saljare-lank\" href=\"/saljare/{vendor.vendor_id}\">{esc(vendor.name)}</a>"
        f"</span></div>"
    )


def home(world: World) -> str:
    items = []
    for key, cls in catalog.classes().items():
        count = len(world.active_listings(SITE, key))
        items.append(f"<li><a class=\"kategori-lank\" href=\"/kategori/{key}\">{esc(cls['sv'])}</a> ({count})</li>")
    newest = "".join(listing_card(world, lst) for lst in world.active_listings(SITE)[:10])
    body = (
        "<h1>Välkommen till Flugsvamp</h1><p>Sveriges marknad. Alla priser i SEK, betalning i Bitcoin.</p>"
        f"<h2>Kategorier</h2><ul class=\"kategorier\">{''.join(items)}</ul>"
        f"<p><a class=\"alla-saljare\" href=\"/saljare\">Alla säljare</a></p>"
        f"<h2>Senaste annonserna</h2><div class=\"annons-lista\">{newest}</div>"
    )
    return frame(world, "Start", body)


def category(world: World, key: str, page: int) -> Response:
    if key not in catalog.classes():
        return not_found("Kategorin finns inte")
    items = world.active_listings(SITE, key)
    total = pages(len(items), PER_PAGE)
    if page > total:
        return not_found("Sidan finns inte")
    chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
    name = catalog.classes()[key]["sv"]
    body = (
        f"<h1 class=\"kategori-namn\">{esc(name)}</h1><p class=\"antal\">{len(items)} annonser</p>"
        f"<div class=\"annons-lista\">{''.join(listing_card(world, lst) for lst in chunk)}</div>"
        + pager(f"/kategori/{key}", page, total)
    )
    return html_response(frame(world, name, body))


def vendor_list(world: World, page: int) -> Response:
    vendors = world.active_vendors(SITE)
    total = pages(len(vendors), 50)
    if page > total:
        return not_found("Sidan finns inte")
    rows = "".join(
        f"<li><a class=\"saljare-lank\" href=\"/saljare/{v.vendor_id}\">{esc(v.name)}</a> – {esc(country(v.ships_from))}</li>"
        for v in vendors[(page - 1) * 50 : page * 50]
    )
    body = f"<h1>Säljare</h1><ul class=\"saljarlista\">{rows}</ul>" + pager("/saljare", page, total)
    return html_response(frame(world, "Säljare", body))


def level(sales: int) -> str:
    levels = catalog.text("sv")["levels"]
    return levels[min(len(levels) - 1, sales // 250)]


def listing_page(world: World, listing_id: str) -> Response:
    lst = world.listings.get((SITE, listing_id))
    if lst is None or not lst.active(world.day):
        return not_found("Annonsen finns inte längre")
    vendor = world.vendors[(SITE, lst.vendor_id)]
    fbs = world.listing_feedback(SITE, listing_id)
    avg = sv_decimal(sum(f.rating for f in fbs) / len(fbs), 2) if fbs else "–"
    cls = catalog.classes()[lst.sclass]["sv"]
    stock = f"{lst.stock} st" if lst.stock > 0 else "Slut i lager"
    ships = "".join(
        f"<li class=\"fraktval\">{esc(label)} – {sek(price)}</li>" for label, price in lst.shipping
    )
    body = (
        f"<div class=\"annons\" data-id=\"{lst.listing_id}\">"
        f"<div class=\"brodsmulor\"><a href=\"/\">Start</a> › <a class=\"kategori\" href=\"/kategori/{lst.sclass}\">"
        f"{esc(cls)}</a></div>"
        f"<h1 class=\"annons-titel\">{esc(lst.title)}</h1>"
        "<table class=\"annons-fakta\">"
        f"<tr><th>Annons-ID</th><td class=\"annons-id\">{lst.listing_id}</td></tr>"
        f"<tr><th>Säljare</th><td><a class=\"saljare\" href=\"/saljare/{vendor.vendor_id}\">{esc(vendor.name)}</a></td></tr>"
        f"<tr><th>Pris</th><td><span class=\"pris-sek\">{sek(lst.price)}</span> "
        f"<span class=\"pris-btc\">≈ {btc(world, lst.price)}</span></td></tr>"
        f"<tr><th>Mängd</th><td class=\"mangd\">{esc(lst.qty_text)}</td></tr>"
        f"<tr><th>I lager</th><td class=\"lager\">{stock}</td></tr>"
        f"<tr><th>Skickas från</th><td class=\"skickas-fran\">{esc(country(lst.ships_from))}</td></tr>"
        f"<tr><th>Skickas till</th><td class=\"skickas-till\">{esc(', '.join(country(c) for c in lst.ships_to))}</td></tr>"
        f"<tr><th>Omdömen</th><td><span class=\"antal-omdomen\">{len(fbs)} omdömen</span>, snittbetyg "
        f"<span class=\"betyg\">{avg}</span>/5</td></tr>"
        f"<tr><th>Tillagd</th><td class=\"tillagd\">{world.date_of(lst.first_day)}</td></tr>"
        "</table>"
        f"<h2>Frakt</h2><ul class=\"frakt\">{ships}</ul>"
        f"<h2>Beskrivning</h2><div class=\"beskrivning\">{esc(lst.description)}</div>"
        f"<p><a class=\"saljarens-omdomen\" href=\"/saljare/{vendor.vendor_id}/omdomen\">Läs säljarens omdömen</a></p>"
        "</div>"
    )
    return html_response(frame(world, lst.title, body))


def vendor_page(world: World, vendor: Vendor) -> Response:
    sales, avg = world.vendor_stats(SITE, vendor.vendor_id)
    fbs = world.vendor_feedback(SITE, vendor.vendor_id)
    ident = world.identities[vendor.identity_id]
    contacts = "".join(f"<li class=\"kontaktuppgift\">{esc(c)}</li>" for c in vendor.contacts)
    offers = "".join(
        f"<li><a class=\"annons-lank\" href=\"/annons/{lst.listing_id}\">{esc(lst.title)}</a> – {sek(lst.price)}</li>"
        for lst in world.active_listings(SITE, vendor_id=vendor.vendor_id)
    )
    body = (
        f"<div class=\"profil\" data-saljare=\"{vendor.vendor_id}\"><h1 class=\"saljarnamn\">{esc(vendor.name)}</h1>"
        "<ul class=\"profil-fakta\">"
        f"<li>Medlem sedan: <span class=\"medlem-sedan\">{vendor.joined_date}</span></li>"
        f"<li>Nivå: <span class=\"niva\">{level(sales)}</span></li>"
        f"<li>Försäljningar: <span class=\"forsaljningar\">{sales}</span></li>"
        f"<li>Betyg: <span class=\"betyg\">{sv_decimal(avg, 2) if avg else '–'}</span>/5 "
        f"(<a class=\"omdomen-lank\" href=\"/saljare/{vendor.vendor_id}/omdomen\">{len(fbs)} omdömen</a>)</li>"
        f"<li>Skickar från: <span class=\"skickar-fran\">{esc(country(vendor.ships_from))}</span></li>"
        "</ul>"
        f"<h2>Om oss</h2><div class=\"presentation\">{esc(vendor.profile)}</div>"
        f"<h2>Kontakt</h2><ul class=\"kontakt\">{contacts}</ul>"
        f"<h2>PGP-nyckel</h2><pre class=\"pgp\">{esc(ident.armored or '')}</pre>"
        f"<h2>Annonser</h2><ul class=\"saljarens-annonser\">{offers}</ul></div>"
    )
    return html_response(frame(world, vendor.name, body))


def feedback_page(world: World, vendor: Vendor, page: int) -> Response:
    fbs = world.vendor_feedback(SITE, vendor.vendor_id)
    total = pages(len(fbs), FEEDBACK_PER_PAGE)
    if page > total:
        return not_found("Sidan finns inte")
    rows = []
    for fb in fbs[(page - 1) * FEEDBACK_PER_PAGE : page * FEEDBACK_PER_PAGE]:
        lst = world.listings[(SITE, fb.listing_id)]
        rows.append(
            f"<tr class=\"omdome\" data-id=\"{fb.feedback_id}\"><td class=\"datum\">{world.date_of(fb.day)}</td>"
            f"<td class=\"betyg\">{fb.rating}/5</td>"
            f"<td class=\"annons\"><a href=\"/annons/{fb.listing_id}\">{esc(lst.title)}</a></td>"
            f"<td class=\"kommentar\">{esc(fb.text)}</td><td class=\"kopare\">{esc(fb.buyer)}</td></tr>"
        )
    body = (
        f"<h1>Omdömen för <a class=\"saljare\" href=\"/saljare/{vendor.vendor_id}\">{esc(vendor.name)}</a></h1>"
        "<table class=\"omdomen-tabell\"><tr><th>Datum</th><th>Betyg</th><th>Annons</th><th>Kommentar</th>"
        f"<th>Köpare</th></tr>{''.join(rows)}</table>"
        + pager(f"/saljare/{vendor.vendor_id}/omdomen", page, total)
    )
    return html_response(frame(world, f"Omdömen – {vendor.name}", body))


def render(world: World, path: str, query: str) -> Response:
    page = query_int(query, "sida", 1) or 1
    if path == "/":
        return html_response(home(world))
    if m := re.fullmatch(r"/kategori/([a-z_]+)", path):
        return category(world, m.group(1), page)
    if m := re.fullmatch(r"/annons/(\d+)", path):
        return listing_page(world, m.group(1))
    if path == "/saljare":
        return vendor_list(world, page)
    if m := re.fullmatch(r"/saljare/([a-z0-9]+)(/omdomen)?", path):
        vendor = world.vendors.get((SITE, m.group(1)))
        if vendor is None or not vendor.active(world.day):
            return not_found("Säljaren finns inte")
        return feedback_page(world, vendor, page) if m.group(2) else vendor_page(world, vendor)
    return not_found()


def wall(kind: str, today: str, delay: float) -> str:
    """The interstitial pages: ddos, login, rate_limit, ban (all in Swedish)."""
    head = "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
    if kind == "ddos":
        return (head + f"<meta http-equiv=\"refresh\" content=\"{delay:g}\"><title>Kö – DDoS-skydd</title></head><body>"
                "<div class=\"ddos-queue\"><h1>Du står i kö</h1><p>Flugsvamp skyddas mot DDoS-attacker. "
                f"Vänta {delay:g} sekund, sidan laddas om automatiskt.</p></div></body></html>\n")
    if kind == "login":
        return (head + "<title>Logga in – Flugsvamp</title></head><body><div class=\"inloggning\">"
                "<h1>Logga in</h1><p>Du måste vara inloggad för att se marknaden.</p>"
                "<form class=\"login\" method=\"post\" action=\"/login\">"
                "<label>Användarnamn <input name=\"anvandarnamn\"></label>"
                "<label>Lösenord <input type=\"password\" name=\"losenord\"></label>"
                "<img class=\"captcha\" src=\"/captcha.svg\" alt=\"captcha\">"
                "<label>Skriv tecknen i bilden <input name=\"captcha\"></label>"
                "<button type=\"submit\">Logga in</button></form>"
                f"<p class=\"datum\">{today}</p></div></body></html>\n")
    if kind == "rate_limit":
        return (head + "<title>429 För många förfrågningar</title></head><body><h1>För många förfrågningar</h1>"
                "<p>Du skickar förfrågningar för snabbt. Vänta en stund och försök igen.</p></body></html>\n")
    return (head + "<title>Åtkomst nekad</title></head><body><div class=\"ban\"><h1>Åtkomst nekad</h1>"
            "<p>Din anslutning har blockerats tillfälligt på grund av misstänkt aktivitet.</p></div></body></html>\n")
