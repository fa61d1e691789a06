"""Local HTTP stand-ins for the LLM providers, speaking each provider's real wire format.

Each provider listens on its own 127.0.0.1 port under ``/<name>/v1``; faults are switched
at run time through :class:`SimulatorCluster` (in-process) or the control plane
(:class:`SimulatorControl`, ``python -m app.simulators``, :func:`start_simulators_process`).
"""

from .cluster import SimulatorCluster
from .control import SimulatorControl
from .faults import FAULT_MODES, Fault, FaultMode
from .process import SimulatorProcess, start_simulators_process
from .providers import PROVIDER_NAMES, PROVIDERS, ProviderSpec

__all__ = [
    "FAULT_MODES",
    "PROVIDERS",
    "PROVIDER_NAMES",
    "Fault",
    "FaultMode",
    "ProviderSpec",
    "SimulatorCluster",
    "SimulatorControl",
    "SimulatorProcess",
    "start_simulators_process",
]
