"""Running the pinned open-source Portkey gateway (``gateway/`` in the repository) on loopback."""

from app.gateway.process import GATEWAY_VERSION, GatewayProcess, gateway_command, gateway_dir

__all__ = ["GATEWAY_VERSION", "GatewayProcess", "gateway_command", "gateway_dir"]
