"""Values that only development and the test suite may fall back on.

They are in the repository, so they are public: config/checks.py refuses to run a production
process (DJANGO_DEBUG off, outside the tests) that still uses any of them.
"""

SECRET_KEY = "dev-only-secret-key-not-for-production"
# Fernet key: url-safe base64 of the 32 bytes b"dev-only-pii-key-not-for-product".
PII_ENCRYPTION_KEY = "ZGV2LW9ubHktcGlpLWtleS1ub3QtZm9yLXByb2R1Y3Q="
PII_HASH_KEY = "dev-only-pii-hash-key"
