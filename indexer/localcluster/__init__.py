"""A real local Elasticsearch 8.x cluster on 127.0.0.1 (tests, demo): see :mod:`indexer.localcluster.cluster`."""

from indexer.localcluster.cluster import (
    ES_USER,
    ES_VERSION,
    ClusterState,
    EsNode,
    LocalCluster,
    LocalClusterError,
    down_from_state,
    ensure_distribution,
    es_rss_bytes,
    status_from_state,
)

__all__ = [
    "ES_USER",
    "ES_VERSION",
    "ClusterState",
    "EsNode",
    "LocalCluster",
    "LocalClusterError",
    "down_from_state",
    "ensure_distribution",
    "es_rss_bytes",
    "status_from_state",
]
