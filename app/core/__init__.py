"""The routing core: providers, settings, chains, the failover loop, the transport seam and results."""
