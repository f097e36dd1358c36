"""Shared pytest configuration: fixtures live in their own modules, loaded here as plugins."""

pytest_plugins = ['fixtures_data', 'fixtures_browser']
