"""Twilio Conversations v1 compatibility tests.

A package, so that its conftest.py does not shadow tests/conftest.py (which other tests import).
"""
