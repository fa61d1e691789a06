"""What both agent factories share: agents, role chains, prompts, results, pricing, health."""
