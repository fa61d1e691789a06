"""Routing policies as data: roles and routes from a routing file, compiled onto Portkey's strategies.

    holder = PolicyHolder(settings)            # built-in roles + SOPHIA_ROUTING_FILE + ROLE_CHAINS
    policy = holder.current                    # immutable; holder.reload() swaps in a new one
    route = policy.route("support_ab")         # or policy.role("artemis/test_writer")
    plan = plan(route.strategy, route.name, messages, metadata, params, classify, 0.5)

The file's vocabulary is Portkey's (``fallback``, ``loadbalance``, ``conditional``, nestable) plus
``complexity``; see the README's "The routing file".
"""

from app.routing.holder import PolicyHolder, reload_on_sighup, watch
from app.routing.loading import RoutingFileError, check_file, load_policy
from app.routing.policy import Output, Role, Route, RoutePlan, RoutingPolicy, Strategy, plan

__all__ = ["Output", "PolicyHolder", "Role", "Route", "RoutePlan", "RoutingFileError", "RoutingPolicy", "Strategy",
           "check_file", "load_policy", "plan", "reload_on_sighup", "watch"]
