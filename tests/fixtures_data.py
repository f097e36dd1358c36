"""Fixtures that build small synthetic datasets and stores for the tests."""
