"""Tillskott Nordic: a client-rendered Swedish open-web shop (doping / NPS), SEK prices, Swish.

The HTML shell has NO products: an inline script fetches ``/api/products`` (JSON) and renders cards.
Selectors after rendering (Playwright): ``#produkter .produktkort`` (``data-id``), ``.produktnamn``,
``.pris`` ("450 kr"), ``.mangd``, ``.lager`` ("I lager: 12"), ``a.produktlank`` (``/produkt/<id>``).
Product pages ``/produkt/<id>`` are shells too; they fetch ``/api/products/<id>`` and render
``#produkt .produktnamn``, ``.pris``, ``.mangd``, ``.lager``, ``.beskrivning``.
"""

from __future__ import annotations

import re

from testbed import catalog
from testbed.entities import SITE_SHOP, Listing
from testbed.web import Response, esc, html_response, json_response, not_found
from testbed.world import World

SITE = SITE_SHOP

SCRIPT = """
<script>
(function () {
  function card(p) {
    var d = document.createElement('div');
    d.className = 'produktkort'; d.setAttribute('data-id', p.id);
    d.innerHTML = '<h3 class="produktnamn"></h3><span class="pris"></span> <span class="mangd"></span> ' +
      '<span class="lager"></span> <a class="produktlank">Visa</a><p class="beskrivning"></p>';
    d.querySelector('.produktnamn').textContent = p.name;
    d.querySelector('.pris').textContent = p.price_sek + ' kr';
    d.querySelector('.mangd').textContent = p.quantity;
    d.querySelector('.lager').textContent = 'I lager: ' + p.stock;
    d.querySelector('.produktlank').setAttribute('href', '/produkt/' + p.id);
    d.querySelector('.beskrivning').textContent = p.description;
    return d;
  }
  var box = document.getElementById('BOX');
  fetch('API').then(function (r) { return r.json(); }).then(function (data) {
    var items = Array.isArray(data) ? data : [data];
    box.innerHTML = '';
    items.forEach(function (p) { box.appendChild(card(p)); });
    box.setAttribute('data-loaded', 'true');
  });
})();
</script>
"""


def product_json(world: World, lst: Listing) -> dict:
    return {
        "id": lst.listing_id,
        "name": lst.title,
        "price_sek": lst.price,
        "currency": "SEK",
        "quantity": lst.qty_text,
        "stock": lst.stock,
        "category": catalog.classes()[lst.sclass]["sv"],
        "description": lst.description,
        "updated": world.today,
    }


def shell(world: World, title: str, box_id: str, api: str) -> str:
    shop = catalog.forum_shop()["shop"]
    script = SCRIPT.replace("BOX", box_id).replace("API", api)
    return (
        "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} | {esc(shop['name'])}</title></head><body>\n"
        f"<header><h1>{esc(shop['name'])}</h1><p class=\"tagline\">{esc(shop['tagline'])}</p></header>\n"
        f"<main><div id=\"{box_id}\" class=\"produktgrid\"><noscript>Aktivera JavaScript för att se produkterna."
        "</noscript><p class=\"laddar\">Laddar produkter…</p></div></main>\n"
        f"<footer><p>{esc(shop['payment'])}</p><p class=\"datum\">Uppdaterad {world.today}</p></footer>\n"
        f"{script}</body></html>\n"
    )


def render(world: World, path: str, query: str) -> Response:
    products = world.active_listings(SITE)
    if path == "/":
        return html_response(shell(world, "Produkter", "produkter", "/api/products"))
    if path == "/api/products":
        return json_response([product_json(world, p) for p in products])
    if m := re.fullmatch(r"/api/products/(p\d+)", path):
        found = [p for p in products if p.listing_id == m.group(1)]
        return json_response(product_json(world, found[0])) if found else not_found()
    if m := re.fullmatch(r"/produkt/(p\d+)", path):
        if not any(p.listing_id == m.group(1) for p in products):
            return not_found("Produkten finns inte")
        return html_response(shell(world, "Produkt", "produkt", f"/api/products/{m.group(1)}"))
    return not_found()
