"""The one HTTP surface (FastAPI): routes, validation, auth, errors, request logs, OpenAPI.

Every entry point serves this same app: Functions Framework (Cloud Run) and Mangum (Lambda).
"""
