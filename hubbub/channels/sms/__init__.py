"""The SMS channel over SMPP 3.4 (docs/sms.md)."""
