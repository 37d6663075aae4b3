from crawler.spiders.adapter_spider import AdapterSpider


class MarketSpider(AdapterSpider):
    """Crawls a market adapter: categories, listings, vendors, feedback."""

    name = "market"
    kinds = ("market", "shop")
