"""Fixtures for tests that open pages in headless Chromium, with Leaflet served locally."""
