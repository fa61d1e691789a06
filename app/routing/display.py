"""What a role or route sends to the gateway: its compiled Portkey config(s), keys redacted (``sophia routes show``).

A strategy decided wholly by the gateway compiles to one config. Decisions taken before sending
(``complexity``; a sticky loadbalance's variant) give one config per outcome: a config per
complexity label, and the loadbalance as the gateway runs it when the request has no sticky key
(with the key, the config holds the chosen variant alone).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from app.core.keys import Credential, KeyKind, Resolution
from app.core.routing import Router
from app.routing.nodes import LoadBalance, walk
from app.routing.policy import RoutingPolicy, Strategy, plan

_SECRET_FIELDS = ("api_key", "virtual_key")


def _display_router(settings: Any) -> Router:
    """A router that also builds targets for providers without a key (their key shown as what to set)."""
    router = Router(settings)
    for name, resolution in list(router.resolutions.items()):
        if not resolution.configured:
            hint = SecretStr(f"<{' or '.join(resolution.env_vars)} not set>")
            router.resolutions[name] = Resolution(Credential(KeyKind.API_KEY, hint), resolution.reason,
                                                  resolution.env_vars)
    return router


def redact(config: Any) -> Any:
    """``config`` with every key replaced by ``***`` (hints about keys not set are kept)."""
    if isinstance(config, dict):
        return {k: ("***" if k in _SECRET_FIELDS and isinstance(v, str) and not v.startswith("<") else redact(v))
                for k, v in config.items()}
    if isinstance(config, list):
        return [redact(v) for v in config]
    return config


def compiled_configs(strategy: Strategy, settings: Any) -> dict[str, Any]:
    """Each outcome's Portkey config (redacted), keyed by the client-side decision that leads to it."""
    router = _display_router(settings)
    outcomes = ["simple", "complex"] if strategy.needs_complexity else [None]
    configs: dict[str, Any] = {}
    for label in outcomes:
        planned = plan(strategy, None, [{"role": "user", "content": "-"}], {"complexity": label} if label else {},
                       {}, lambda _: 0.0, 0.5)
        chain = router.build_tree(planned.requested)
        config = json.loads(router.portkey_config(chain, {"messages": []}))
        configs[f"complexity={label}" if label else "config"] = redact(config)
    return configs


def show(policy: RoutingPolicy, name: str, settings: Any) -> dict[str, Any]:
    """``name`` (a route, or a role ``domain/role``) as ``sophia routes show`` prints it."""
    if "/" in name:
        strategy, kind = policy.role(name).strategy, "role"
    else:
        strategy, kind = policy.route(name).strategy, "route"
    before = []
    if strategy.needs_complexity:
        before.append("complexity: the local classifier labels the request simple or complex (metadata.complexity) "
                      "and the matching config is sent")
    before.extend(f"sticky {node.sticky}: a request with it gets one variant by hash (the config then holds "
                  "that variant alone); without it the gateway picks by weight, as shown"
                  for node in walk(strategy.root) if isinstance(node, LoadBalance) and node.sticky)
    return {"name": name, "kind": kind, "policy_version": policy.version, "decided_before_sending": before,
            "configs": compiled_configs(strategy, settings)}
