"""This app's routes under /api/v1/ (gathered in config/api_v1.py)."""

urlpatterns = []
