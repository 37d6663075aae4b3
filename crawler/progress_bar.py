"""A rich progress bar on stderr, fed by the crawl runner's progress callback (pages and items per site)."""

from __future__ import annotations

from typing import Any


class CrawlProgressBar:
    """A rich progress bar fed by the runner's progress callback (pages per site)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Any:
        self.progress.start()
        return self.update

    def update(self, latest: dict[str, dict[str, Any]]) -> None:
        for site, row in latest.items():
            if site not in self.tasks:
                self.tasks[site] = self.progress.add_task(site, total=None, info="")
            items = row.get("items", {})
            info = f"{row.get('pages', 0)} pages · " + ", ".join(f"{v} {k}" for k, v in items.items())
            done = row.get("event") == "closed"
            self.progress.update(self.tasks[site], completed=row.get("pages", 0),
                                 total=row.get("pages", 0) if done else None, info=info)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
