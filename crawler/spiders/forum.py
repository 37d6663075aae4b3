from crawler.spiders.adapter_spider import AdapterSpider


class ForumSpider(AdapterSpider):
    """Crawls a forum adapter: sections, paginated threads, posts."""

    name = "forum"
    kinds = ("forum",)
