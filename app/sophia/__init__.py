"""Sophia: the business agents (market, sales, customer success, finance) and their factory."""
