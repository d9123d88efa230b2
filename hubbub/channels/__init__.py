"""Channels: how conversation messages leave and enter Hubbub other than through the API."""
