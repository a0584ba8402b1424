"""The calls of an AlphaGenome run, source by source: the Atlas first (its SNVs), then the live model (the rest, and
the SNVs the Atlas lacks), each through the one dispatcher with a quota pacer of its own (the Atlas and the live model
are two quotas), each answer committed to the score cache as it arrives.

The dispatcher does what is common (`lib/scoring/dispatch.py`); this module says what each source's answers mean for
the rows and the cache, and turns the two ways a run stops (a refused key, a uniform rejection) into the run's
failure, the same for both sources.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from endobench.lib.scoring import alphagenome_atlas as atlas
from endobench.lib.scoring import alphagenome_live as live
from endobench.lib.scoring.dispatch import Attempt, Dispatcher, DispatchSettings, UniformRejection
from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import QuotaPacer
from endobench.lib.scoring.rpc_errors import RpcFailure, ServiceRefused
from endobench.lib.scoring.score_cache import ATLAS, LIVE, CachedCall, CallKey, ScoreCache
from endobench.resources.alphagenome_rows import Requests, Routing, atlas_key

API_KEY_VARIABLE = "ALPHAGENOME_API_KEY"
TRACK_NOT_IN_OUTPUT = "track_not_in_output"
SERVICE_NAMES = {LIVE: "AlphaGenome", ATLAS: "AlphaGenome Atlas"}


class ApiKeyRefused(dg.Failure):
    """The key is empty, or the service refused it or its project: no request can succeed, so the run stops."""


def refusal_failure(refused: ServiceRefused, api_key: str, server: str) -> ApiKeyRefused:
    failure: RpcFailure = refused.failure
    why = failure.code + (f" {failure.error_reason}" if failure.error_reason else "")
    message = failure.message.replace(api_key, "<secret>") if api_key else failure.message
    return ApiKeyRefused(
        f"the AlphaGenome service refused the API key or its project ({why}: {message[:200]}); set "
        f"{API_KEY_VARIABLE} to a valid key with the API enabled for {server}. "
        "Nothing was recorded for the refused calls; scores already received are kept in the cache.",
        allow_retries=False,
        metadata={"calls_sent": refused.calls, "calls_sent_after_first_refusal": refused.calls_after_refusal},
    )


def dispatch(predictor, source, units: Sequence[Any], *, service: str, cache: ScoreCache, cache_hits: int,
             commit: Callable[[Any, Attempt], None], fail: Callable[[Any, str, bool, str], None],
             log: logging.Logger) -> int:
    """Run one source's calls through the dispatcher, paced at the quota this server's `service` showed; keep the
    quota learned for the next plan. Returns the paid requests sent; raises the run's failure when it must stop."""
    server = predictor.server()
    learned = cache.learned_rate(server, service)
    ceiling = predictor.requests_per_minute if service == LIVE else predictor.atlas_requests_per_minute
    pacer = QuotaPacer(ceiling or None, window_seconds=predictor.quota_window_seconds,
                       known_per_minute=learned[0] if learned else None, concurrency=predictor.max_concurrency)
    progress = ScoringProgress(len(units), cache_hits=cache_hits, write=log.info, label=SERVICE_NAMES[service],
                               noun="variants" if service == LIVE else "calls",
                               every_seconds=predictor.progress_interval_seconds, pace=pacer)
    settings = DispatchSettings(predictor.max_concurrency, predictor.max_retries, predictor.initial_backoff_seconds,
                                predictor.max_backoff_seconds, predictor.quota_patience_seconds,
                                predictor.uniform_rejection_after)
    try:
        Dispatcher(source, pacer, settings, progress).run(units, commit, fail)
    except ServiceRefused as exc:
        raise refusal_failure(exc, predictor.api_key, server) from None
    except UniformRejection as exc:
        raise dg.Failure(
            f"{SERVICE_NAMES[service]} rejected the first {exc.units} {'variants' if service == LIVE else 'calls'} "
            f"alike ({exc.failure.code}: "
            f"{exc.failure.message[:300]}), so the request itself is wrong for every variant; the run stopped "
            "and recorded none of them. Fix the cause (the settings, the model version, the SDK) and run again"
            + (", or score live only (ENDOBENCH_ALPHAGENOME_ATLAS=off)." if service == ATLAS else "."),
            allow_retries=False, metadata={"calls_sent": progress.calls}) from None
    finally:
        if (per_minute := pacer.per_minute()) is not None:
            cache.store_learned_rate(server, per_minute, service)
    return progress.calls


def run_atlas(predictor, session, cache: ScoreCache, requests: Requests, routing: Routing,
              log: logging.Logger) -> int:
    """Ask the Atlas for its variants; what it answers is committed as the Atlas's, what it lacks (or scored in
    another interval) joins the variants to ask live, a REF it refuses is the rows' `ref_mismatch`."""
    pending = [(variant, {atlas_key(k): b for k, b in keys.items()}) for variant, keys in routing.atlas.values()]
    genes = {atlas_key(k): g for k, g in requests.genes_of.items()}
    units = atlas.plan_units(pending, session.atlas_names, session.atlas_catalogue, routing.avi_wanted, genes)
    canonical = {atlas_key(k): k for _, keys in routing.atlas.values() for k in keys}

    def commit(unit: atlas.AtlasUnit, attempt: Attempt) -> None:
        for variant, keys, verdict in zip(unit.variants, unit.keys, attempt.result.verdicts):
            if verdict.avi is not None:
                cache.store_scores(requests.avi_key(str(variant)), {"": verdict.avi})
                routing.avi[str(variant)] = verdict.avi
            for key, by_gene in keys.items():
                if verdict.reason == atlas.REF_MISMATCH:
                    cache.store_failure(key, verdict.reason, "REF is not the genome's base")
                    routing.known[canonical[key]] = CachedCall(verdict.reason, source=ATLAS)
                elif verdict.reason:  # the Atlas lacks it: the live model is asked
                    cache.store_failure(key, verdict.reason)
                    routing.ask_live(variant, canonical[key], by_gene)
                else:
                    asked = unit.gene_ids if by_gene and unit.gene_ids is not None else None
                    scores, strands = verdict.answer.scores[key], verdict.answer.strands[key]
                    cache.store_scores(key, scores, strands, asked=asked)
                    routing.known[canonical[key]] = cache.lookup([key])[key] if asked is not None else \
                        CachedCall("ok", scores=scores, strands=strands, source=ATLAS)

    def fail(unit: atlas.AtlasUnit, reason: str, cacheable: bool, detail: str) -> None:
        for keys in unit.keys:
            for key in keys:
                if cacheable:  # a permanent refusal of the request: recorded, and the variant goes live
                    cache.store_failure(key, reason, detail)
                    routing.ask_live(_variant_of(unit, keys), canonical[key], keys[key])
                else:
                    routing.run_failures[canonical[key]] = (reason, ATLAS)

    return dispatch(predictor, atlas.AtlasSource(session.atlas_stub, session.atlas_catalogue), units, service=ATLAS,
                    cache=cache, cache_hits=len(routing.from_cache), commit=commit, fail=fail, log=log)


def _variant_of(unit: atlas.AtlasUnit, keys: dict) -> Any:
    return unit.variants[next(i for i, k in enumerate(unit.keys) if k is keys)]


def run_live(predictor, client, cache: ScoreCache, routing: Routing, to_call: list, log: logging.Logger) -> int:
    """One `ScoreVariant` call per variant to ask live; each answer committed as the live model's."""
    scorers = {predictor.scorer_for(r).name: predictor.scorer_for(r) for r in sorted(predictor.supported_readouts())}
    units = [_live_unit(variant, keys, scorers) for variant, keys in to_call]
    known = routing.known

    def commit(unit: live.Unit, attempt: Attempt) -> None:
        for key, scores in attempt.result.scores.items():
            strands = attempt.result.strands[key]
            cache.store_scores(key, scores, strands)
            known[key] = CachedCall("ok", scores=scores, strands=strands, source=LIVE)
        for key in attempt.result.track_missing:
            detail = f"no track named {key.track!r} in the response"
            cache.store_failure(key, TRACK_NOT_IN_OUTPUT, detail)
            known[key] = CachedCall(TRACK_NOT_IN_OUTPUT, detail, source=LIVE)

    def fail(unit: live.Unit, reason: str, cacheable: bool, detail: str) -> None:
        for key in unit.keys:
            if cacheable:
                cache.store_failure(key, reason, detail)
                known[key] = CachedCall(reason, detail, source=LIVE)
            else:
                routing.run_failures[key] = (reason, LIVE)

    return dispatch(predictor, live.LiveScoreVariant(client, predictor.interval_length), units, service=LIVE,
                    cache=cache, cache_hits=len(routing.from_cache), commit=commit, fail=fail, log=log)


def _live_unit(variant, keys: dict[CallKey, bool], scorers: dict[str, Any]) -> live.Unit:
    needed = list(dict.fromkeys(k.scorer for k in keys))
    return live.Unit(variant, [scorers[n] for n in needed], list(keys), [needed.index(k.scorer) for k in keys],
                     list(keys.values()))
