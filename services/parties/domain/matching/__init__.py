"""Duplicate matching of parties: pure, explainable, with learned weights (issue #4).

The parties service uses four things:

* ``person_record`` / ``organization_record`` (or ``MatchRecord`` directly for already normalized
  register data) to turn a party into what the matcher compares;
* ``blocking_keys(record)``: ``index`` keys to store per party, ``probe`` keys to look candidates up by;
* ``Matcher().check(record, candidates, known_distinct=..., frequencies=...)`` on create: "duplicate"
  means refuse with ALREADY_EXISTS, "possible_duplicate" means open a review case (``frequencies``, the
  register's ``NameFrequencies``, makes rare names weigh more; without it average weights are used);
* ``find_duplicates(records, ...)`` for a whole register or an incoming file: clusters, pairs to
  review, oversized blocks, with a progress callback.

Modules: ``records`` (input), ``namekeys`` and ``features`` (precomputed keys), ``comparators``
(field levels), ``frequencies`` (name frequencies of a register), ``model`` and ``estimation``
(Fellegi–Sunter), ``blocking``, ``matcher``, ``clusters``, ``results`` (serializable answers).
Parameters live in ``params.json``, written by ``bench/train_matcher.py``.
"""

from services.parties.domain.matching.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    DEFAULT_MAX_NAME_BLOCK_SIZE,
    BlockIndex,
    BlockingKeys,
    blocking_keys,
    candidate_pairs,
)
from services.parties.domain.matching.clusters import ProgressCallback, find_duplicates
from services.parties.domain.matching.comparators import FIELDS, ORGANIZATION_FIELDS, PERSON_FIELDS, FieldSpec
from services.parties.domain.matching.features import Features
from services.parties.domain.matching.frequencies import NameFrequencies
from services.parties.domain.matching.matcher import KnownDistinct, Matcher, default_model
from services.parties.domain.matching.model import KindModel, MatchModel, Scorer, match_probability
from services.parties.domain.matching.records import (
    ORGANIZATION,
    PERSON,
    MatchRecord,
    organization_record,
    person_record,
)
from services.parties.domain.matching.results import (
    CheckResult,
    Cluster,
    Decision,
    DedupResult,
    FieldComparison,
    OversizedBlock,
    PairScore,
    Thresholds,
)

__all__ = [
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_MAX_NAME_BLOCK_SIZE",
    "FIELDS",
    "ORGANIZATION",
    "ORGANIZATION_FIELDS",
    "PERSON",
    "PERSON_FIELDS",
    "BlockIndex",
    "BlockingKeys",
    "CheckResult",
    "Cluster",
    "Decision",
    "DedupResult",
    "Features",
    "FieldComparison",
    "FieldSpec",
    "KindModel",
    "KnownDistinct",
    "MatchModel",
    "MatchRecord",
    "Matcher",
    "NameFrequencies",
    "OversizedBlock",
    "PairScore",
    "ProgressCallback",
    "Scorer",
    "Thresholds",
    "blocking_keys",
    "candidate_pairs",
    "default_model",
    "find_duplicates",
    "match_probability",
    "organization_record",
    "person_record",
]
