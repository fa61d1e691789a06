"""Artemis: the technical agents (code review, security, performance, vulnerabilities) and their factory."""
