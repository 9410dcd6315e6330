"""tfident.rank: order eligible households for the coordinators (``config/ranking.yaml``)."""

from tfident.rank.ranking import (
    CANDIDATE_SCHEMA,
    CostModel,
    RankingConfig,
    SeverityWeights,
    load_ranking_config,
    rank_candidates,
)

__all__ = [
    "CANDIDATE_SCHEMA",
    "CostModel",
    "RankingConfig",
    "SeverityWeights",
    "load_ranking_config",
    "rank_candidates",
]
