from django.contrib.auth.backends import ModelBackend


class PhoneBackend(ModelBackend):
    """Password login by mobile number (staff in the admin); the manager hashes the number."""
