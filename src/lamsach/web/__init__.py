"""The campaign portal: FastAPI application, server-rendered pages and the JSON API."""
