"""Snackis: a Flashback-like Swedish forum (public; no login). Markup modelled on Flashback's post layout.

URLs: ``/``, ``/f<section>`` and ``/f<section>p<N>`` (thread lists), ``/t<thread>`` and ``/t<thread>p<N>``.
"""

from __future__ import annotations

import re

from testbed import catalog
from testbed.entities import Thread
from testbed.web import Response, esc, html_response, not_found, pages
from testbed.world import World

THREADS_PER_PAGE = 20
POSTS_PER_PAGE = 12


def frame(world: World, title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} - Snackis</title></head><body>\n"
        f"<div id=\"site-header\"><a href=\"/\">Snackis</a> <span class=\"today\">Idag: {world.today}</span></div>\n"
        f"<div id=\"site-content\">\n{body}\n</div>\n</body></html>\n"
    )


def sections() -> list[dict]:
    return catalog.forum_shop()["forum_sections"]


def visible_threads(world: World, section_id: int) -> list[Thread]:
    def build() -> list[Thread]:
        items = [t for t in world.threads.values() if t.section_id == section_id and world.thread_posts(t.thread_id)]
        return sorted(items, key=lambda t: (-_last(world, t)[0], -_last(world, t)[1], t.thread_id))
    return world.cached(("threads", section_id), build)


def _last(world: World, thread: Thread) -> tuple[int, int]:
    post = world.thread_posts(thread.thread_id)[-1]
    return post.day, post.minute


def stamp(world: World, day: int, minute: int) -> str:
    return f"{world.date_of(day)}, {minute // 60:02d}:{minute % 60:02d}"


def pager(prefix: str, page: int, total: int) -> str:
    links = []
    if page > 1:
        links.append(f"<a rel=\"prev\" href=\"{prefix}{'' if page == 2 else f'p{page - 1}'}\">‹</a>")
    links.append(f"<span class=\"page-info\">Sidan {page} av {total}</span>")
    if page < total:
        links.append(f"<a rel=\"next\" href=\"{prefix}p{page + 1}\">›</a>")
    return "<div class=\"pagination\">" + " ".join(links) + "</div>"


def home(world: World) -> str:
    rows = "".join(
        f"<tr><td><a class=\"section-link\" href=\"/f{s['id']}\">{esc(s['name'])}</a></td>"
        f"<td class=\"threads\">{len(visible_threads(world, s['id']))}</td></tr>" for s in sections()
    )
    return frame(world, "Forum", f"<h1>Snackis</h1><table id=\"forumlist\">{rows}</table>")


def section_page(world: World, section_id: int, page: int) -> Response:
    section = next((s for s in sections() if s["id"] == section_id), None)
    if section is None:
        return not_found("Forumet finns inte")
    threads = visible_threads(world, section_id)
    total = pages(len(threads), THREADS_PER_PAGE)
    if page > total:
        return not_found("Sidan finns inte")
    rows = []
    for t in threads[(page - 1) * THREADS_PER_PAGE : page * THREADS_PER_PAGE]:
        posts = world.thread_posts(t.thread_id)
        rows.append(
            f"<tr class=\"thread\"><td><a id=\"thread_title_{t.thread_id}\" class=\"thread-title\" href=\"/t{t.thread_id}\">"
            f"{esc(t.title)}</a> <span class=\"thread-starter\">{esc(t.author)}</span></td>"
            f"<td class=\"replies\">{len(posts) - 1}</td><td class=\"lastpost\">{stamp(world, *_last(world, t))}</td></tr>"
        )
    body = (f"<h1 class=\"section-title\">{esc(section['name'])}</h1><table id=\"threadslist\">{''.join(rows)}</table>"
            + pager(f"/f{section_id}", page, total))
    return html_response(frame(world, section["name"], body))


def thread_page(world: World, thread_id: int, page: int) -> Response:
    thread = world.threads.get(thread_id)
    posts = world.thread_posts(thread_id)
    if thread is None or not posts:
        return not_found("Tråden finns inte")
    total = pages(len(posts), POSTS_PER_PAGE)
    if page > total:
        return not_found("Sidan finns inte")
    section = next(s for s in sections() if s["id"] == thread.section_id)
    out = []
    for n, post in enumerate(posts[(page - 1) * POSTS_PER_PAGE : page * POSTS_PER_PAGE], (page - 1) * POSTS_PER_PAGE + 1):
        out.append(
            f"<div class=\"post\" id=\"post{post.post_id}\" data-postid=\"{post.post_id}\">"
            f"<div class=\"post-heading\"><span class=\"post-date\">{stamp(world, post.day, post.minute)}</span> "
            f"<a class=\"post-number\" href=\"/sp{post.post_id}\">#{n}</a></div>"
            f"<div class=\"post-user\"><a class=\"post-user-username\" href=\"/u/{catalog.slug(post.author)}\">"
            f"{esc(post.author)}</a></div>"
            f"<div class=\"post_message\" id=\"post_message_{post.post_id}\">{esc(post.text)}</div></div>"
        )
    body = (
        f"<div class=\"breadcrumbs\"><a href=\"/\">Snackis</a> › <a class=\"section-link\" href=\"/f{section['id']}\">"
        f"{esc(section['name'])}</a></div>"
        f"<h1 class=\"thread-title\" data-thread=\"{thread.thread_id}\">{esc(thread.title)}</h1>"
        f"<div id=\"posts\">{''.join(out)}</div>" + pager(f"/t{thread_id}", page, total)
    )
    return html_response(frame(world, thread.title, body))


def render(world: World, path: str, query: str) -> Response:
    if path == "/":
        return html_response(home(world))
    if m := re.fullmatch(r"/f(\d+)(?:p(\d+))?", path):
        return section_page(world, int(m.group(1)), int(m.group(2) or 1))
    if m := re.fullmatch(r"/t(\d+)(?:p(\d+))?", path):
        return thread_page(world, int(m.group(1)), int(m.group(2) or 1))
    return not_found()
