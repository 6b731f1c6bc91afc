"""The API keys the test deployments accept (test values, not secrets)."""

KEY_A = "test-key-a-7c1f0e9b2d4a6c8e"
KEY_B = "test-key-b-1a3b5c7d9e0f2a4b"
