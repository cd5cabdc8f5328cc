"""Lookalike audiences: rank the contacts of one country by how much they look like a seed.

Method (docs/lookalike.md has the reasoning and limits):

1. Every contact is a set of binary features: each tag (`tag:vip`), its tier (`tier:pro`),
   e-mail-open and last-seen recency bands (`emailOpen:8-30d`, `seen:never`), each event
   name fired in the last 90 days (`event:checkout_started`) and a 90-day activity band
   (`events90:6-20`).
2. Feature frequencies are counted in the seed and in the eligible population (the
   country's contacts minus the seed), Laplace-smoothed.
3. A contact's score is the log-likelihood ratio of "drawn from the seed" against "drawn
   from the population" under feature independence (Bernoulli naive Bayes): the sum over
   its features of logit(p_seed) − logit(p_population). Absent features only add a
   constant, so they drop out of the ranking.
4. The top `round(ratio × eligible)` contacts are kept; equal scores go to the smaller id.

Memory is bounded: contacts, seed ids and per-user event summaries are streamed in id
order and merged; only the feature counts and a heap of the k best are held.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from audiences.clock import as_utc
from audiences.custom_audiences.repository import CustomAudienceRepository
from audiences.tenancy import TenantScope

LOOKBACK_DAYS = 90
RECENCY_BANDS = ((7, "0-7d"), (30, "8-30d"), (90, "31-90d"))
ACTIVITY_BANDS = ((0, "0"), (5, "1-5"), (20, "6-20"))
CONTACT_FIELDS = ("tags", "tier", "lastEmailOpenedAt", "lastSeenAt")


def recency_band(at: object, as_of: dt.datetime) -> str:
    if not isinstance(at, dt.datetime):
        return "never"
    days = (as_of - as_utc(at)).total_seconds() / 86400
    for limit, band in RECENCY_BANDS:
        if days <= limit:
            return band
    return ">90d"


def activity_band(events: int) -> str:
    for limit, band in ACTIVITY_BANDS:
        if events <= limit:
            return band
    return "21+"


def contact_features(
    contact: Mapping[str, Any], mix: Mapping[str, Any] | None, as_of: dt.datetime
) -> frozenset[str]:
    """The features of one contact; `mix` is its 90-day event summary (`names`, `n`) or None."""
    found: set[str] = set()
    tags = contact.get("tags")
    if isinstance(tags, list):
        found.update(f"tag:{t}" for t in tags if isinstance(t, str))
    tier = contact.get("tier")
    if isinstance(tier, str | int) and not isinstance(tier, bool):
        found.add(f"tier:{tier}")
    found.add(f"emailOpen:{recency_band(contact.get('lastEmailOpenedAt'), as_of)}")
    found.add(f"seen:{recency_band(contact.get('lastSeenAt'), as_of)}")
    names = mix.get("names", []) if mix else []
    found.update(f"event:{name}" for name in names if isinstance(name, str))
    found.add(f"events90:{activity_band(int(mix.get('n', 0)) if mix else 0)}")
    return frozenset(found)


@dataclass(slots=True)
class FeatureCounts:
    population: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, features: frozenset[str]) -> None:
        self.population += 1
        self.counts.update(features)

    def share(self, feature: str) -> float:
        """Laplace-smoothed share of the population having `feature`."""
        return (self.counts[feature] + 1) / (self.population + 2)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def feature_weights(seed: FeatureCounts, population: FeatureCounts) -> dict[str, float]:
    return {
        f: _logit(seed.share(f)) - _logit(population.share(f))
        for f in sorted(set(seed.counts) | set(population.counts))
    }


def similarity(features: frozenset[str], weights: Mapping[str, float]) -> float:
    # Summed in sorted order so the float result does not depend on set iteration order.
    return math.fsum(weights.get(f, 0.0) for f in sorted(features))


def member_count(ratio: float, eligible: int) -> int:
    """round(ratio × eligible), halves rounded up."""
    return math.floor(ratio * eligible + 0.5)


@dataclass(frozen=True, slots=True)
class _Ranked:
    score: float
    contact_id: str

    def __lt__(self, other: _Ranked) -> bool:
        # "Worse than": a lower score, or the same score and a larger id.
        if self.score != other.score:
            return self.score < other.score
        return self.contact_id > other.contact_id


async def _without(
    contacts: AsyncIterator[dict[str, Any]], excluded_ids: AsyncIterator[str]
) -> AsyncIterator[dict[str, Any]]:
    """`contacts` minus `excluded_ids`; both in id order."""
    excluded = await anext(excluded_ids, None)
    async for contact in contacts:
        cid = str(contact["id"])
        while excluded is not None and excluded < cid:
            excluded = await anext(excluded_ids, None)
        if excluded != cid:
            yield contact


async def _with_mix(
    contacts: AsyncIterator[dict[str, Any]], mixes: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each contact with its event summary; both streams in id order."""
    mix = await anext(mixes, None)
    async for contact in contacts:
        cid = str(contact["id"])
        while mix is not None and str(mix["_id"]) < cid:
            mix = await anext(mixes, None)
        yield contact, (mix if mix is not None and str(mix["_id"]) == cid else None)


@dataclass(frozen=True, slots=True)
class LookalikeResult:
    member_ids: list[str]
    eligible: int
    seed_size: int


class LookalikeRanker:
    """One lookalike computation for a seed filter, a country and an instant."""

    def __init__(
        self,
        repo: CustomAudienceRepository,
        scope: TenantScope,
        *,
        seed_filter: Mapping[str, Any],
        country: str,
        as_of: dt.datetime,
        timeout_ms: int,
    ) -> None:
        self._repo = repo
        self._scope = scope
        self._seed_filter = dict(seed_filter)
        self._country = country
        self._as_of = as_of
        self._timeout_ms = timeout_ms

    def _mixes(self) -> AsyncIterator[dict[str, Any]]:
        return self._repo.event_mix(
            self._scope,
            since=self._as_of - dt.timedelta(days=LOOKBACK_DAYS),
            until=self._as_of,
            timeout_ms=self._timeout_ms,
        )

    def _stream(self, query: Mapping[str, Any], fields: tuple[str, ...]) -> AsyncIterator[dict[str, Any]]:
        return self._repo.contacts(self._scope, query, fields=fields, timeout_ms=self._timeout_ms)

    async def _seed_ids(self) -> AsyncIterator[str]:
        async for contact in self._stream(self._seed_filter, ()):
            yield str(contact["id"])

    def _featured(self, *, seed: bool) -> AsyncIterator[tuple[str, frozenset[str]]]:
        """(contact id, features) of the seed, or of the eligible population."""
        if seed:
            contacts = self._stream(self._seed_filter, CONTACT_FIELDS)
        else:
            contacts = _without(self._stream({"country": self._country}, CONTACT_FIELDS), self._seed_ids())
        return self._with_features(_with_mix(contacts, self._mixes()))

    async def _with_features(
        self, joined: AsyncIterator[tuple[dict[str, Any], dict[str, Any] | None]]
    ) -> AsyncIterator[tuple[str, frozenset[str]]]:
        async for contact, mix in joined:
            yield str(contact["id"]), contact_features(contact, mix, self._as_of)

    async def _counts(self, *, seed: bool) -> FeatureCounts:
        counts = FeatureCounts()
        async for _, features in self._featured(seed=seed):
            counts.add(features)
        return counts

    async def rank(self, ratio: float) -> LookalikeResult:
        """The top `ratio` share of the eligible contacts (none when the seed is empty)."""
        seed = await self._counts(seed=True)
        if seed.population == 0:
            return LookalikeResult([], 0, 0)
        population = await self._counts(seed=False)
        keep = member_count(ratio, population.population)
        if keep == 0:
            return LookalikeResult([], population.population, seed.population)
        weights = feature_weights(seed, population)
        best: list[_Ranked] = []
        async for contact_id, features in self._featured(seed=False):
            ranked = _Ranked(similarity(features, weights), contact_id)
            if len(best) < keep:
                heapq.heappush(best, ranked)
            elif best[0] < ranked:
                heapq.heapreplace(best, ranked)
        return LookalikeResult(sorted(r.contact_id for r in best), population.population, seed.population)
